// Package storetest is the conformance suite every store.Store must pass
// (PRODUCT.md B7): memory and Redis behave alike, down to the races that
// single-use codes and rate limits depend on.
//
// Run it from a _test.go file:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) store.Store { return newStore(t) })
//	}
//
// newStore must return an empty-looking store for each call (e.g. a fresh
// key prefix) and arrange its own cleanup; Run closes nothing. The
// subtests run in parallel.
package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/guestpass/guestpass/pkg/store"
)

// Racers is how many goroutines contend in the race subtests.
const Racers = 100

// The TTL tests let time pass with an elapse function: a store on an
// injected clock (RunOnClock) moves that clock, so its tests never wait; a
// store keeping its own time (Redis) is slept past its TTLs, with a margin
// generous enough that a loaded machine does not make a key look alive.
// Nothing here asserts how fast anything is.
const (
	shortTTL    = 300 * time.Millisecond
	sleepMargin = 700 * time.Millisecond
	longTTL     = time.Hour
)

// elapse lets d pass for the store under test.
type elapse func(d time.Duration)

// sleep is the elapse of a store that keeps its own time. A sub-millisecond
// TTL (which must still expire) needs only a short margin.
func sleep(d time.Duration) {
	if d <= time.Millisecond {
		time.Sleep(50 * time.Millisecond)
		return
	}
	time.Sleep(d + sleepMargin)
}

// Run runs the conformance suite against stores made by newStore, which
// keep their own time (the TTL tests sleep).
func Run(t *testing.T, newStore func(t *testing.T) store.Store) {
	run(t, func(t *testing.T) (store.Store, elapse) { return newStore(t), sleep })
}

// RunOnClock runs the conformance suite against stores that read the time
// from the clock they are built with: each test gets its own Clock, and the
// TTL tests advance it instead of sleeping.
func RunOnClock(t *testing.T, start time.Time, newStore func(t *testing.T, clock func() time.Time) store.Store) {
	run(t, func(t *testing.T) (store.Store, elapse) {
		c := NewClock(start)
		return newStore(t, c.Now), c.Advance
	})
}

// timeless adapts a test that lets no time pass.
func timeless(f func(t *testing.T, s store.Store)) func(*testing.T, store.Store, elapse) {
	return func(t *testing.T, s store.Store, _ elapse) { f(t, s) }
}

func run(t *testing.T, newStore func(t *testing.T) (store.Store, elapse)) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store, wait elapse)
	}{
		{"GetSetDelete", timeless(testGetSetDelete)},
		{"NotFound", timeless(testNotFound)},
		{"ValuesAreCopied", timeless(testValuesAreCopied)},
		{"ArbitraryBytes", timeless(testArbitraryBytes)},
		{"TTLExpiry", testTTLExpiry},
		{"TTLWithoutExpiry", testTTLWithoutExpiry},
		{"NegativeTTLRefused", timeless(testNegativeTTL)},
		{"SetNX", timeless(testSetNX)},
		{"SetNXRace", timeless(testSetNXRace)},
		{"Take", timeless(testTake)},
		{"TakeRace", timeless(testTakeRace)},
		{"CompareAndSwap", timeless(testCompareAndSwap)},
		{"CompareAndSwapRace", timeless(testCompareAndSwapRace)},
		{"CompareAndSwapCounter", timeless(testCompareAndSwapCounter)},
		{"Swap", testSwap},
		{"SwapRace", timeless(testSwapRace)},
		{"Incr", timeless(testIncr)},
		{"Extend", timeless(testExtend)},
		{"IncrWindow", testIncrWindow},
		{"IncrRace", timeless(testIncrRace)},
		{"Hashes", timeless(testHashes)},
		{"HSetNXRace", timeless(testHSetNXRace)},
		{"WrongType", timeless(testWrongType)},
		{"TenantIsolation", timeless(testTenantIsolation)},
		{"TaggedKeys", timeless(testTaggedKeys)},
		{"Pipeline", timeless(testPipeline)},
		{"PipelineErrors", timeless(testPipelineErrors)},
		{"PipelineEmpty", timeless(testPipelineEmpty)},
		{"Script", timeless(testScript)},
		{"ScriptRace", timeless(testScriptRace)},
		{"ScriptErrors", timeless(testScriptErrors)},
		{"PipelineRun", timeless(testPipelineRun)},
		{"OrderedSets", timeless(testOrderedSets)},
		{"Ping", timeless(testPing)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, wait := newStore(t)
			tc.fn(t, s, wait)
		})
	}
}

func ctxFor(t *testing.T) context.Context {
	// A bound on every call: a store that hangs fails the test instead of
	// stalling the package until the global timeout.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func mustGet(t *testing.T, s store.Store, ctx context.Context, key string, want []byte) {
	t.Helper()
	got, err := s.Get(ctx, key)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("Get(%q) = %q, want %q", key, got, want)
	}
}

