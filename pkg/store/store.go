// Package store defines the storage the product needs and nothing more.
//
// Two implementations live below it: memory (the embedded default) and
// redis (production). Both pass the conformance suite in storetest.
//
// Keys are opaque strings built by callers with Key or TagKey; both carry
// the tenant. The first braces of a key are its Redis Cluster hash tag,
// which picks its slot: Key tags with the tenant alone ("{tenant}:kind:id",
// for what is one per tenant or read by a script with such a key), TagKey
// with the tenant and what a script or a step keeps together — a flow, an
// address, a token ("{tenant:tag}:kind") — so that one tenant's keys spread
// over a Cluster's nodes. The Redis implementation prepends the configured
// key prefix.
package store

import (
	"context"
	"errors"
	"strings"
	"time"
)

// ErrNotFound is returned when a key (or hash field) does not exist or has
// expired.
var ErrNotFound = errors.New("store: not found")

// ErrUnavailable wraps every failure to reach the backing service, so that
// HTTP layers can answer 503 without knowing the backend.
var ErrUnavailable = errors.New("store: unavailable")

// Down reports whether err means the store could not be reached in time:
// ErrUnavailable, or a deadline that ran out waiting for it. Every answer
// to an outage (a 503 the client may retry) decides with it, so that no
// part of guestpass calls a slow store a server error.
func Down(err error) bool {
	return errors.Is(err, ErrUnavailable) || errors.Is(err, context.DeadlineExceeded)
}

// Store is everything guestpass keeps. A ttl of 0 means "no expiry".
type Store interface {
	// Get returns the value of key, or ErrNotFound.
	Get(ctx context.Context, key string) ([]byte, error)
	// Set stores value under key, replacing any earlier value.
	Set(ctx context.Context, key string, value []byte, ttl time.Duration) error
	// SetNX stores value only when key is absent; it reports whether it did.
	SetNX(ctx context.Context, key string, value []byte, ttl time.Duration) (bool, error)
	// Delete removes keys; missing keys are not an error.
	Delete(ctx context.Context, keys ...string) error
	// Take atomically returns and deletes key (single use). Of several
	// concurrent callers exactly one gets the value; the others ErrNotFound.
	Take(ctx context.Context, key string) ([]byte, error)
	// CompareAndSwap replaces the value of key with next only when its
	// current value equals prev (prev nil: only when key is absent; next
	// nil: delete the key). It reports whether it swapped; of several
	// concurrent callers with the same prev at most one succeeds. ttl
	// applies to the new value.
	CompareAndSwap(ctx context.Context, key string, prev, next []byte, ttl time.Duration) (bool, error)
	// Swap replaces the value of key with next (nil: the empty value, not
	// a deletion), keeping its lifetime, and returns the value it
	// replaced; an absent key stays absent (nothing is written) and the
	// answer is ErrNotFound. Swaps of one key are
	// serialised: each gets what the one before it wrote, so of several
	// swaps from one value exactly one gets that value. A caller that
	// compares the answer with what it read has a compare-and-swap whose
	// loser writes too: enough where every writer writes the same (a
	// record marked spent), and one plain command in Redis, not a script.
	Swap(ctx context.Context, key string, next []byte) ([]byte, error)
	// Incr adds delta to the integer counter at key and returns the new
	// value. When the counter is created, it expires after ttl (a fixed
	// window); later increments do not extend it. (A counter that has no
	// expiry, made with ttl 0 or by Set, gets one from an Incr with ttl.)
	Incr(ctx context.Context, key string, delta int64, ttl time.Duration) (int64, error)
	// Extend makes key live at least ttl from now: it lengthens a shorter
	// lifetime and never shortens one (a key without expiry keeps none).
	// It reports whether it lengthened; an absent key stays absent.
	Extend(ctx context.Context, key string, ttl time.Duration) (bool, error)
	// TTL returns the remaining lifetime of key: ErrNotFound when absent,
	// 0 when it has no expiry.
	TTL(ctx context.Context, key string) (time.Duration, error)

	// HGet returns one field of the hash at key, or ErrNotFound.
	HGet(ctx context.Context, key, field string) ([]byte, error)
	// HSet sets one field of the hash at key (hashes have no TTL).
	HSet(ctx context.Context, key, field string, value []byte) error
	// HSetNX sets the field only when it is absent and reports whether it did.
	HSetNX(ctx context.Context, key, field string, value []byte) (bool, error)
	// HDel removes fields; missing ones are not an error.
	HDel(ctx context.Context, key string, fields ...string) error
	// HGetAll lists the whole hash (an empty map when absent).
	HGetAll(ctx context.Context, key string) (map[string][]byte, error)

	// ZAdd adds members to the ordered set at key (no TTL). Members of an
	// ordered set are kept in byte order (Redis: a sorted set whose scores
	// are all 0, read BYLEX), which is what an index of lists needs: a
	// member that starts with a fixed-width time stamp sorts by time.
	ZAdd(ctx context.Context, key string, members ...string) error
	// ZRem removes members from the ordered set at key; missing ones are
	// not an error. An ordered set whose last member goes disappears.
	ZRem(ctx context.Context, key string, members ...string) error
	// ZRangeAfter returns at most limit members of the ordered set at key
	// that sort after after ("": from the first), in order. It costs
	// O(log n + limit), whatever the size of the set (cursor paging).
	ZRangeAfter(ctx context.Context, key, after string, limit int) ([]string, error)
	// ZCard returns the number of members of the ordered set at key (0
	// when absent): a queue's depth, read in O(1).
	ZCard(ctx context.Context, key string) (int64, error)

	// Pipeline runs independent single-key operations in one round trip
	// (memory: one after the other). Each op is as atomic as its own
	// method; the batch is not a transaction, and other clients' commands
	// may run between its ops. Every op gets its results and its own Err
	// (ErrNotFound included). Pipeline returns the first op error other
	// than ErrNotFound, or nil.
	Pipeline(ctx context.Context, ops ...*Op) error
	// Run runs script atomically over keys, which must all carry one
	// hash tag (one Cluster slot: the same Key tenant or TagKey tag). args reach the script as
	// ARGV (Lua) or args (the Go twin).
	Run(ctx context.Context, script *Script, keys []string, args ...string) ([]int64, error)

	// Ping reports whether the store is reachable (readiness).
	Ping(ctx context.Context) error
	// Close releases connections.
	Close() error
}

