package memory

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/guestpass/guestpass/pkg/store"
)

// Pipeline implements store.Store: memory has no round trips to save, so
// the ops simply run one after the other.
func (s *Store) Pipeline(ctx context.Context, ops ...*store.Op) error {
	for _, op := range ops {
		store.Apply(ctx, s, op)
	}
	return store.FirstError(ops)
}

// Run implements store.Store: the script's Go twin runs with the shards of
// all its keys locked, so it is as atomic as the Lua script on Redis.
func (s *Store) Run(ctx context.Context, script *store.Script, keys []string, args ...string) ([]int64, error) {
	if err := live(ctx); err != nil {
		return nil, err
	}
	idx := make([]int, 0, len(keys))
	for _, k := range keys {
		idx = append(idx, s.shardIndex(k))
	}
	slices.Sort(idx)
	idx = slices.Compact(idx)
	for _, i := range idx {
		s.shards[i].mu.Lock()
	}
	defer func() {
		for _, i := range idx {
			s.shards[i].mu.Unlock()
		}
	}()
	tx := &tx{s: s, keys: keys, now: s.now()}
	res, err := script.Twin(tx, keys, args)
	if err != nil {
		return nil, fmt.Errorf("memory store: script: %w", err)
	}
	return res, nil
}

// tx is the Tx of one Run: every method works on a shard already locked.
type tx struct {
	s    *Store
	keys []string
	now  time.Time
}

// shard returns the locked shard of key, refusing keys the script was not
// given (Redis Cluster would refuse them too).
func (t *tx) shard(key string) (*shard, error) {
	if !slices.Contains(t.keys, key) {
		return nil, fmt.Errorf("key %q was not passed to the script", key)
	}
	return t.s.shard(key), nil
}

func (t *tx) Get(key string) ([]byte, error) {
	sh, err := t.shard(key)
	if err != nil {
		return nil, err
	}
	return sh.get(key, t.now)
}

func (t *tx) Set(key string, value []byte, ttl time.Duration) error {
	if err := checkTTL(ttl); err != nil {
		return err
	}
	sh, err := t.shard(key)
	if err != nil {
		return err
	}
	sh.set(key, clone(value), ttl, t.now)
	return nil
}

func (t *tx) SetNX(key string, value []byte, ttl time.Duration) (bool, error) {
	if err := checkTTL(ttl); err != nil {
		return false, err
	}
	sh, err := t.shard(key)
	if err != nil {
		return false, err
	}
	return sh.setNX(key, clone(value), ttl, t.now), nil
}

func (t *tx) Delete(key string) error {
	sh, err := t.shard(key)
	if err != nil {
		return err
	}
	delete(sh.m, key)
	return nil
}

func (t *tx) Incr(key string, delta int64, ttl time.Duration) (int64, error) {
	if err := checkTTL(ttl); err != nil {
		return 0, err
	}
	sh, err := t.shard(key)
	if err != nil {
		return 0, err
	}
	return sh.incr(key, delta, ttl, t.now)
}

func (t *tx) TTL(key string) (time.Duration, error) {
	sh, err := t.shard(key)
	if err != nil {
		return 0, err
	}
	return sh.ttl(key, t.now)
}

func (t *tx) HSet(key, field string, value []byte) error {
	sh, err := t.shard(key)
	if err != nil {
		return err
	}
	h, err := sh.hashAt(key, t.now)
	if err != nil {
		return err
	}
	if h == nil {
		h = make(map[string][]byte)
		sh.m[key] = &entry{hash: h}
	}
	h[field] = clone(value)
	return nil
}

func (t *tx) HGet(key, field string) ([]byte, error) {
	sh, err := t.shard(key)
	if err != nil {
		return nil, err
	}
	h, err := sh.hashAt(key, t.now)
	if err != nil {
		return nil, err
	}
	v, ok := h[field]
	if !ok {
		return nil, store.ErrNotFound
	}
	return clone(v), nil
}
