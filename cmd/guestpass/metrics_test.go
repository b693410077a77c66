package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// writeMetricsConfig writes the serve test config with metrics.listen set
// to maddr ("" leaves the key out: metrics off).
func writeMetricsConfig(t *testing.T, path, addr, maddr string) {
	t.Helper()
	writeConfig(t, path, addr, "alpha")
	if maddr == "" {
		return
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b = append([]byte("metrics: {listen: \""+maddr+"\"}\n"), b...)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func body(url string) (int, string) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// Issue 6 item 11(a): serve starts the metrics listener of metrics.listen,
// the public listener answers /metrics with 404, SIGHUP moves the metrics
// listener to a changed address (or refuses a reload it cannot bind), and
// shutdown stops it.
func TestServeMetricsListener(t *testing.T) {
	addr, m1, m2 := freePort(t), freePort(t), freePort(t)
	path := filepath.Join(t.TempDir(), "c.yaml")
	writeMetricsConfig(t, path, addr, m1)
	srv := startServe(t, path, addr)
	base, logs := srv.base, srv.logs
	if st, b := body("http://" + m1 + "/metrics"); st != 200 || !strings.Contains(b, "guestpass_http_request_duration_seconds") {
		t.Fatalf("metrics listener: %d\n%s", st, b)
	}
	if st, b := body(base + "/metrics"); st != 404 || strings.Contains(b, "guestpass_") {
		t.Fatalf("public /metrics: %d\n%s", st, b)
	}

	// A reload that moves metrics to a port already taken (the public
	// one is, by this very process) is refused and changes nothing.
	writeMetricsConfig(t, path, addr, strings.Replace(addr, "127.0.0.1", "localhost", 1))
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	eventually(t, "refused reload logged", func() bool { return strings.Contains(logs.String(), "reload refused") })
	if st, _ := body("http://" + m1 + "/metrics"); st != 200 {
		t.Fatalf("metrics after a refused reload: %d", st)
	}

	writeMetricsConfig(t, path, addr, m2)
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	eventually(t, "metrics moved", func() bool { return status("http://"+m2+"/metrics") == 200 })
	eventually(t, "old metrics listener closed", func() bool { return status("http://"+m1+"/metrics") == 0 })

	srv.stop(t)
	if st := status("http://" + m2 + "/metrics"); st != 0 {
		t.Fatalf("metrics listener still answers after shutdown: %d", st)
	}
}

// check-config refuses a metrics listener on the public address.
func TestCheckConfigMetricsListen(t *testing.T) {
	addr := freePort(t)
	path := filepath.Join(t.TempDir(), "c.yaml")
	writeMetricsConfig(t, path, addr, addr)
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"check-config", path}, &out, &errb); code != 1 ||
		!strings.Contains(errb.String(), path+": metrics.listen: ") || !strings.Contains(errb.String(), "is the public listener") {
		t.Fatalf("check-config: exit %d\n%s", code, errb.String())
	}
}