func mustNotFound(t *testing.T, s store.Store, ctx context.Context, key string) {
	t.Helper()
	got, err := s.Get(ctx, key)
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Get(%q) = %q, %v; want ErrNotFound", key, got, err)
	}
}

func testGetSetDelete(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	k1, k2 := store.Key("t", "a"), store.Key("t", "b")
	if err := s.Set(ctx, k1, []byte("one"), 0); err != nil {
		t.Fatal(err)
	}
	mustGet(t, s, ctx, k1, []byte("one"))
	if err := s.Set(ctx, k1, []byte("two"), longTTL); err != nil {
		t.Fatal(err)
	}
	mustGet(t, s, ctx, k1, []byte("two"))
	if err := s.Set(ctx, k2, []byte{}, 0); err != nil {
		t.Fatal(err)
	}
	mustGet(t, s, ctx, k2, []byte{})

	if err := s.Delete(ctx, k1, k2, store.Key("t", "never-set")); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	mustNotFound(t, s, ctx, k1)
	mustNotFound(t, s, ctx, k2)
	if err := s.Delete(ctx); err != nil {
		t.Fatalf("Delete of nothing: %v", err)
	}
	if err := s.Delete(ctx, k1); err != nil {
		t.Fatalf("Delete of a missing key: %v", err)
	}
}

func testNotFound(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	k := store.Key("t", "missing")
	mustNotFound(t, s, ctx, k)
	if _, err := s.Take(ctx, k); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Take: %v, want ErrNotFound", err)
	}
	if _, err := s.TTL(ctx, k); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("TTL: %v, want ErrNotFound", err)
	}
	if _, err := s.HGet(ctx, k, "f"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("HGet of a missing hash: %v, want ErrNotFound", err)
	}
	if err := s.HSet(ctx, k, "f", []byte("v")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.HGet(ctx, k, "other"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("HGet of a missing field: %v, want ErrNotFound", err)
	}
}

func testValuesAreCopied(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	k, h := store.Key("t", "copy"), store.Key("t", "copyhash")
	in := []byte("original")
	if err := s.Set(ctx, k, in, 0); err != nil {
		t.Fatal(err)
	}
	if err := s.HSet(ctx, h, "f", in); err != nil {
		t.Fatal(err)
	}
	copy(in, "XXXXXXXX")
	mustGet(t, s, ctx, k, []byte("original"))

	out, err := s.Get(ctx, k)
	if err != nil {
		t.Fatal(err)
	}
	copy(out, "YYYYYYYY")
	mustGet(t, s, ctx, k, []byte("original"))

	hv, err := s.HGet(ctx, h, "f")
	if err != nil {
		t.Fatal(err)
	}
	copy(hv, "ZZZZZZZZ")
	all, err := s.HGetAll(ctx, h)
	if err != nil {
		t.Fatal(err)
	}
	if got := all["f"]; !bytes.Equal(got, []byte("original")) {
		t.Fatalf("hash value changed through a returned slice: %q", got)
	}
	copy(all["f"], "WWWWWWWW")
	hv, err = s.HGet(ctx, h, "f")
	if err != nil || !bytes.Equal(hv, []byte("original")) {
		t.Fatalf("HGet after modifying HGetAll's map = %q, %v", hv, err)
	}
}

func allBytes() []byte {
	b := make([]byte, 0, 256+4)
	b = append(b, 0x00, 0xff, 0x00, '\r', '\n')
	for i := range 256 {
		b = append(b, byte(i))
	}
	return b
}

func testArbitraryBytes(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	v := allBytes()
	k := store.Key("t", "bin")
	if err := s.Set(ctx, k, v, 0); err != nil {
		t.Fatal(err)
	}
	mustGet(t, s, ctx, k, v)

	// CompareAndSwap compares bytes exactly, NULs and high bytes included.
	almost := bytes.Clone(v)
	almost[len(almost)-1] = 0xfe
	if ok, err := s.CompareAndSwap(ctx, k, almost, []byte{0}, 0); err != nil || ok {
		t.Fatalf("CAS with a prev differing in the last byte = %v, %v; want false", ok, err)
	}
	if ok, err := s.CompareAndSwap(ctx, k, v, []byte{0x00, 0xff}, 0); err != nil || !ok {
		t.Fatalf("CAS with the exact binary prev = %v, %v; want true", ok, err)
	}
	got, err := s.Take(ctx, k)
	if err != nil || !bytes.Equal(got, []byte{0x00, 0xff}) {
		t.Fatalf("Take = %x, %v", got, err)
	}

	h := store.Key("t", "binhash")
	field := "f\x00\xff"
	if err := s.HSet(ctx, h, field, v); err != nil {
		t.Fatal(err)
	}
	hv, err := s.HGet(ctx, h, field)
	if err != nil || !bytes.Equal(hv, v) {
		t.Fatalf("HGet binary = %x, %v", hv, err)
	}
	all, err := s.HGetAll(ctx, h)
	if err != nil || !bytes.Equal(all[field], v) || len(all) != 1 {
		t.Fatalf("HGetAll binary = %v, %v", all, err)
	}
}

