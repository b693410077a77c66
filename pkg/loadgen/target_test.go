package loadgen

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
)

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
