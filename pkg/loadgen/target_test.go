package loadgen

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/guestpass/guestpass/pkg/proctest"
)

// A started guestpass is waited for longer the more tenants it builds
// before it listens (a thousand on a slow host outlasted a fixed 30 s),
// and for as long as it is given.
func TestServerStartWaitGrowsWithTheTenants(t *testing.T) {
	if one, many := serverStartTimeout(1), serverStartTimeout(1000); one < startTimeout || many < one+15*time.Second {
		t.Errorf("waits %v for one tenant and %v for a thousand", one, many)
	}
	exe := filepath.Join(t.TempDir(), "guestpass")
	if err := os.WriteFile(exe, []byte("#!/bin/sh\nexec sleep 30\n"), 0o700); err != nil {
		t.Fatal(err)
	}
	ports, err := proctest.FreePorts(1)
	if err != nil {
		t.Fatal(err)
	}
	tg := &Target{ticks: clockTicks(), Dir: t.TempDir()}
	defer tg.Close()
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[0]))
	err = tg.startServer(context.Background(), exe, "guestpass.yaml", addr, filepath.Join(tg.Dir, "guestpass.log"), 300*time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "did not answer within 300ms") {
		t.Fatalf("a server that never answers: %v, want the wait it was given", err)
	}
}

// With RedisUnix the generated config names the private Redis's socket,
// a Redis answers there, and its CPU is read from /proc (it is local).
func TestPrivateRedisOnUnixSocket(t *testing.T) {
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Skip("redis-server not installed")
	}
	tg := &Target{ticks: clockTicks(), Dir: t.TempDir()}
	defer tg.Close()
	ctx := context.Background()
	if err := tg.startStore(ctx, TargetOptions{Store: "redis", RedisUnix: true}); err != nil {
		t.Fatal(err)
	}
	if len(tg.store.Addrs) != 1 || !strings.HasPrefix(tg.store.Addrs[0], "/") {
		t.Fatalf("store addrs %q, want one socket path", tg.store.Addrs)
	}
	if fi, err := os.Stat(tg.store.Addrs[0]); err != nil || fi.Mode().Type() != os.ModeSocket {
		t.Fatalf("%s is not a socket: %v", tg.store.Addrs[0], err)
	}
	if len(tg.redis) != 1 || tg.redis[0].pid == "" {
		t.Fatalf("redis node %+v: no local pid", tg.redis)
	}
	if err := tg.redis[0].c.Ping(ctx).Err(); err != nil {
		t.Fatal(err)
	}
}

// StartTarget refuses what it cannot serve, whoever calls it, before it
// starts anything: the bench command's flag checks are TargetOptions.Check.
func TestStartTargetRefusesWhatItCannotServe(t *testing.T) {
	for name, c := range map[string]struct {
		o    TargetOptions
		says string
	}{
		"unix socket with the memory store":  {TargetOptions{Store: "memory", RedisUnix: true}, "--redis-unix"},
		"unix socket with an existing Redis": {TargetOptions{Store: "redis", RedisURL: "redis://127.0.0.1:1/0", RedisUnix: true}, "--redis-unix"},
		"replicas without a shared store":    {TargetOptions{Store: "memory", Replicas: 2}, "--replicas"},
	} {
		tg, err := StartTarget(context.Background(), c.o)
		if err == nil {
			tg.Close()
		}
		if err == nil || !strings.Contains(err.Error(), c.says) {
			t.Errorf("%s: %v, want the refusal naming %s", name, err, c.says)
		}
	}
}
