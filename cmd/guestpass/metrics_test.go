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
	if maddr == "" {
		writeConfig(t, path, addr, "alpha")
		return
	}
	writeMetricsBlock(t, path, addr, "metrics: {listen: \""+maddr+"\"}")
}

// writeMetricsBlock writes the serve test config with block (the metrics
// mapping as YAML) in front.
func writeMetricsBlock(t *testing.T, path, addr, block string) {
	t.Helper()
	writeConfig(t, path, addr, "alpha")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b = append([]byte(block+"\n"), b...)
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

// Issue 10: pprof is off by default; metrics.pprof mounts it on the
// metrics listener, never on the public one. SIGHUP turns it on and off
// on the running listener (same address) and carries it to a moved one;
// a file asking for pprof without a metrics listener is refused.
func TestServeMetricsPprof(t *testing.T) {
	addr, m1, m2 := freePort(t), freePort(t), freePort(t)
	path := filepath.Join(t.TempDir(), "c.yaml")
	writeMetricsConfig(t, path, addr, m1)
	srv := startServe(t, path, addr)
	hup := func(block string) {
		t.Helper()
		writeMetricsBlock(t, path, addr, block)
		if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
	}
	pprofOn := func(maddr string) bool {
		st, b := body("http://" + maddr + "/debug/pprof/")
		return st == 200 && strings.Contains(b, "Types of profiles available")
	}
	publicNever := func() {
		t.Helper()
		for _, p := range []string{"/debug/pprof/", "/debug/pprof/cmdline", "/alpha/debug/pprof/"} {
			if st, b := body(srv.base + p); st == 200 || strings.Contains(b, "profiles available") {
				t.Fatalf("public %s: %d\n%s", p, st, b)
			}
		}
	}

	if st := status("http://" + m1 + "/debug/pprof/"); st != 404 {
		t.Fatalf("pprof by default: %d, want 404", st)
	}
	publicNever()

	hup(`metrics: {listen: "` + m1 + `", pprof: true}`)
	eventually(t, "pprof on, same address", func() bool { return pprofOn(m1) })
	if st, _ := body("http://" + m1 + "/metrics"); st != 200 {
		t.Fatalf("metrics with pprof on: %d", st)
	}
	publicNever()
	// A CPU profile samples before it answers: the listener's write
	// timeout leaves it room (pprof refuses a duration past it).
	if st, b := body("http://" + m1 + "/debug/pprof/profile?seconds=1"); st != 200 || len(b) == 0 {
		t.Fatalf("cpu profile: %d\n%s", st, b)
	}

	hup(`metrics: {listen: "` + m2 + `", pprof: true}`)
	eventually(t, "pprof on the moved listener", func() bool { return pprofOn(m2) })
	eventually(t, "old metrics listener closed", func() bool { return status("http://"+m1+"/metrics") == 0 })

	hup(`metrics: {listen: "` + m2 + `"}`)
	eventually(t, "pprof off again", func() bool { return status("http://"+m2+"/debug/pprof/") == 404 })
	if st, _ := body("http://" + m2 + "/metrics"); st != 200 {
		t.Fatalf("metrics after pprof off: %d", st)
	}

	before := strings.Count(srv.logs.String(), "reload refused")
	hup(`metrics: {pprof: true}`)
	eventually(t, "reload without a listener refused", func() bool {
		return strings.Count(srv.logs.String(), "reload refused") > before
	})
	if st := status("http://" + m2 + "/debug/pprof/"); st != 404 || status("http://"+m2+"/metrics") != 200 {
		t.Fatalf("after a refused reload: pprof %d", st)
	}
	publicNever()
	srv.stop(t)
}
