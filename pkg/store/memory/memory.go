// Package memory implements store.Store in process memory: the embedded
// default, so guestpass runs without any other service. Nothing survives
// a restart.
//
// Expiry is judged by an injected clock, so tests can cross a 30-minute
// TTL without waiting. Expired entries are dropped lazily when touched and
// by a periodic sweep, so keys nobody reads again do not pile up.
package memory

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"math"
	"strconv"
	"sync"
	"time"

	"github.com/guestpass/guestpass/pkg/store"
)

// SweepInterval is how often the background sweep drops expired entries.
const SweepInterval = time.Minute

// shardCount spreads keys over independent locks so that many concurrent
// requests do not queue on one mutex. Operations touch one key each; only
// Run (a script over several keys) holds several shard locks, taken in
// index order so two scripts cannot deadlock.
const shardCount = 32

// ErrWrongType is returned when a plain value is used as a hash or the
// other way round (Redis answers WRONGTYPE there).
var ErrWrongType = errors.New("memory store: operation against a key holding the wrong kind of value")

type entry struct {
	value     []byte            // for plain values and counters
	hash      map[string][]byte // non-nil for hashes
	zset      *[]string         // non-nil for ordered sets, sorted
	expiresAt time.Time         // zero: no expiry
}

func (e *entry) expired(now time.Time) bool {
	return !e.expiresAt.IsZero() && !now.Before(e.expiresAt)
}

type shard struct {
	mu sync.Mutex
	m  map[string]*entry
}

// Store is an in-memory store.Store, safe for concurrent use.
type Store struct {
	now    func() time.Time
	seed   maphash.Seed
	shards [shardCount]shard

	stop      chan struct{}
	closeOnce sync.Once
	swept     chan struct{} // closed when the sweeper has returned
}

var _ store.Store = (*Store)(nil)

// New returns an empty Store that judges expiry by clock (time.Now when
// nil) and sweeps expired entries every SweepInterval until Close.
func New(clock func() time.Time) *Store {
	if clock == nil {
		clock = time.Now
	}
	s := &Store{
		now:   clock,
		seed:  maphash.MakeSeed(),
		stop:  make(chan struct{}),
		swept: make(chan struct{}),
	}
	for i := range s.shards {
		s.shards[i].m = make(map[string]*entry)
	}
	go s.sweepLoop(SweepInterval)
	return s
}

func (s *Store) sweepLoop(every time.Duration) {
	defer close(s.swept)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			s.Sweep()
		}
	}
}

// Sweep drops every expired entry, one shard at a time so requests on
// other shards are not held up.
func (s *Store) Sweep() {
	now := s.now()
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		for k, e := range sh.m {
			if e.expired(now) {
				delete(sh.m, k)
			}
		}
		sh.mu.Unlock()
	}
}

// Len counts the entries held, expired or not: what the sweep keeps
// bounded (tests count it after advancing their clock, not the RSS).
func (s *Store) Len() int {
	n := 0
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		n += len(sh.m)
		sh.mu.Unlock()
	}
	return n
}

func (s *Store) shard(key string) *shard { return &s.shards[s.shardIndex(key)] }

func (s *Store) shardIndex(key string) int {
	return int(maphash.String(s.seed, key) % shardCount)
}

// lookup returns the live entry for key, dropping it when expired. The
// shard lock must be held.
func (sh *shard) lookup(key string, now time.Time) *entry {
	e, ok := sh.m[key]
	if !ok {
		return nil
	}
	if e.expired(now) {
		delete(sh.m, key)
		return nil
	}
	return e
}

func deadline(now time.Time, ttl time.Duration) time.Time {
	if ttl == 0 {
		return time.Time{}
	}
	return now.Add(ttl)
}

func checkTTL(ttl time.Duration) error {
	if ttl < 0 {
		return fmt.Errorf("memory store: negative ttl %v", ttl)
	}
	return nil
}

// clone copies b so that neither the caller nor the store can change the
// other's bytes later; the result is never nil.
func clone(b []byte) []byte {
	return append(make([]byte, 0, len(b)), b...)
}

// live returns ctx's error if the caller has given up. Memory never
// blocks on I/O, but honouring a cancelled context keeps both stores
// behaving alike for callers.
func live(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memory store: %w", err)
	}
	return nil
}

// Get implements store.Store.
func (s *Store) Get(ctx context.Context, key string) ([]byte, error) {
	if err := live(ctx); err != nil {
		return nil, err
	}
	sh := s.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	return sh.get(key, s.now())
}