func testTTLExpiry(t *testing.T, s store.Store, wait elapse) {
	ctx := ctxFor(t)
	short, long := store.Key("t", "short"), store.Key("t", "long")
	nx, cas := store.Key("t", "nx"), store.Key("t", "cas")
	if err := s.Set(ctx, short, []byte("s"), shortTTL); err != nil {
		t.Fatal(err)
	}
	if err := s.Set(ctx, long, []byte("l"), longTTL); err != nil {
		t.Fatal(err)
	}
	if ok, err := s.SetNX(ctx, nx, []byte("n"), shortTTL); err != nil || !ok {
		t.Fatalf("SetNX = %v, %v", ok, err)
	}
	if ok, err := s.CompareAndSwap(ctx, cas, nil, []byte("c"), shortTTL); err != nil || !ok {
		t.Fatalf("CAS create = %v, %v", ok, err)
	}
	if d, err := s.TTL(ctx, long); err != nil || d <= 0 || d > longTTL {
		t.Fatalf("TTL(long) = %v, %v; want in (0, %v]", d, err, longTTL)
	}

	wait(shortTTL)

	mustNotFound(t, s, ctx, short)
	mustNotFound(t, s, ctx, nx)
	mustNotFound(t, s, ctx, cas)
	mustGet(t, s, ctx, long, []byte("l"))
	if _, err := s.TTL(ctx, short); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("TTL of an expired key: %v, want ErrNotFound", err)
	}
	if _, err := s.Take(ctx, short); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Take of an expired key: %v, want ErrNotFound", err)
	}
	// An expired key counts as absent for SetNX and CompareAndSwap.
	if ok, err := s.SetNX(ctx, nx, []byte("again"), 0); err != nil || !ok {
		t.Errorf("SetNX after expiry = %v, %v; want true", ok, err)
	}
	if ok, err := s.CompareAndSwap(ctx, cas, nil, []byte("again"), 0); err != nil || !ok {
		t.Errorf("CAS(prev nil) after expiry = %v, %v; want true", ok, err)
	}
	// Set replaces the expiry with its own: no ttl now means none.
	if err := s.Set(ctx, long, []byte("l2"), 0); err != nil {
		t.Fatal(err)
	}
	if d, err := s.TTL(ctx, long); err != nil || d != 0 {
		t.Errorf("TTL after Set without ttl = %v, %v; want 0", d, err)
	}
}

func testTTLWithoutExpiry(t *testing.T, s store.Store, wait elapse) {
	ctx := ctxFor(t)
	k := store.Key("t", "forever")
	if err := s.Set(ctx, k, []byte("v"), 0); err != nil {
		t.Fatal(err)
	}
	if d, err := s.TTL(ctx, k); err != nil || d != 0 {
		t.Fatalf("TTL of a key without expiry = %v, %v; want 0, nil", d, err)
	}
	h := store.Key("t", "hash")
	if err := s.HSet(ctx, h, "f", []byte("v")); err != nil {
		t.Fatal(err)
	}
	if d, err := s.TTL(ctx, h); err != nil || d != 0 {
		t.Fatalf("TTL of a hash = %v, %v; want 0, nil", d, err)
	}
	// A sub-millisecond ttl still expires (it is not "no expiry").
	tiny := store.Key("t", "tiny")
	if err := s.Set(ctx, tiny, []byte("v"), time.Microsecond); err != nil {
		t.Fatal(err)
	}
	wait(time.Millisecond)
	mustNotFound(t, s, ctx, tiny)
}

func testNegativeTTL(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	k := store.Key("t", "neg")
	if err := s.Set(ctx, k, []byte("v"), -time.Second); err == nil {
		t.Error("Set with a negative ttl succeeded")
	}
	if _, err := s.SetNX(ctx, k, []byte("v"), -time.Second); err == nil {
		t.Error("SetNX with a negative ttl succeeded")
	}
	if _, err := s.CompareAndSwap(ctx, k, nil, []byte("v"), -time.Second); err == nil {
		t.Error("CompareAndSwap with a negative ttl succeeded")
	}
	if _, err := s.Incr(ctx, k, 1, -time.Second); err == nil {
		t.Error("Incr with a negative ttl succeeded")
	}
	mustNotFound(t, s, ctx, k)
}

func testSetNX(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	k := store.Key("t", "nx")
	if ok, err := s.SetNX(ctx, k, []byte("first"), longTTL); err != nil || !ok {
		t.Fatalf("first SetNX = %v, %v; want true", ok, err)
	}
	if ok, err := s.SetNX(ctx, k, []byte("second"), longTTL); err != nil || ok {
		t.Fatalf("second SetNX = %v, %v; want false", ok, err)
	}
	mustGet(t, s, ctx, k, []byte("first"))
	if d, err := s.TTL(ctx, k); err != nil || d <= 0 || d > longTTL {
		t.Fatalf("TTL after SetNX = %v, %v", d, err)
	}
	k0 := store.Key("t", "nx0")
	if ok, err := s.SetNX(ctx, k0, []byte("v"), 0); err != nil || !ok {
		t.Fatalf("SetNX without ttl = %v, %v", ok, err)
	}
	if d, err := s.TTL(ctx, k0); err != nil || d != 0 {
		t.Fatalf("TTL after SetNX without ttl = %v, %v; want 0", d, err)
	}
}

