package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/guestpass/guestpass/pkg/store"
	"github.com/guestpass/guestpass/pkg/store/memory"
)

// counting counts reads that reach the store.
type counting struct {
	store.Store
	gets, sets, pipelines int
}

func (c *counting) Get(ctx context.Context, key string) ([]byte, error) {
	c.gets++
	return c.Store.Get(ctx, key)
}

func (c *counting) Pipeline(ctx context.Context, ops ...*store.Op) error {
	c.pipelines++
	return c.Store.Pipeline(ctx, ops...)
}

func TestPrefetchServesOnceAndForgetsOnWrite(t *testing.T) {
	ctx := context.Background()
	mem := memory.New(nil)
	defer mem.Close()
	c := &counting{Store: mem}
	st := store.Observed(c)
	if err := st.Set(ctx, "{t}:a", []byte("1"), 0); err != nil {
		t.Fatal(err)
	}
	if err := st.HSet(ctx, "{t}:h", "f", []byte("x")); err != nil {
		t.Fatal(err)
	}

	pctx := store.Prefetch(ctx, st, store.GetOp("{t}:a"), store.GetOp("{t}:missing"), store.HGetOp("{t}:h", "f"), store.GetOp("{t}:b"))
	if c.pipelines != 1 {
		t.Fatalf("%d pipelines, want 1", c.pipelines)
	}
	if v, err := st.Get(pctx, "{t}:a"); err != nil || string(v) != "1" {
		t.Fatalf("a = %q, %v", v, err)
	}
	if _, err := st.Get(pctx, "{t}:missing"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("missing: %v", err)
	}
	if v, err := st.HGet(pctx, "{t}:h", "f"); err != nil || string(v) != "x" {
		t.Fatalf("h.f = %q, %v", v, err)
	}
	if c.gets != 0 {
		t.Fatalf("%d reads reached the store, want 0", c.gets)
	}
	// Served once: the second read goes to the store.
	if _, err := st.Get(pctx, "{t}:a"); err != nil || c.gets != 1 {
		t.Fatalf("second read: %v, %d store reads", err, c.gets)
	}
	// A write forgets the prefetched value: the read after it is fresh.
	if err := st.Set(pctx, "{t}:b", []byte("new"), 0); err != nil {
		t.Fatal(err)
	}
	if v, err := st.Get(pctx, "{t}:b"); err != nil || string(v) != "new" {
		t.Fatalf("b after write = %q, %v", v, err)
	}
	// Without the prefetch context nothing is served from the snapshot.
	if v, err := st.Get(ctx, "{t}:a"); err != nil || string(v) != "1" || c.gets != 3 {
		t.Fatalf("plain read: %q %v, %d store reads", v, err, c.gets)
	}
}

func (c *counting) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	c.sets++
	return c.Store.Set(ctx, key, value, ttl)
}

func TestDeferredSetsFlushInOnePipeline(t *testing.T) {
	ctx := context.Background()
	mem := memory.New(nil)
	defer mem.Close()
	c := &counting{Store: mem}
	st := store.Observed(c)
	dctx := store.Defer(ctx)
	if err := st.Set(dctx, "{t}:s", []byte("session"), time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := st.Set(dctx, "{t}:r", []byte("request"), time.Hour); err != nil {
		t.Fatal(err)
	}
	if c.sets != 0 || c.pipelines != 0 {
		t.Fatalf("deferred sets reached the store: %d sets, %d pipelines", c.sets, c.pipelines)
	}
	if _, err := mem.Get(ctx, "{t}:s"); err == nil {
		t.Fatal("written before Flush")
	}
	if err := store.Flush(dctx, st); err != nil {
		t.Fatal(err)
	}
	if c.pipelines != 1 {
		t.Fatalf("%d pipelines, want 1", c.pipelines)
	}
	for k, want := range map[string]string{"{t}:s": "session", "{t}:r": "request"} {
		if v, err := mem.Get(ctx, k); err != nil || string(v) != want {
			t.Fatalf("%s = %q, %v", k, v, err)
		}
	}
	if ttl, err := mem.TTL(ctx, "{t}:s"); err != nil || ttl <= 0 {
		t.Fatalf("ttl = %v, %v", ttl, err)
	}
	// A second Flush has nothing to send; without Defer, Sets go straight through.
	if err := store.Flush(dctx, st); err != nil || c.pipelines != 1 {
		t.Fatalf("second flush: %v, %d pipelines", err, c.pipelines)
	}
	if err := st.Set(ctx, "{t}:x", []byte("x"), 0); err != nil || c.sets != 1 {
		t.Fatalf("plain set: %v, %d sets", err, c.sets)
	}
}
