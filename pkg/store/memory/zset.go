package memory

import (
	"context"
	"slices"
	"time"
)

// Ordered sets (store.Store's ZAdd, ZRem, ZRangeAfter): a sorted slice of
// members per key, binary-searched. Inserting shifts the slice, which is
// a memmove of at most a few MiB for the largest index we expect
// (100,000 guests), well under a millisecond.

// zsetAt returns the live ordered set at key (nil when absent). The shard
// lock must be held.
func (sh *shard) zsetAt(key string, now time.Time) (*[]string, error) {
	e := sh.lookup(key, now)
	if e == nil {
		return nil, nil
	}
	if e.zset == nil {
		return nil, ErrWrongType
	}
	return e.zset, nil
}

func (sh *shard) zadd(key, member string, now time.Time) error {
	z, err := sh.zsetAt(key, now)
	if err != nil {
		return err
	}
	if z == nil {
		z = &[]string{}
		sh.m[key] = &entry{zset: z}
	}
	i, found := slices.BinarySearch(*z, member)
	if !found {
		*z = slices.Insert(*z, i, member)
	}
	return nil
}

func (sh *shard) zrem(key, member string, now time.Time) error {
	z, err := sh.zsetAt(key, now)
	if err != nil || z == nil {
		return err
	}
	if i, found := slices.BinarySearch(*z, member); found {
		*z = slices.Delete(*z, i, i+1)
	}
	if len(*z) == 0 {
		delete(sh.m, key)
	}
	return nil
}

// ZAdd implements store.Store.
func (s *Store) ZAdd(ctx context.Context, key string, members ...string) error {
	return s.eachMember(ctx, key, members, (*shard).zadd)
}

// ZRem implements store.Store.
func (s *Store) ZRem(ctx context.Context, key string, members ...string) error {
	return s.eachMember(ctx, key, members, (*shard).zrem)
}

// eachMember applies op (zadd or zrem) to each member of the ordered set
// at key, under the key's shard lock, stopping at the first error.
func (s *Store) eachMember(ctx context.Context, key string, members []string, op func(*shard, string, string, time.Time) error) error {
	if err := live(ctx); err != nil {
		return err
	}
	sh := s.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	for _, m := range members {
		if err := op(sh, key, m, s.now()); err != nil {
			return err
		}
	}
	return nil
}

// ZRangeAfter implements store.Store.
func (s *Store) ZRangeAfter(ctx context.Context, key, after string, limit int) ([]string, error) {
	if err := live(ctx); err != nil {
		return nil, err
	}
	if limit <= 0 {
		return []string{}, nil
	}
	sh := s.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	z, err := sh.zsetAt(key, s.now())
	if err != nil || z == nil {
		return []string{}, err
	}
	i := 0
	if after != "" {
		var found bool
		if i, found = slices.BinarySearch(*z, after); found {
			i++
		}
	}
	end := min(i+limit, len(*z))
	return slices.Clone((*z)[i:end]), nil
}

// ZCard implements store.Store.
func (s *Store) ZCard(ctx context.Context, key string) (int64, error) {
	if err := live(ctx); err != nil {
		return 0, err
	}
	sh := s.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	z, err := sh.zsetAt(key, s.now())
	if err != nil || z == nil {
		return 0, err
	}
	return int64(len(*z)), nil
}

func (t *tx) ZAdd(key, member string) error {
	sh, err := t.shard(key)
	if err != nil {
		return err
	}
	return sh.zadd(key, member, t.now)
}

func (t *tx) ZRem(key, member string) error {
	sh, err := t.shard(key)
	if err != nil {
		return err
	}
	return sh.zrem(key, member, t.now)
}
