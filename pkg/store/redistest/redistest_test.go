package redistest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func ping(addr string) error {
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialTimeout: time.Second, DisableIdentity: true})
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return c.Ping(ctx).Err()
}

func TestStopRestart(t *testing.T) {
	t.Setenv(EnvURL, "") // this test is about the private server
	stopRestart(t, Start(t))
}

func TestStopRestartUnix(t *testing.T) {
	t.Setenv(EnvURL, "")
	s := StartUnix(t)
	if !strings.HasPrefix(s.Addr, "/") {
		t.Fatalf("Addr %q is not a socket path", s.Addr)
	}
	stopRestart(t, s)
}

// stopRestart checks that s answers, is down after Stop, and answers
// again, empty, after Restart.
func stopRestart(t *testing.T, s *Server) {
	if err := ping(s.Addr); err != nil {
		t.Fatalf("fresh server: %v", err)
	}
	c := redis.NewClient(&redis.Options{Addr: s.Addr})
	defer c.Close()
	ctx := context.Background()
	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}

	s.Stop()
	if err := ping(s.Addr); err == nil {
		t.Fatal("server still answers after Stop")
	}
	s.Stop() // idempotent

	s.Restart()
	if err := ping(s.Addr); err != nil {
		t.Fatalf("after Restart: %v", err)
	}
	if n, err := c.Exists(ctx, "k").Result(); err != nil || n != 0 {
		t.Fatalf("restarted server is not empty: %d, %v", n, err)
	}
}

func TestExternalSkipsStop(t *testing.T) {
	t.Setenv(EnvURL, "redis://127.0.0.1:1/3")
	s := Start(t)
	if !s.External() || s.Addr != "127.0.0.1:1" || s.DB != 3 {
		t.Fatalf("external server = %+v", s)
	}
	ran := false
	t.Run("stop", func(t *testing.T) {
		s.tb = t // Skip must happen on the subtest's goroutine
		defer func() { ran = true }()
		s.Stop()
		t.Error("Stop on an external server did not skip")
	})
	if !ran {
		t.Fatal("subtest did not run")
	}
}

func TestKeyPrefix(t *testing.T) {
	a, b := KeyPrefix(t), KeyPrefix(t)
	if a == b {
		t.Fatalf("two prefixes are equal: %q", a)
	}
	if strings.ContainsAny(a, "{}*?[] ") {
		t.Fatalf("prefix %q has hash-tag, glob or space characters", a)
	}
	if !strings.HasSuffix(a, ":") {
		t.Fatalf("prefix %q does not end in ':'", a)
	}
}