func (sh *shard) get(key string, now time.Time) ([]byte, error) {
	e := sh.lookup(key, now)
	if e == nil {
		return nil, store.ErrNotFound
	}
	if e.hash != nil || e.zset != nil {
		return nil, ErrWrongType
	}
	return clone(e.value), nil
}

// Set implements store.Store.
func (s *Store) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if err := live(ctx); err != nil {
		return err
	}
	if err := checkTTL(ttl); err != nil {
		return err
	}
	v := clone(value)
	sh := s.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	sh.set(key, v, ttl, s.now())
	return nil
}

func (sh *shard) set(key string, v []byte, ttl time.Duration, now time.Time) {
	sh.m[key] = &entry{value: v, expiresAt: deadline(now, ttl)}
}

// SetNX implements store.Store.
func (s *Store) SetNX(ctx context.Context, key string, value []byte, ttl time.Duration) (bool, error) {
	if err := live(ctx); err != nil {
		return false, err
	}
	if err := checkTTL(ttl); err != nil {
		return false, err
	}
	v := clone(value)
	sh := s.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	return sh.setNX(key, v, ttl, s.now()), nil
}

func (sh *shard) setNX(key string, v []byte, ttl time.Duration, now time.Time) bool {
	if sh.lookup(key, now) != nil {
		return false
	}
	sh.set(key, v, ttl, now)
	return true
}

// Delete implements store.Store.
func (s *Store) Delete(ctx context.Context, keys ...string) error {
	if err := live(ctx); err != nil {
		return err
	}
	for _, k := range keys {
		sh := s.shard(k)
		sh.mu.Lock()
		delete(sh.m, k)
		sh.mu.Unlock()
	}
	return nil
}

// Take implements store.Store.
func (s *Store) Take(ctx context.Context, key string) ([]byte, error) {
	if err := live(ctx); err != nil {
		return nil, err
	}
	sh := s.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	v, err := sh.get(key, s.now())
	if err == nil {
		delete(sh.m, key)
	}
	return v, err
}

// CompareAndSwap implements store.Store.
func (s *Store) CompareAndSwap(ctx context.Context, key string, prev, next []byte, ttl time.Duration) (bool, error) {
	if err := live(ctx); err != nil {
		return false, err
	}
	if err := checkTTL(ttl); err != nil {
		return false, err
	}
	var v []byte
	if next != nil {
		v = clone(next)
	}
	sh := s.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	now := s.now()
	e := sh.lookup(key, now)
	if e != nil && (e.hash != nil || e.zset != nil) {
		return false, ErrWrongType
	}
	switch {
	case prev == nil && e != nil:
		return false, nil
	case prev != nil && (e == nil || !bytes.Equal(e.value, prev)):
		return false, nil
	}
	if next == nil {
		delete(sh.m, key)
	} else {
		sh.m[key] = &entry{value: v, expiresAt: deadline(now, ttl)}
	}
	return true, nil
}

// Swap implements store.Store.
func (s *Store) Swap(ctx context.Context, key string, next []byte) ([]byte, error) {
	if err := live(ctx); err != nil {
		return nil, err
	}
	v := clone(next)
	sh := s.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	e := sh.lookup(key, s.now())
	switch {
	case e == nil:
		return nil, store.ErrNotFound
	case e.hash != nil || e.zset != nil:
		return nil, ErrWrongType
	}
	// A new entry rather than e changed, so that the value returned is
	// held by nobody else once replaced (every read clones).
	sh.m[key] = &entry{value: v, expiresAt: e.expiresAt}
	return e.value, nil
}

// Incr implements store.Store. Like Redis INCRBY, it keeps the counter as
// decimal text (Get returns "5") and refuses overflow.
func (s *Store) Incr(ctx context.Context, key string, delta int64, ttl time.Duration) (int64, error) {
	if err := live(ctx); err != nil {
		return 0, err
	}
	if err := checkTTL(ttl); err != nil {
		return 0, err
	}
	sh := s.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	return sh.incr(key, delta, ttl, s.now())
}

func (sh *shard) incr(key string, delta int64, ttl time.Duration, now time.Time) (int64, error) {
	e := sh.lookup(key, now)
	if e == nil {
		sh.m[key] = &entry{value: strconv.AppendInt(nil, delta, 10), expiresAt: deadline(now, ttl)}
		return delta, nil
	}
	if e.hash != nil || e.zset != nil {
		return 0, ErrWrongType
	}
	cur, err := strconv.ParseInt(string(e.value), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("memory store: incr %q: value is not an integer", key)
	}
	if (delta > 0 && cur > math.MaxInt64-delta) || (delta < 0 && cur < math.MinInt64-delta) {
		return 0, fmt.Errorf("memory store: incr %q: overflow", key)
	}
	cur += delta
	// Replace the slice rather than write into it: a value handed out by
	// Take is never shared, but keeping entries immutable is simpler.
	e.value = strconv.AppendInt(nil, cur, 10)
	if e.expiresAt.IsZero() {
		e.expiresAt = deadline(now, ttl) // as Redis's PEXPIRE NX
	}
	return cur, nil
}

