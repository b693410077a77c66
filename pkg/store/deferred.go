package store

import (
	"context"
	"sync"
	"time"
)

// A handler whose last writes are independent Sets that nothing in the
// request reads back (say, a new session and the completed auth request)
// can send them in one round trip: under a Defer context an Observed
// store queues Set calls instead of sending them, and Flush sends the
// queue as one pipeline. A Set under Defer reports no error; Flush
// reports the first.

type deferredKey struct{}

type deferred struct {
	mu  sync.Mutex
	ops []*Op
}

// Defer returns a context under which Sets through an Observed store wait
// for Flush.
func Defer(ctx context.Context) context.Context {
	return context.WithValue(ctx, deferredKey{}, &deferred{})
}

// queue takes a Set for later when ctx defers writes.
func queue(ctx context.Context, key string, value []byte, ttl time.Duration) bool {
	d, _ := ctx.Value(deferredKey{}).(*deferred)
	if d == nil {
		return false
	}
	d.mu.Lock()
	d.ops = append(d.ops, SetOp(key, append([]byte(nil), value...), ttl))
	d.mu.Unlock()
	return true
}

// Flush sends the Sets queued under ctx in one pipeline (nothing when
// there are none, or when ctx does not defer).
func Flush(ctx context.Context, s Store) error {
	d, _ := ctx.Value(deferredKey{}).(*deferred)
	if d == nil {
		return nil
	}
	d.mu.Lock()
	ops := d.ops
	d.ops = nil
	d.mu.Unlock()
	if len(ops) == 0 {
		return nil
	}
	return s.Pipeline(ctx, ops...)
}
