// Package backendtest runs a package's tests on each store backend: the
// memory store, driven by the test's clock, and a real Redis. It is not
// the conformance suite (storetest), which tests a backend; this one
// gives the code built on a store a backend to be tested on.
package backendtest

import (
	"context"
	"testing"
	"time"

	"github.com/guestpass/guestpass/pkg/store"
	"github.com/guestpass/guestpass/pkg/store/memory"
	"github.com/guestpass/guestpass/pkg/store/redisstore"
	"github.com/guestpass/guestpass/pkg/store/redistest"
	"github.com/guestpass/guestpass/pkg/store/storetest"
)

// Backend builds a fresh, empty store for one test; clock drives the
// memory store (Redis keeps its own time).
type Backend struct {
	Name string
	Open func(t *testing.T, clock func() time.Time) store.Store
}

// Backends are memory and the given Redis (each test gets its own key
// prefix there).
func Backends(redis *redistest.Server) []Backend {
	return []Backend{
		{"memory", func(t *testing.T, clock func() time.Time) store.Store {
			st := memory.New(clock)
			t.Cleanup(func() { _ = st.Close() })
			return st
		}},
		{"redis", func(t *testing.T, _ func() time.Time) store.Store {
			return OpenRedis(t, redis)
		}},
	}
}

// Each runs f once per backend, with a fresh clock.
func Each(t *testing.T, redis *redistest.Server, start time.Time, f func(t *testing.T, st store.Store, clock *storetest.Clock)) {
	for _, b := range Backends(redis) {
		t.Run(b.Name, func(t *testing.T) {
			clock := storetest.NewClock(start)
			f(t, b.Open(t, clock.Now), clock)
		})
	}
}

// Shared is the one Redis a test package's tests share (each test isolated
// by its own key prefix), so a package's TestMain and its backend loop are
// written once here instead of in every package:
//
//	var backends = backendtest.Shared{Start: clockStart}
//	func TestMain(m *testing.M) { backends.Main(m) }
//	... backends.Each(t, func(t *testing.T, st store.Store, clock *storetest.Clock) { ... })
type Shared struct {
	// Start is where each test's clock begins.
	Start time.Time
	// Redis is set by Main for the package's run.
	Redis *redistest.Server
}

// Main starts the shared Redis, runs the package's tests and stops it.
func (s *Shared) Main(m *testing.M) { redistest.Main(m, &s.Redis) }

// Each runs f once per backend (memory, the shared Redis) with a fresh
// store and a clock at Start.
func (s *Shared) Each(t *testing.T, f func(t *testing.T, st store.Store, clock *storetest.Clock)) {
	Each(t, s.Redis, s.Start, f)
}

// OpenRedis is a fresh store on srv, isolated by the test's own key prefix
// and closed when the test ends: for a package that builds its own
// fixtures around the store (or a test on a private server it stops).
func OpenRedis(t *testing.T, srv *redistest.Server) store.Store {
	t.Helper()
	st, err := redisstore.New(redisstore.Options{
		Addrs:     []string{srv.Addr},
		Username:  srv.Username,
		Password:  srv.Password,
		DB:        srv.DB,
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
}
