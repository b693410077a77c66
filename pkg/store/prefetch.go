package store

import (
	"context"
	"sync"
)

// A request that knows which keys it will read can fetch them all in one
// round trip (Prefetch) and let the packages that own those keys read
// them as usual: through an Observed store, the first Get or HGet of a
// prefetched key under the returned context is answered from the
// snapshot. A value is served once, and any write to its key through the
// Observed store forgets it, so a read-modify-write that loops (CAS)
// reads the store itself on its second round.

type snapshotKey struct{}

type snapKey struct {
	key, field string
	hash       bool
}

type snapVal struct {
	val   []byte
	found bool
}

type snapshot struct {
	mu   sync.Mutex
	vals map[snapKey]snapVal
}

// Prefetch runs ops in one pipeline and returns a context that serves the
// answers of the reads among them (GetOp, HGetOp); the caller reads the
// other ops' results itself. If the store cannot be reached it returns
// ctx unchanged: the reads then happen (and fail) where they always did.
func Prefetch(ctx context.Context, s Store, ops ...*Op) context.Context {
	var run []*Op
	for _, op := range ops {
		if op != nil {
			run = append(run, op)
		}
	}
	if len(run) == 0 {
		return ctx
	}
	if err := s.Pipeline(ctx, run...); err != nil {
		return ctx
	}
	snap := &snapshot{vals: make(map[snapKey]snapVal, len(run))}
	for _, op := range run {
		if op.Kind != OpGet && op.Kind != OpHGet {
			continue
		}
		k := snapKey{key: op.Key, field: op.Field, hash: op.Kind == OpHGet}
		switch {
		case op.Err == nil:
			snap.vals[k] = snapVal{val: op.Val, found: true}
		case op.Err == ErrNotFound:
			snap.vals[k] = snapVal{}
		}
	}
	return context.WithValue(ctx, snapshotKey{}, snap)
}

// served answers a read from the request's snapshot, once.
func served(ctx context.Context, k snapKey) (snapVal, bool) {
	snap, _ := ctx.Value(snapshotKey{}).(*snapshot)
	if snap == nil {
		return snapVal{}, false
	}
	snap.mu.Lock()
	defer snap.mu.Unlock()
	v, ok := snap.vals[k]
	if ok {
		delete(snap.vals, k)
	}
	return v, ok
}

// result is what the read would have returned.
func (v snapVal) result() ([]byte, error) {
	if !v.found {
		return nil, ErrNotFound
	}
	return append([]byte(nil), v.val...), nil
}

// forget drops every snapshot entry of the given keys (a write happened).
func forget(ctx context.Context, keys ...string) {
	snap, _ := ctx.Value(snapshotKey{}).(*snapshot)
	if snap == nil {
		return
	}
	snap.mu.Lock()
	defer snap.mu.Unlock()
	for k := range snap.vals {
		for _, key := range keys {
			if k.key == key {
				delete(snap.vals, k)
			}
		}
	}
}