// race starts n goroutines at once (as nearly as a barrier allows) and
// waits for them all.
func race(n int, fn func(i int)) {
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			fn(i)
		}()
	}
	close(start)
	wg.Wait()
}

func testSetNXRace(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	k := store.Key("t", "nxrace")
	var mu sync.Mutex
	winners := []int{}
	race(Racers, func(i int) {
		ok, err := s.SetNX(ctx, k, []byte(strconv.Itoa(i)), longTTL)
		if err != nil {
			t.Errorf("SetNX: %v", err)
			return
		}
		if ok {
			mu.Lock()
			winners = append(winners, i)
			mu.Unlock()
		}
	})
	if len(winners) != 1 {
		t.Fatalf("%d SetNX winners, want exactly 1", len(winners))
	}
	mustGet(t, s, ctx, k, []byte(strconv.Itoa(winners[0])))
}

func testTake(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	k := store.Key("t", "code")
	if err := s.Set(ctx, k, []byte("secret"), longTTL); err != nil {
		t.Fatal(err)
	}
	got, err := s.Take(ctx, k)
	if err != nil || !bytes.Equal(got, []byte("secret")) {
		t.Fatalf("Take = %q, %v", got, err)
	}
	if _, err := s.Take(ctx, k); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("second Take: %v, want ErrNotFound", err)
	}
	mustNotFound(t, s, ctx, k)
}

func testTakeRace(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	k := store.Key("t", "takerace")
	if err := s.Set(ctx, k, []byte("once"), longTTL); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	winners, losers := 0, 0
	race(Racers, func(int) {
		v, err := s.Take(ctx, k)
		mu.Lock()
		defer mu.Unlock()
		switch {
		case err == nil:
			winners++
			if !bytes.Equal(v, []byte("once")) {
				t.Errorf("Take winner got %q", v)
			}
		case errors.Is(err, store.ErrNotFound):
			losers++
		default:
			t.Errorf("Take: %v", err)
		}
	})
	if winners != 1 || losers != Racers-1 {
		t.Fatalf("Take race: %d winners, %d ErrNotFound; want 1 and %d", winners, losers, Racers-1)
	}
}

func testCompareAndSwap(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	k := store.Key("t", "cas")
	cas := func(prev, next []byte, ttl time.Duration, want bool) {
		t.Helper()
		ok, err := s.CompareAndSwap(ctx, k, prev, next, ttl)
		if err != nil || ok != want {
			t.Fatalf("CAS(%q -> %q) = %v, %v; want %v", prev, next, ok, err, want)
		}
	}
	cas([]byte("x"), []byte("y"), 0, false) // absent, prev not nil
	mustNotFound(t, s, ctx, k)
	cas([]byte{}, []byte("y"), 0, false) // absent is not the empty value
	mustNotFound(t, s, ctx, k)
	cas(nil, []byte("v1"), longTTL, true) // create
	mustGet(t, s, ctx, k, []byte("v1"))
	if d, err := s.TTL(ctx, k); err != nil || d <= 0 || d > longTTL {
		t.Fatalf("TTL after CAS create = %v, %v", d, err)
	}
	cas(nil, []byte("v1b"), 0, false)            // exists
	cas([]byte("wrong"), []byte("v2"), 0, false) // mismatch
	mustGet(t, s, ctx, k, []byte("v1"))
	cas([]byte("v1"), []byte("v2"), 0, true) // swap; ttl 0: no expiry now
	mustGet(t, s, ctx, k, []byte("v2"))
	if d, err := s.TTL(ctx, k); err != nil || d != 0 {
		t.Fatalf("TTL after CAS with ttl 0 = %v, %v; want 0", d, err)
	}
	cas([]byte("v2"), []byte{}, 0, true) // swap to the empty value
	mustGet(t, s, ctx, k, []byte{})
	cas(nil, []byte("z"), 0, false) // the empty value is present
	cas([]byte{}, nil, 0, true)     // delete
	mustNotFound(t, s, ctx, k)
	cas([]byte{}, nil, 0, false) // nothing left to delete
	cas(nil, nil, 0, true)       // absent and stays absent: a trivial swap
	mustNotFound(t, s, ctx, k)
}

func testCompareAndSwapRace(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	for _, start := range [][]byte{nil, []byte("v0")} {
		k := store.Key("t", "casrace", fmt.Sprint(start != nil))
		if start != nil {
			if err := s.Set(ctx, k, start, 0); err != nil {
				t.Fatal(err)
			}
		}
		var mu sync.Mutex
		winners := []int{}
		race(Racers, func(i int) {
			ok, err := s.CompareAndSwap(ctx, k, start, []byte(strconv.Itoa(i)), longTTL)
			if err != nil {
				t.Errorf("CAS: %v", err)
				return
			}
			if ok {
				mu.Lock()
				winners = append(winners, i)
				mu.Unlock()
			}
		})
		if len(winners) != 1 {
			t.Fatalf("prev %q: %d CAS winners, want exactly 1", start, len(winners))
		}
		mustGet(t, s, ctx, k, []byte(strconv.Itoa(winners[0])))
	}
}

