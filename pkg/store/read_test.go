package store_test

import (
	"context"
	"errors"
	"testing"

	"github.com/guestpass/guestpass/pkg/store"
	"github.com/guestpass/guestpass/pkg/store/memory"
)

// pipelines counts the Pipelines that reach the store.
type pipelines struct {
	store.Store
	n int
}

func (p *pipelines) Pipeline(ctx context.Context, ops ...*store.Op) error {
	p.n++
	return p.Store.Pipeline(ctx, ops...)
}

// A step's reads go in one Pipeline; a read that needs no store (nil op)
// is left out, and a step with none makes no round trip. Each Read
// decodes its own op's answer, not-found included.
func TestBatchOfTypedReads(t *testing.T) {
	ctx := context.Background()
	mem := memory.New(nil)
	defer mem.Close()
	st := &pipelines{Store: mem}
	if err := mem.Set(ctx, "{t}:a", []byte("1"), 0); err != nil {
		t.Fatal(err)
	}
	text := func(op *store.Op) (string, error) { return string(op.Val), op.Err }
	a := store.NewRead(store.GetOp("{t}:a"), text)
	missing := store.NewRead(store.GetOp("{t}:missing"), text)
	none := store.NewRead(nil, func(op *store.Op) (string, error) {
		if op != nil {
			t.Fatal("a read without op was given one")
		}
		return "no store", nil
	})
	if err := store.Batch(ctx, st, a.Op(), missing.Op(), none.Op()); err != nil {
		t.Fatal(err)
	}
	if st.n != 1 {
		t.Fatalf("%d pipelines, want 1", st.n)
	}
	if v, err := a.Result(); err != nil || v != "1" {
		t.Fatalf("a = %q, %v", v, err)
	}
	if _, err := missing.Result(); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("missing: %v", err)
	}
	if v, _ := none.Result(); v != "no store" {
		t.Fatalf("none = %q", v)
	}
	if err := store.Batch(ctx, st, none.Op()); err != nil || st.n != 1 {
		t.Fatalf("a batch of nothing: %v, %d pipelines", err, st.n)
	}
}

// TagKey keeps the tenant in the key and makes tenant and tag together
// the Cluster hash tag (the first braces).
func TestTagKey(t *testing.T) {
	if got := store.TagKey("fabrikam", "3f2a", "authreq"); got != "{fabrikam:3f2a}:authreq" {
		t.Fatalf("TagKey = %q", got)
	}
	if got := store.Key("fabrikam", "gx", "all"); got != "{fabrikam}:gx:all" {
		t.Fatalf("Key = %q", got)
	}
}
