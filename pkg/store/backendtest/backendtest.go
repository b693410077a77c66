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
			st, err := redisstore.New(redisstore.Options{
				Addrs:     []string{redis.Addr},
				Username:  redis.Username,
				Password:  redis.Password,
				DB:        redis.DB,
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

// Each runs f once per backend, with a fresh clock.
func Each(t *testing.T, redis *redistest.Server, start time.Time, f func(t *testing.T, st store.Store, clock *storetest.Clock)) {
	for _, b := range Backends(redis) {
		t.Run(b.Name, func(t *testing.T) {
			clock := storetest.NewClock(start)
			f(t, b.Open(t, clock.Now), clock)
		})
	}
}