// testCompareAndSwapCounter is the optimistic-update loop callers write
// (read, compute, CAS, retry): no increment may be lost.
func testCompareAndSwapCounter(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	k := store.Key("t", "cascounter")
	race(Racers, func(int) {
		for {
			cur, err := s.Get(ctx, k)
			var prev []byte
			n := 0
			switch {
			case errors.Is(err, store.ErrNotFound):
			case err != nil:
				t.Errorf("Get: %v", err)
				return
			default:
				prev = cur
				if n, err = strconv.Atoi(string(cur)); err != nil {
					t.Errorf("counter holds %q", cur)
					return
				}
			}
			ok, err := s.CompareAndSwap(ctx, k, prev, []byte(strconv.Itoa(n+1)), 0)
			if err != nil {
				t.Errorf("CAS: %v", err)
				return
			}
			if ok {
				return
			}
		}
	})
	mustGet(t, s, ctx, k, []byte(strconv.Itoa(Racers)))
}

// testSwap: Swap writes only over a live value, answers what it
// replaced, and keeps the key's lifetime (or its having none).
func testSwap(t *testing.T, s store.Store, wait elapse) {
	ctx := ctxFor(t)
	k := store.Key("t", "swap")
	if old, err := s.Swap(ctx, k, []byte("x")); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Swap of an absent key = %q, %v; want ErrNotFound", old, err)
	}
	mustNotFound(t, s, ctx, k) // and nothing written
	if err := s.Set(ctx, k, []byte("v1\x00\xff"), longTTL); err != nil {
		t.Fatal(err)
	}
	old, err := s.Swap(ctx, k, []byte("v2"))
	if err != nil || !bytes.Equal(old, []byte("v1\x00\xff")) {
		t.Fatalf("Swap = %q, %v; want the value replaced", old, err)
	}
	mustGet(t, s, ctx, k, []byte("v2"))
	if d, err := s.TTL(ctx, k); err != nil || d <= 0 || d > longTTL {
		t.Fatalf("TTL after Swap = %v, %v; want the key's own, in (0, %v]", d, err, longTTL)
	}
	if old, err := s.Swap(ctx, k, []byte{}); err != nil || !bytes.Equal(old, []byte("v2")) {
		t.Fatalf("Swap to the empty value = %q, %v", old, err)
	}
	if old, err := s.Swap(ctx, k, []byte("v3")); err != nil || old == nil || len(old) != 0 {
		t.Fatalf("Swap from the empty value = %q (nil %v), %v; want empty, not absent", old, old == nil, err)
	}

	forever := store.Key("t", "swap-forever")
	if err := s.Set(ctx, forever, []byte("a"), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Swap(ctx, forever, []byte("b")); err != nil {
		t.Fatal(err)
	}
	if d, err := s.TTL(ctx, forever); err != nil || d != 0 {
		t.Fatalf("TTL after Swap of a key without expiry = %v, %v; want 0", d, err)
	}

	// The lifetime kept is the key's: a swap does not make it live longer.
	short := store.Key("t", "swap-short")
	if err := s.Set(ctx, short, []byte("a"), shortTTL); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Swap(ctx, short, []byte("b")); err != nil {
		t.Fatal(err)
	}
	wait(shortTTL)
	mustNotFound(t, s, ctx, short)
	if old, err := s.Swap(ctx, short, []byte("c")); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Swap of an expired key = %q, %v; want ErrNotFound", old, err)
	}
	mustNotFound(t, s, ctx, short)
}

// testSwapRace: of many swaps from one value, exactly one gets it, and
// every other gets a value some racer wrote.
func testSwapRace(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	k := store.Key("t", "swaprace")
	if err := s.Set(ctx, k, []byte("v0"), longTTL); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	seen := map[string]int{}
	race(Racers, func(i int) {
		old, err := s.Swap(ctx, k, []byte(strconv.Itoa(i)))
		if err != nil {
			t.Errorf("Swap: %v", err)
			return
		}
		mu.Lock()
		seen[string(old)]++
		mu.Unlock()
	})
	if seen["v0"] != 1 {
		t.Fatalf("%d swaps got the first value, want exactly 1 (%v)", seen["v0"], seen)
	}
	for v, n := range seen {
		if i, err := strconv.Atoi(v); v != "v0" && (err != nil || i < 0 || i >= Racers || n != 1) {
			t.Fatalf("a swap got %q (%d times): neither the first value nor one racer's", v, n)
		}
	}
}