// Extend implements store.Store.
func (s *Store) Extend(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	if err := live(ctx); err != nil {
		return false, err
	}
	if err := checkTTL(ttl); err != nil {
		return false, err
	}
	sh := s.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	now := s.now()
	e := sh.lookup(key, now)
	if e == nil || e.expiresAt.IsZero() {
		return false, nil
	}
	if at := deadline(now, ttl); !at.IsZero() && at.After(e.expiresAt) {
		e.expiresAt = at
		return true, nil
	}
	return false, nil
}

// TTL implements store.Store.
func (s *Store) TTL(ctx context.Context, key string) (time.Duration, error) {
	if err := live(ctx); err != nil {
		return 0, err
	}
	sh := s.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	return sh.ttl(key, s.now())
}

func (sh *shard) ttl(key string, now time.Time) (time.Duration, error) {
	e := sh.lookup(key, now)
	if e == nil {
		return 0, store.ErrNotFound
	}
	if e.expiresAt.IsZero() {
		return 0, nil
	}
	return e.expiresAt.Sub(now), nil
}

// hashAt returns the live hash at key (nil when absent). The shard lock
// must be held.
func (sh *shard) hashAt(key string, now time.Time) (map[string][]byte, error) {
	e := sh.lookup(key, now)
	if e == nil {
		return nil, nil
	}
	if e.hash == nil {
		return nil, ErrWrongType
	}
	return e.hash, nil
}

// HGet implements store.Store.
func (s *Store) HGet(ctx context.Context, key, field string) ([]byte, error) {
	if err := live(ctx); err != nil {
		return nil, err
	}
	sh := s.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	h, err := sh.hashAt(key, s.now())
	if err != nil {
		return nil, err
	}
	v, ok := h[field]
	if !ok {
		return nil, store.ErrNotFound
	}
	return clone(v), nil
}

// HSet implements store.Store.
func (s *Store) HSet(ctx context.Context, key, field string, value []byte) error {
	_, err := s.hset(ctx, key, field, value, true)
	return err
}

// HSetNX implements store.Store.
func (s *Store) HSetNX(ctx context.Context, key, field string, value []byte) (bool, error) {
	return s.hset(ctx, key, field, value, false)
}

func (s *Store) hset(ctx context.Context, key, field string, value []byte, replace bool) (bool, error) {
	if err := live(ctx); err != nil {
		return false, err
	}
	v := clone(value)
	sh := s.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	h, err := sh.hashAt(key, s.now())
	if err != nil {
		return false, err
	}
	if h == nil {
		h = make(map[string][]byte)
		sh.m[key] = &entry{hash: h}
	}
	if _, exists := h[field]; exists && !replace {
		return false, nil
	}
	h[field] = v
	return true, nil
}

// HDel implements store.Store. Like Redis, a hash whose last field goes
// disappears.
func (s *Store) HDel(ctx context.Context, key string, fields ...string) error {
	if err := live(ctx); err != nil {
		return err
	}
	sh := s.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	h, err := sh.hashAt(key, s.now())
	if err != nil || h == nil {
		return err
	}
	for _, f := range fields {
		delete(h, f)
	}
	if len(h) == 0 {
		delete(sh.m, key)
	}
	return nil
}

// HGetAll implements store.Store.
func (s *Store) HGetAll(ctx context.Context, key string) (map[string][]byte, error) {
	if err := live(ctx); err != nil {
		return nil, err
	}
	sh := s.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	h, err := sh.hashAt(key, s.now())
	if err != nil {
		return nil, err
	}
	out := make(map[string][]byte, len(h))
	for f, v := range h {
		out[f] = clone(v)
	}
	return out, nil
}

// Ping implements store.Store; memory is always reachable.
func (s *Store) Ping(ctx context.Context) error { return live(ctx) }

// Close stops the sweeper. The data stays readable; Close only releases
// the goroutine, and calling it twice is harmless.
func (s *Store) Close() error {
	s.closeOnce.Do(func() { close(s.stop) })
	<-s.swept
	return nil
}
