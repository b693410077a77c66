package memory

import (
	"bytes"
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/guestpass/guestpass/pkg/store"
	"github.com/guestpass/guestpass/pkg/store/storetest"
)

func newStore(tb testing.TB, clock func() time.Time) *Store {
	s := New(clock)
	tb.Cleanup(func() { _ = s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	storetest.RunOnClock(t, time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC), func(t *testing.T, clock func() time.Time) store.Store {
		return newStore(t, clock)
	})
}

func TestExpiryFollowsInjectedClock(t *testing.T) {
	clock := storetest.NewClock(time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC))
	s := newStore(t, clock.Now)
	ctx := context.Background()
	code, ctr := store.Key("t", "code"), store.Key("t", "ctr")

	if err := s.Set(ctx, code, []byte("c"), 30*time.Minute); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Incr(ctx, ctr, 1, time.Hour); err != nil {
		t.Fatal(err)
	}
	clock.Advance(29*time.Minute + 59*time.Second)
	if d, err := s.TTL(ctx, code); err != nil || d != time.Second {
		t.Fatalf("TTL one second before expiry = %v, %v", d, err)
	}
	if v, err := s.Get(ctx, code); err != nil || string(v) != "c" {
		t.Fatalf("Get before expiry = %q, %v", v, err)
	}
	clock.Advance(time.Second) // exactly 30 minutes: gone
	if _, err := s.Get(ctx, code); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Get at expiry: %v, want ErrNotFound", err)
	}
	if n, err := s.Incr(ctx, ctr, 1, time.Hour); err != nil || n != 2 {
		t.Fatalf("Incr inside the window = %d, %v", n, err)
	}
	clock.Advance(30 * time.Minute)
	if n, err := s.Incr(ctx, ctr, 1, time.Hour); err != nil || n != 1 {
		t.Fatalf("Incr after the window = %d, %v; want a new window", n, err)
	}
}

func TestSweepDropsExpiredEntries(t *testing.T) {
	clock := storetest.NewClock(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	s := newStore(t, clock.Now)
	ctx := context.Background()
	for i := range 1000 {
		k := store.Key("t", "k", strconv.Itoa(i))
		if err := s.Set(ctx, k, []byte("v"), time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Set(ctx, store.Key("t", "keep"), []byte("v"), 0); err != nil {
		t.Fatal(err)
	}
	if err := s.HSet(ctx, store.Key("t", "hash"), "f", []byte("v")); err != nil {
		t.Fatal(err)
	}
	s.Sweep()
	if n := s.Len(); n != 1002 {
		t.Fatalf("sweep before expiry left %d entries, want 1002", n)
	}
	clock.Advance(time.Minute)
	s.Sweep()
	if n := s.Len(); n != 2 {
		t.Fatalf("sweep after expiry left %d entries, want 2 (no-expiry value and hash)", n)
	}
}

func TestCloseStopsSweeper(t *testing.T) {
	s := New(nil)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.swept:
	default:
		t.Fatal("sweeper still running after Close")
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

func TestTakeResultIsPrivate(t *testing.T) {
	s := newStore(t, nil)
	ctx := context.Background()
	k := store.Key("t", "k")
	in := []byte("value")
	if err := s.Set(ctx, k, in, 0); err != nil {
		t.Fatal(err)
	}
	out, err := s.Take(ctx, k)
	if err != nil {
		t.Fatal(err)
	}
	out[0] = 'X'
	if !bytes.Equal(in, []byte("value")) {
		t.Fatalf("caller's slice changed through Take's result: %q", in)
	}
}

func TestCancelledContext(t *testing.T) {
	s := newStore(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Set(ctx, store.Key("t", "k"), []byte("v"), 0); !errors.Is(err, context.Canceled) {
		t.Fatalf("Set with a cancelled context: %v", err)
	}
}

func BenchmarkTake(b *testing.B) { storetest.BenchTake(b, newStore(b, nil)) }
func BenchmarkIncr(b *testing.B) { storetest.BenchIncr(b, newStore(b, nil)) }