func testIncr(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	k := store.Key("t", "ctr")
	steps := []struct{ delta, want int64 }{{1, 1}, {1, 2}, {5, 7}, {-10, -3}, {0, -3}}
	for _, st := range steps {
		got, err := s.Incr(ctx, k, st.delta, longTTL)
		if err != nil || got != st.want {
			t.Fatalf("Incr(%d) = %d, %v; want %d", st.delta, got, err, st.want)
		}
	}
	// The counter is readable as decimal text, as in Redis.
	mustGet(t, s, ctx, k, []byte("-3"))

	// Incr on a value Set as decimal text continues from it.
	k2 := store.Key("t", "ctr2")
	if err := s.Set(ctx, k2, []byte("41"), 0); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Incr(ctx, k2, 1, longTTL); err != nil || got != 42 {
		t.Fatalf("Incr on \"41\" = %d, %v", got, err)
	}
	// It had no expiry: now it has the window (a counter never lives on
	// without one once an Incr asked for one).
	if d, err := s.TTL(ctx, k2); err != nil || d <= 0 || d > longTTL {
		t.Fatalf("TTL after Incr of an existing key without expiry = %v, %v; want the ttl", d, err)
	}
	// A counter created with ttl 0 never expires.
	k3 := store.Key("t", "ctr3")
	if _, err := s.Incr(ctx, k3, 1, 0); err != nil {
		t.Fatal(err)
	}
	if d, err := s.TTL(ctx, k3); err != nil || d != 0 {
		t.Fatalf("TTL of a counter made with ttl 0 = %v, %v; want 0", d, err)
	}
	// Not a number: an error, and the value is left alone.
	k4 := store.Key("t", "notnum")
	if err := s.Set(ctx, k4, []byte("abc"), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Incr(ctx, k4, 1, 0); err == nil || errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Incr on \"abc\": %v, want an error other than ErrNotFound", err)
	}
	mustGet(t, s, ctx, k4, []byte("abc"))
}

// testExtend: Extend lengthens a shorter lifetime, never shortens one,
// leaves a key without expiry without one, and creates nothing.
func testExtend(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	short, long, forever := store.Key("t", "ext-short"), store.Key("t", "ext-long"), store.Key("t", "ext-forever")
	for k, ttl := range map[string]time.Duration{short: time.Minute, long: 24 * time.Hour, forever: 0} {
		if err := s.Set(ctx, k, []byte("v"), ttl); err != nil {
			t.Fatal(err)
		}
	}
	if ok, err := s.Extend(ctx, short, time.Hour); err != nil || !ok {
		t.Fatalf("Extend of a shorter lifetime = %v, %v", ok, err)
	}
	if d, err := s.TTL(ctx, short); err != nil || d <= time.Minute || d > time.Hour {
		t.Errorf("TTL after Extend = %v, %v; want about an hour", d, err)
	}
	if ok, err := s.Extend(ctx, long, time.Hour); err != nil || ok {
		t.Fatalf("Extend of a longer lifetime = %v, %v; want no change", ok, err)
	}
	if d, err := s.TTL(ctx, long); err != nil || d <= time.Hour {
		t.Errorf("Extend shortened a lifetime: TTL = %v, %v", d, err)
	}
	if ok, err := s.Extend(ctx, forever, time.Hour); err != nil || ok {
		t.Fatalf("Extend of a key without expiry = %v, %v", ok, err)
	}
	if d, err := s.TTL(ctx, forever); err != nil || d != 0 {
		t.Errorf("Extend gave a key without expiry one: TTL = %v, %v", d, err)
	}
	missing := store.Key("t", "ext-missing")
	if ok, err := s.Extend(ctx, missing, time.Hour); err != nil || ok {
		t.Fatalf("Extend of an absent key = %v, %v", ok, err)
	}
	mustNotFound(t, s, ctx, missing)
	if _, err := s.Extend(ctx, short, -time.Second); err == nil {
		t.Error("Extend with a negative ttl succeeded")
	}
}

func testIncrWindow(t *testing.T, s store.Store, wait elapse) {
	ctx := ctxFor(t)
	// Creation sets the ttl; a later increment with a longer one must not
	// extend it (a fixed window, not a sliding one).
	k := store.Key("t", "window")
	if _, err := s.Incr(ctx, k, 1, time.Minute); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Incr(ctx, k, 1, longTTL); err != nil || got != 2 {
		t.Fatalf("second Incr = %d, %v", got, err)
	}
	if d, err := s.TTL(ctx, k); err != nil || d <= 0 || d > time.Minute {
		t.Fatalf("TTL after a later Incr = %v, %v; want in (0, 1m]: the window must not be extended", d, err)
	}

	// After the window the count starts again.
	short := store.Key("t", "shortwindow")
	for range 3 {
		if _, err := s.Incr(ctx, short, 1, shortTTL); err != nil {
			t.Fatal(err)
		}
	}
	wait(shortTTL)
	if got, err := s.Incr(ctx, short, 1, longTTL); err != nil || got != 1 {
		t.Fatalf("Incr after the window = %d, %v; want 1", got, err)
	}
	if d, err := s.TTL(ctx, short); err != nil || d <= time.Minute {
		t.Fatalf("TTL of the new window = %v, %v; want the new ttl", d, err)
	}
}

