package store

import (
	"context"
	"errors"
	"sync/atomic"
	"time"
)

// Outages are reported per request: the HTTP layer puts a marker in the
// request context, the Observed store sets it when the backend is
// unreachable, and the HTTP layer then answers 503 instead of whatever
// error a library (zitadel's OP answers 500) made of it.

type outageKey struct{}

// WithOutageMarker returns a context that records store outages.
func WithOutageMarker(ctx context.Context) context.Context {
	return context.WithValue(ctx, outageKey{}, new(atomic.Bool))
}

// HadOutage reports whether a store call under ctx found the store unreachable.
func HadOutage(ctx context.Context) bool {
	b, _ := ctx.Value(outageKey{}).(*atomic.Bool)
	return b != nil && b.Load()
}

func mark(ctx context.Context, err error) error {
	if err != nil && errors.Is(err, ErrUnavailable) {
		if b, _ := ctx.Value(outageKey{}).(*atomic.Bool); b != nil {
			b.Store(true)
		}
	}
	return err
}

// Observed wraps a Store so that unavailability is recorded in the
// request's outage marker, and reads are served from the request's
// Prefetch snapshot when there is one (see prefetch.go).
func Observed(s Store) Store { return observed{s} }

type observed struct{ s Store }

func (o observed) Get(ctx context.Context, key string) ([]byte, error) {
	if v, ok := served(ctx, snapKey{key: key}); ok {
		return v.result()
	}
	v, err := o.s.Get(ctx, key)
	return v, mark(ctx, err)
}
func (o observed) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	forget(ctx, key)
	if queue(ctx, key, value, ttl) {
		return nil
	}
	return mark(ctx, o.s.Set(ctx, key, value, ttl))
}
func (o observed) SetNX(ctx context.Context, key string, value []byte, ttl time.Duration) (bool, error) {
	forget(ctx, key)
	ok, err := o.s.SetNX(ctx, key, value, ttl)
	return ok, mark(ctx, err)
}
func (o observed) Delete(ctx context.Context, keys ...string) error {
	forget(ctx, keys...)
	return mark(ctx, o.s.Delete(ctx, keys...))
}
func (o observed) Take(ctx context.Context, key string) ([]byte, error) {
	forget(ctx, key)
	v, err := o.s.Take(ctx, key)
	return v, mark(ctx, err)
}
func (o observed) CompareAndSwap(ctx context.Context, key string, prev, next []byte, ttl time.Duration) (bool, error) {
	forget(ctx, key)
	ok, err := o.s.CompareAndSwap(ctx, key, prev, next, ttl)
	return ok, mark(ctx, err)
}
func (o observed) Incr(ctx context.Context, key string, delta int64, ttl time.Duration) (int64, error) {
	forget(ctx, key)
	n, err := o.s.Incr(ctx, key, delta, ttl)
	return n, mark(ctx, err)
}
func (o observed) TTL(ctx context.Context, key string) (time.Duration, error) {
	d, err := o.s.TTL(ctx, key)
	return d, mark(ctx, err)
}
func (o observed) HGet(ctx context.Context, key, field string) ([]byte, error) {
	if v, ok := served(ctx, snapKey{key: key, field: field, hash: true}); ok {
		return v.result()
	}
	v, err := o.s.HGet(ctx, key, field)
	return v, mark(ctx, err)
}
func (o observed) HSet(ctx context.Context, key, field string, value []byte) error {
	forget(ctx, key)
	return mark(ctx, o.s.HSet(ctx, key, field, value))
}
func (o observed) HSetNX(ctx context.Context, key, field string, value []byte) (bool, error) {
	forget(ctx, key)
	ok, err := o.s.HSetNX(ctx, key, field, value)
	return ok, mark(ctx, err)
}
func (o observed) HDel(ctx context.Context, key string, fields ...string) error {
	forget(ctx, key)
	return mark(ctx, o.s.HDel(ctx, key, fields...))
}
func (o observed) HGetAll(ctx context.Context, key string) (map[string][]byte, error) {
	m, err := o.s.HGetAll(ctx, key)
	return m, mark(ctx, err)
}
func (o observed) Pipeline(ctx context.Context, ops ...*Op) error {
	for _, op := range ops {
		switch op.Kind {
		case OpGet, OpHGet, OpTTL:
		case OpRun:
			forget(ctx, op.Keys...)
		default:
			forget(ctx, op.Key)
		}
	}
	err := o.s.Pipeline(ctx, ops...)
	for _, op := range ops {
		mark(ctx, op.Err)
	}
	return mark(ctx, err)
}
func (o observed) Run(ctx context.Context, script *Script, keys []string, args ...string) ([]int64, error) {
	forget(ctx, keys...)
	r, err := o.s.Run(ctx, script, keys, args...)
	return r, mark(ctx, err)
}
func (o observed) Ping(ctx context.Context) error { return mark(ctx, o.s.Ping(ctx)) }
func (o observed) Close() error                   { return o.s.Close() }