// Key builds a tenant-scoped key: "{tenant}:part:part...". The braces are a
// Redis Cluster hash tag: every Key of a tenant lands in one slot. Use it
// for what is one per tenant (indexes, tenant-wide counters, signing keys)
// and what a script reads with such keys; everything else is a TagKey.
func Key(tenant string, parts ...string) string {
	return buildKey(tenant, "", false, parts)
}

// TagKey builds a tenant-scoped key whose hash tag is the tenant and tag
// together: "{tenant:tag}:part:part...". Keys of one tenant with different
// tags land in different slots, so a big tenant spreads over a Cluster;
// keys a script runs over (or that belong together, like the records of
// one authorization request) share a tag. tag is an id or a hash: it must
// not contain '}'. A tenant id holds no ':', so tenants cannot collide.
func TagKey(tenant, tag string, parts ...string) string {
	return buildKey(tenant, tag, true, parts)
}

// buildKey writes "{tenant}:part..." or, tagged, "{tenant:tag}:part..."
// in one allocation of the exact size: a sign-in builds some fifty keys,
// and a growing Builder (with TagKey's concatenation first) made three to
// five allocations for each.
func buildKey(tenant, tag string, tagged bool, parts []string) string {
	n := 2 + len(tenant) + len(parts)
	if tagged {
		n += 1 + len(tag)
	}
	for _, p := range parts {
		n += len(p)
	}
	var b strings.Builder
	b.Grow(n)
	b.WriteByte('{')
	b.WriteString(tenant)
	if tagged {
		b.WriteByte(':')
		b.WriteString(tag)
	}
	b.WriteByte('}')
	for _, p := range parts {
		b.WriteByte(':')
		b.WriteString(p)
	}
	return b.String()
}