func testIncrRace(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	k := store.Key("t", "incrrace")
	var mu sync.Mutex
	seen := map[int64]bool{}
	race(Racers, func(int) {
		n, err := s.Incr(ctx, k, 1, longTTL)
		if err != nil {
			t.Errorf("Incr: %v", err)
			return
		}
		mu.Lock()
		seen[n] = true
		mu.Unlock()
	})
	if len(seen) != Racers {
		t.Fatalf("%d distinct results from %d increments; each must see its own", len(seen), Racers)
	}
	if got, err := s.Incr(ctx, k, 0, longTTL); err != nil || got != Racers {
		t.Fatalf("counter = %d, %v; want %d", got, err, Racers)
	}
	if d, err := s.TTL(ctx, k); err != nil || d <= 0 || d > longTTL {
		t.Fatalf("TTL = %v, %v", d, err)
	}
}

func testHashes(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	h := store.Key("t", "guests")
	all, err := s.HGetAll(ctx, h)
	if err != nil || all == nil || len(all) != 0 {
		t.Fatalf("HGetAll of a missing hash = %v (nil: %v), %v; want an empty map", all, all == nil, err)
	}
	if err := s.HSet(ctx, h, "a", []byte("1")); err != nil {
		t.Fatal(err)
	}
	if err := s.HSet(ctx, h, "b", []byte("2")); err != nil {
		t.Fatal(err)
	}
	if err := s.HSet(ctx, h, "a", []byte("1b")); err != nil {
		t.Fatal(err)
	}
	if v, err := s.HGet(ctx, h, "a"); err != nil || string(v) != "1b" {
		t.Fatalf("HGet(a) = %q, %v", v, err)
	}
	if ok, err := s.HSetNX(ctx, h, "a", []byte("nope")); err != nil || ok {
		t.Fatalf("HSetNX of an existing field = %v, %v; want false", ok, err)
	}
	if ok, err := s.HSetNX(ctx, h, "c", []byte("3")); err != nil || !ok {
		t.Fatalf("HSetNX of a new field = %v, %v; want true", ok, err)
	}
	all, err = s.HGetAll(ctx, h)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"a": "1b", "b": "2", "c": "3"}
	if len(all) != len(want) {
		t.Fatalf("HGetAll = %q, want %q", all, want)
	}
	for f, v := range want {
		if string(all[f]) != v {
			t.Fatalf("HGetAll = %q, want %q", all, want)
		}
	}
	if err := s.HDel(ctx, h, "a", "missing"); err != nil {
		t.Fatal(err)
	}
	if err := s.HDel(ctx, h); err != nil {
		t.Fatalf("HDel of no fields: %v", err)
	}
	if _, err := s.HGet(ctx, h, "a"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("HGet after HDel: %v, want ErrNotFound", err)
	}
	if err := s.HDel(ctx, h, "b", "c"); err != nil {
		t.Fatal(err)
	}
	if all, err := s.HGetAll(ctx, h); err != nil || len(all) != 0 {
		t.Fatalf("HGetAll after deleting every field = %v, %v", all, err)
	}
	if err := s.HDel(ctx, store.Key("t", "nohash"), "f"); err != nil {
		t.Fatalf("HDel on a missing hash: %v", err)
	}
	// Delete removes a whole hash.
	if err := s.HSet(ctx, h, "x", []byte("1")); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, h); err != nil {
		t.Fatal(err)
	}
	if all, err := s.HGetAll(ctx, h); err != nil || len(all) != 0 {
		t.Fatalf("HGetAll after Delete = %v, %v", all, err)
	}
}

func testHSetNXRace(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	h := store.Key("t", "hrace")
	var mu sync.Mutex
	winners := []int{}
	race(Racers, func(i int) {
		ok, err := s.HSetNX(ctx, h, "owner", []byte(strconv.Itoa(i)))
		if err != nil {
			t.Errorf("HSetNX: %v", err)
			return
		}
		if ok {
			mu.Lock()
			winners = append(winners, i)
			mu.Unlock()
		}
	})
	if len(winners) != 1 {
		t.Fatalf("%d HSetNX winners, want exactly 1", len(winners))
	}
	v, err := s.HGet(ctx, h, "owner")
	if err != nil || string(v) != strconv.Itoa(winners[0]) {
		t.Fatalf("HGet = %q, %v; want the winner %d", v, err, winners[0])
	}
}

