package session

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/guestpass/guestpass/pkg/store"
	"github.com/guestpass/guestpass/pkg/store/memory"
	"github.com/guestpass/guestpass/pkg/store/redisstore"
	"github.com/guestpass/guestpass/pkg/store/redistest"
)

// sharedRedis is the one Redis this package's tests share; each
// test isolates itself with its own key prefix.
var sharedRedis *redistest.Server

func TestMain(m *testing.M) {
	srv, err := redistest.Launch()
	if err != nil {
		fmt.Fprintln(os.Stderr, "redis:", err)
		os.Exit(1)
	}
	sharedRedis = srv
	code := m.Run()
	srv.Close()
	os.Exit(code)
}

// fakeClock is a settable clock for the memory store and the code under
// test.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// backend builds a fresh, empty store for one test; clock drives the
// memory store (Redis keeps its own time).
type backend struct {
	name string
	open func(t *testing.T, clock func() time.Time) store.Store
}

func backends() []backend {
	return []backend{
		{"memory", func(t *testing.T, clock func() time.Time) store.Store {
			st := memory.New(clock)
			t.Cleanup(func() { _ = st.Close() })
			return st
		}},
		{"redis", func(t *testing.T, _ func() time.Time) store.Store {
			st, err := redisstore.New(redisstore.Options{
				Addrs:     []string{sharedRedis.Addr},
				Username:  sharedRedis.Username,
				Password:  sharedRedis.Password,
				DB:        sharedRedis.DB,
				KeyPrefix: redistest.KeyPrefix(t),
			})
			if err != nil {
				t.Fatalf("redisstore: %v", err)
			}
			if err := st.Ping(context.Background()); err != nil {
				t.Fatalf("redis ping: %v", err)
			}
			t.Cleanup(func() { _ = st.Close() })
			return st
		}},
	}
}

// eachBackend runs f once per store.
func eachBackend(t *testing.T, f func(t *testing.T, st store.Store, clock *fakeClock)) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			clock := newFakeClock()
			f(t, b.open(t, clock.Now), clock)
		})
	}
}
