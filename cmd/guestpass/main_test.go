package main

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

func TestCheckConfig(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"check-config", "../../config/dev.yaml"}, &out, &errb); code != 0 {
		t.Fatalf("dev.yaml: exit %d: %s", code, errb.String())
	}
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(bad, []byte("baseURL: http://localhost:8080/\nlisten: nowhere\ntenants: []\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	errb.Reset()
	if code := run(context.Background(), []string{"check-config", bad}, &out, &errb); code != 1 {
		t.Fatalf("bad config: exit %d", code)
	}
	for _, want := range []string{bad + ": baseURL:", bad + ": listen:", bad + ": tenants:"} {
		if !strings.Contains(errb.String(), want) {
			t.Errorf("message lacks %q:\n%s", want, errb.String())
		}
	}
}

func TestGenSecretsAndVersion(t *testing.T) {
	var out, errb bytes.Buffer
	if run(context.Background(), []string{"gen-secrets"}, &out, &errb) != 0 {
		t.Fatal(errb.String())
	}
	for _, k := range []string{"GUESTPASS_COOKIE_HASH_KEY", "GUESTPASS_COOKIE_BLOCK_KEY", "GUESTPASS_CODE_KEY"} {
		if !strings.Contains(out.String(), k) {
			t.Fatalf("gen-secrets lacks %s", k)
		}
	}
	out.Reset()
	if run(context.Background(), []string{"version"}, &out, &errb) != 0 || !strings.HasPrefix(out.String(), "guestpass ") {
		t.Fatalf("version: %q", out.String())
	}
	if run(context.Background(), []string{"nonsense"}, &out, &errb) != 2 {
		t.Fatal("unknown command accepted")
	}
}

func freePort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

const serveConfig = `dev: true
baseURL: http://%ADDR%
listen: %ADDR%
log: {level: info, format: json}
store: {type: memory}
mail: {from: "t <t@example.com>", driver: log}
tenants:
%TENANTS%`

func writeConfig(t *testing.T, path, addr string, tenants ...string) {
	var b strings.Builder
	for _, id := range tenants {
		b.WriteString("  - id: " + id + "\n    clients: [{id: app, secret: s, redirectURIs: [\"http://127.0.0.1:9/cb\"]}]\n")
	}
	s := strings.NewReplacer("%ADDR%", addr, "%TENANTS%", b.String()).Replace(serveConfig)
	if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func status(url string) int {
	resp, err := http.Get(url)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

func eventually(t *testing.T, what string, f func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !f() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// served is the real serve loop, as main runs it, on one config file.
type served struct {
	base   string      // "http://" + the public listener
	logs   *syncBuffer // serve's stdout and stderr
	cancel context.CancelFunc
	done   chan int // serve's exit code
}

// serveAlpha runs serve on a free port with writeConfig's tenant alpha; it
// returns the server, the config's path and the listener's address (to
// rewrite the config for a reload).
func serveAlpha(t *testing.T) (*served, string, string) {
	t.Helper()
	addr := freePort(t)
	path := filepath.Join(t.TempDir(), "c.yaml")
	writeConfig(t, path, addr, "alpha")
	return startServe(t, path, addr), path, addr
}

// startServe runs `serve --config path` in the background and waits until
// the listener at addr answers /healthz. Every serve test starts it the
// same way, so it is written once; a test that fails before stop still
// cancels it (cleanup).
func startServe(t *testing.T, path, addr string) *served {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	s := &served{base: "http://" + addr, logs: &syncBuffer{}, cancel: cancel, done: make(chan int, 1)}
	go func() { s.done <- run(ctx, []string{"serve", "--config", path}, s.logs, s.logs) }()
	eventually(t, "server up", func() bool { return status(s.base+"/healthz") == 200 })
	return s
}

// stop cancels serve (as SIGTERM does) and fails the test unless it stops
// cleanly with exit code 0. The 30 s bound only keeps a hung shutdown
// from hanging the test binary.
func (s *served) stop(t *testing.T) {
	t.Helper()
	s.cancel()
	select {
	case code := <-s.done:
		if code != 0 {
			t.Fatalf("serve exit %d:\n%s", code, s.logs.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop")
	}
}

// TestServeReloadAndShutdown runs the real serve loop: it answers, SIGHUP
// applies a good config, keeps the old one when the new file is bad, and
// cancelling (as SIGTERM does) shuts down cleanly.
func TestServeReloadAndShutdown(t *testing.T) {
	srv, path, addr := serveAlpha(t)
	base, logs := srv.base, srv.logs
	if code := run(context.Background(), []string{"probe", base + "/readyz"}, logs, logs); code != 0 {
		t.Fatalf("probe /readyz: exit %d", code)
	}
	if code := run(context.Background(), []string{"probe", base + "/nosuch"}, logs, logs); code != 1 {
		t.Fatalf("probe of a 404: exit %d", code)
	}
	if s := status(base + "/alpha/.well-known/openid-configuration"); s != 200 {
		t.Fatalf("alpha discovery: %d", s)
	}
	if s := status(base + "/beta/.well-known/openid-configuration"); s != 404 {
		t.Fatalf("beta before reload: %d", s)
	}

	writeConfig(t, path, addr, "alpha", "beta")
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	eventually(t, "beta after reload", func() bool { return status(base+"/beta/.well-known/openid-configuration") == 200 })

	if err := os.WriteFile(path, []byte("tenants: [{id: admin}]\nbogus: 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	eventually(t, "refused reload logged", func() bool { return strings.Contains(logs.String(), "reload refused") })
	if s := status(base + "/beta/.well-known/openid-configuration"); s != 200 {
		t.Fatalf("beta after a bad reload: %d", s)
	}

	srv.stop(t)
	if !strings.Contains(logs.String(), `"stopped"`) {
		t.Fatalf("no clean stop in the log:\n%s", logs.String())
	}
}