// testWrongType: using a value as a hash (or back) is a caller bug; it
// must fail loudly in both stores rather than look like "not found".
func testWrongType(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	v, h := store.Key("t", "plain"), store.Key("t", "hash")
	if err := s.Set(ctx, v, []byte("1"), 0); err != nil {
		t.Fatal(err)
	}
	if err := s.HSet(ctx, h, "f", []byte("1")); err != nil {
		t.Fatal(err)
	}
	bad := func(what string, err error) {
		t.Helper()
		if err == nil || errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s: %v; want a wrong-type error", what, err)
		}
	}
	_, err := s.HGet(ctx, v, "f")
	bad("HGet on a value", err)
	bad("HSet on a value", s.HSet(ctx, v, "f", []byte("x")))
	_, err = s.HGetAll(ctx, v)
	bad("HGetAll on a value", err)
	_, err = s.Get(ctx, h)
	bad("Get on a hash", err)
	_, err = s.Take(ctx, h)
	bad("Take on a hash", err)
	_, err = s.Incr(ctx, h, 1, 0)
	bad("Incr on a hash", err)
	_, err = s.CompareAndSwap(ctx, h, nil, []byte("x"), 0)
	bad("CompareAndSwap on a hash", err)
	_, err = s.Swap(ctx, h, []byte("x"))
	bad("Swap on a hash", err)
	mustGet(t, s, ctx, v, []byte("1"))
	if all, err := s.HGetAll(ctx, h); err != nil || len(all) != 1 {
		t.Fatalf("hash changed: %v, %v", all, err)
	}
	// Set replaces whatever was there, as Redis SET does.
	if err := s.Set(ctx, h, []byte("now a value"), 0); err != nil {
		t.Fatalf("Set over a hash: %v", err)
	}
	mustGet(t, s, ctx, h, []byte("now a value"))
}

func testTenantIsolation(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	a, b := store.Key("a", "x"), store.Key("b", "x")
	if err := s.Set(ctx, a, []byte("A"), 0); err != nil {
		t.Fatal(err)
	}
	mustNotFound(t, s, ctx, b)
	if err := s.Set(ctx, b, []byte("B"), 0); err != nil {
		t.Fatal(err)
	}
	mustGet(t, s, ctx, a, []byte("A"))
	if v, err := s.Take(ctx, b); err != nil || string(v) != "B" {
		t.Fatalf("Take(b) = %q, %v", v, err)
	}
	mustGet(t, s, ctx, a, []byte("A"))
	if n, err := s.Incr(ctx, store.Key("a", "n"), 1, 0); err != nil || n != 1 {
		t.Fatal(n, err)
	}
	if n, err := s.Incr(ctx, store.Key("b", "n"), 1, 0); err != nil || n != 1 {
		t.Fatalf("Incr in tenant b = %d, %v; want 1 (its own counter)", n, err)
	}
	if err := s.HSet(ctx, store.Key("a", "h"), "f", []byte("A")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.HGet(ctx, store.Key("b", "h"), "f"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("HGet across tenants: %v, want ErrNotFound", err)
	}
	if err := s.Delete(ctx, b); err != nil {
		t.Fatal(err)
	}
	mustGet(t, s, ctx, a, []byte("A"))
}

func testPing(t *testing.T, s store.Store) {
	if err := s.Ping(ctxFor(t)); err != nil {
		t.Fatalf("Ping: %v", err)
	}
}

// BenchTake measures Take of distinct, pre-set keys from parallel
// goroutines (the single-use code path).
func BenchTake(b *testing.B, s store.Store) {
	ctx := context.Background()
	b.StopTimer()
	keys := make([]string, b.N)
	for i := range keys {
		keys[i] = store.Key("bench", "take", strconv.Itoa(i))
		if err := s.Set(ctx, keys[i], []byte("12345678"), time.Hour); err != nil {
			b.Fatal(err)
		}
	}
	var next sync.Mutex
	i := 0
	b.StartTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			next.Lock()
			k := keys[i]
			i++
			next.Unlock()
			if _, err := s.Take(ctx, k); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchIncr measures Incr of one hot counter from parallel goroutines
// (the rate-limit path), the worst case for contention.
func BenchIncr(b *testing.B, s store.Store) {
	ctx := context.Background()
	k := store.Key("bench", "incr")
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.Incr(ctx, k, 1, time.Hour); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// TagKey keys of one tag run in one script (one slot on a Cluster), a tag
// belongs to its tenant (the same id in another tenant is another key),
// and a TagKey is never the Key of the same parts.
func testTaggedKeys(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	keys := []string{store.TagKey("t", "flow1", "ctr"), store.TagKey("t", "flow1", "slot"), store.TagKey("t", "flow1", "toggle")}
	got, err := s.Run(ctx, claimScript, keys, "2", strconv.FormatInt(longTTL.Milliseconds(), 10), "v")
	if err != nil || len(got) != 4 || got[0] != 1 || got[1] != 1 {
		t.Fatalf("a script over one tag = %v, %v", got, err)
	}
	mustGet(t, s, ctx, keys[0], []byte("1"))
	mustNotFound(t, s, ctx, store.TagKey("u", "flow1", "ctr"))
	mustNotFound(t, s, ctx, store.Key("t", "flow1", "ctr"))
	if err := s.Delete(ctx, keys...); err != nil {
		t.Fatalf("Delete of one tag's keys: %v", err)
	}
	mustNotFound(t, s, ctx, keys[0])
}
