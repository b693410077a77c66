package backendtest_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/guestpass/guestpass/pkg/store"
	"github.com/guestpass/guestpass/pkg/store/backendtest"
	"github.com/guestpass/guestpass/pkg/store/redistest"
	"github.com/guestpass/guestpass/pkg/store/storetest"
)

// TestEachRunsOnEveryBackend: Each gives f a fresh, empty store per
// backend, memory on the test's clock and a real Redis, under subtests
// named after them.
func TestEachRunsOnEveryBackend(t *testing.T) {
	redis := redistest.Start(t)
	start := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, round := range []string{"first", "second"} { // the second sees nothing of the first
		t.Run(round, func(t *testing.T) {
			var ran []string
			backendtest.Each(t, redis, start, func(t *testing.T, st store.Store, clock *storetest.Clock) {
				ran = append(ran, t.Name())
				ctx := context.Background()
				if _, err := st.Get(ctx, "k"); !errors.Is(err, store.ErrNotFound) {
					t.Fatalf("fresh store: Get = %v, want ErrNotFound", err)
				}
				if err := st.Set(ctx, "k", []byte("v"), time.Minute); err != nil {
					t.Fatal(err)
				}
				if !clock.Now().Equal(start) {
					t.Fatalf("clock starts at %v, want %v", clock.Now(), start)
				}
			})
			want := []string{t.Name() + "/memory", t.Name() + "/redis"}
			if !slices.Equal(ran, want) {
				t.Fatalf("ran %v, want %v", ran, want)
			}
		})
	}
}

// TestMemoryBackendFollowsTheClock: the memory backend expires on the
// clock Each hands out, so a test crosses a TTL without sleeping.
func TestMemoryBackendFollowsTheClock(t *testing.T) {
	clock := storetest.NewClock(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	st := backendtest.Backends(nil)[0].Open(t, clock.Now)
	ctx := context.Background()
	if err := st.Set(ctx, "k", []byte("v"), time.Minute); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Minute + time.Second)
	if _, err := st.Get(ctx, "k"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("after the TTL on the clock: Get = %v, want ErrNotFound", err)
	}
}

// TestSharedEach: a package's Shared runs f on both backends, the Redis
// one on the shared server, with the clock at the package's Start.
func TestSharedEach(t *testing.T) {
	shared := backendtest.Shared{Start: time.Date(2031, 2, 3, 4, 5, 6, 0, time.UTC), Redis: redistest.Start(t)}
	var ran []string
	shared.Each(t, func(t *testing.T, st store.Store, clock *storetest.Clock) {
		ran = append(ran, t.Name())
		if !clock.Now().Equal(shared.Start) {
			t.Fatalf("clock starts at %v, want %v", clock.Now(), shared.Start)
		}
		if err := st.Ping(context.Background()); err != nil {
			t.Fatal(err)
		}
	})
	if want := []string{t.Name() + "/memory", t.Name() + "/redis"}; !slices.Equal(ran, want) {
		t.Fatalf("ran %v, want %v", ran, want)
	}
}
