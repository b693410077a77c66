package storetest

import (
	"bytes"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/guestpass/guestpass/pkg/store"
)

// testPipeline runs every op kind in one batch and checks each result
// against the meaning of the op's own method.
func testPipeline(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	k := func(n string) string { return store.Key("t", "pipe", n) }
	if err := s.Set(ctx, k("get"), []byte("g"), 0); err != nil {
		t.Fatal(err)
	}
	if err := s.Set(ctx, k("cas"), []byte("old"), 0); err != nil {
		t.Fatal(err)
	}
	if err := s.Set(ctx, k("del"), []byte("d"), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SetNX(ctx, k("nx-taken"), []byte("first"), 0); err != nil {
		t.Fatal(err)
	}
	if err := s.Set(ctx, k("incr-old"), []byte("41"), 0); err != nil {
		t.Fatal(err)
	}
	if err := s.Set(ctx, k("swap"), []byte("before"), time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := s.Set(ctx, k("extend"), []byte("e"), time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := s.ZAdd(ctx, k("zset-rem"), "gone", "stays"); err != nil {
		t.Fatal(err)
	}
	if err := s.HSet(ctx, k("hash"), "f", []byte("hv")); err != nil {
		t.Fatal(err)
	}
	get, missing := store.GetOp(k("get")), store.GetOp(k("missing"))
	set := store.SetOp(k("set"), []byte("s"), longTTL)
	nx, nxTaken := store.SetNXOp(k("nx"), []byte("n"), 0), store.SetNXOp(k("nx-taken"), []byte("second"), 0)
	del := store.DeleteOp(k("del"))
	cas, casLost := store.CompareAndSwapOp(k("cas"), []byte("old"), []byte("new"), 0),
		store.CompareAndSwapOp(k("cas-absent"), []byte("old"), []byte("new"), 0)
	swap, swapMissing := store.SwapOp(k("swap"), []byte("after")), store.SwapOp(k("swap-absent"), []byte("x"))
	hget, hgetMissing := store.HGetOp(k("hash"), "f"), store.HGetOp(k("hash"), "nope")
	hset := store.HSetOp(k("hash2"), "g", []byte("h2"))
	zadd := store.ZAddOp(k("zset"), "m")
	zrem := store.ZRemOp(k("zset-rem"), "gone")
	incr, incrOld := store.IncrOp(k("incr"), 2, time.Minute), store.IncrOp(k("incr-old"), 1, time.Minute)
	extend, extendMissing := store.ExtendOp(k("extend"), longTTL), store.ExtendOp(k("missing"), longTTL)
	ops := []*store.Op{get, missing, set, nx, nxTaken, del, cas, casLost, swap, swapMissing, hget, hgetMissing, hset, zadd, zrem,
		incr, incrOld, extend, extendMissing}
	if err := s.Pipeline(ctx, ops...); err != nil {
		t.Fatalf("Pipeline: %v", err)
	}
	check := func(what string, ok bool, op *store.Op) {
		t.Helper()
		if !ok {
			t.Errorf("%s: %+v", what, *op)
		}
	}
	check("Get", get.Err == nil && bytes.Equal(get.Val, []byte("g")), get)
	check("Get missing", errors.Is(missing.Err, store.ErrNotFound), missing)
	check("Set", set.Err == nil, set)
	check("SetNX", nx.Err == nil && nx.OK, nx)
	check("SetNX taken", nxTaken.Err == nil && !nxTaken.OK, nxTaken)
	check("Delete", del.Err == nil, del)
	check("CompareAndSwap", cas.Err == nil && cas.OK, cas)
	check("CompareAndSwap lost", casLost.Err == nil && !casLost.OK, casLost)
	check("Swap", swap.Err == nil && bytes.Equal(swap.Val, []byte("before")), swap)
	check("Swap missing", errors.Is(swapMissing.Err, store.ErrNotFound), swapMissing)
	check("HGet", hget.Err == nil && bytes.Equal(hget.Val, []byte("hv")), hget)
	check("HGet missing field", errors.Is(hgetMissing.Err, store.ErrNotFound), hgetMissing)
	check("HSet", hset.Err == nil, hset)
	check("ZAdd", zadd.Err == nil, zadd)
	check("ZRem", zrem.Err == nil, zrem)
	check("Incr", incr.Err == nil && incr.N == 2, incr)
	check("Incr existing", incrOld.Err == nil && incrOld.N == 42, incrOld)
	check("Extend", extend.Err == nil && extend.OK, extend)
	check("Extend missing", extendMissing.Err == nil && !extendMissing.OK, extendMissing)

	// The effects are those of the single methods.
	mustGet(t, s, ctx, k("set"), []byte("s"))
	mustGet(t, s, ctx, k("nx"), []byte("n"))
	mustGet(t, s, ctx, k("nx-taken"), []byte("first"))
	mustNotFound(t, s, ctx, k("del"))
	mustGet(t, s, ctx, k("cas"), []byte("new"))
	mustNotFound(t, s, ctx, k("cas-absent"))
	mustGet(t, s, ctx, k("swap"), []byte("after"))
	mustNotFound(t, s, ctx, k("swap-absent"))
	if left, err := s.TTL(ctx, k("set")); err != nil || left <= 0 {
		t.Errorf("Set's ttl: TTL = %v, %v", left, err)
	}
	if v, err := s.HGet(ctx, k("hash2"), "g"); err != nil || !bytes.Equal(v, []byte("h2")) {
		t.Errorf("HSet: HGet = %q, %v", v, err)
	}
	if m, err := s.ZRangeAfter(ctx, k("zset"), "", 10); err != nil || len(m) != 1 || m[0] != "m" {
		t.Errorf("ZAdd: ZRangeAfter = %q, %v", m, err)
	}
	if m, err := s.ZRangeAfter(ctx, k("zset-rem"), "", 10); err != nil || len(m) != 1 || m[0] != "stays" {
		t.Errorf("ZRem: ZRangeAfter = %q, %v", m, err)
	}
	for key, max := range map[string]time.Duration{k("incr"): time.Minute, k("incr-old"): longTTL, k("extend"): longTTL,
		k("swap"): time.Minute} {
		if left, err := s.TTL(ctx, key); err != nil || left <= 0 || left > max {
			t.Errorf("TTL of %s = %v, %v; want in (0, %v]", key, left, err, max)
		}
	}

	// Ops on one key run in order.
	a, b, c := store.SetNXOp(k("seq"), []byte("1"), 0), store.CompareAndSwapOp(k("seq"), []byte("1"), []byte("2"), 0), store.GetOp(k("seq"))
	if err := s.Pipeline(ctx, a, b, c); err != nil {
		t.Fatal(err)
	}
	if !a.OK || !b.OK || string(c.Val) != "2" {
		t.Fatalf("in-order ops: %v, %v, %q", a.OK, b.OK, c.Val)
	}
}

// testPipelineErrors: an op's error stays its own; the others still run.
func testPipelineErrors(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	h, v := store.Key("t", "pe", "hash"), store.Key("t", "pe", "ok")
	if err := s.HSet(ctx, h, "f", []byte("1")); err != nil {
		t.Fatal(err)
	}
	wrong := store.GetOp(h)
	neg := store.SetOp(store.Key("t", "pe", "neg"), []byte("x"), -time.Second)
	ok := store.SetOp(v, []byte("fine"), 0)
	missing := store.GetOp(store.Key("t", "pe", "missing"))
	err := s.Pipeline(ctx, missing, wrong, neg, ok)
	if err == nil || errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Pipeline = %v, want the first real op error", err)
	}
	if wrong.Err == nil || errors.Is(wrong.Err, store.ErrNotFound) {
		t.Errorf("Get on a hash: %v", wrong.Err)
	}
	if neg.Err == nil {
		t.Error("negative ttl accepted in a pipeline")
	}
	if ok.Err != nil {
		t.Errorf("good op next to bad ones: %v", ok.Err)
	}
	if !errors.Is(missing.Err, store.ErrNotFound) {
		t.Errorf("missing: %v", missing.Err)
	}
	mustGet(t, s, ctx, v, []byte("fine"))
	mustNotFound(t, s, ctx, store.Key("t", "pe", "neg"))

	// ErrNotFound alone is an answer, not a failure.
	if err := s.Pipeline(ctx, store.GetOp(store.Key("t", "pe", "missing"))); err != nil {
		t.Fatalf("Pipeline of a missing key = %v, want nil", err)
	}
}

func testPipelineEmpty(t *testing.T, s store.Store) {
	if err := s.Pipeline(ctxFor(t)); err != nil {
		t.Fatalf("empty Pipeline: %v", err)
	}
}

// claimScript exercises every Tx method. KEYS: counter, slot, toggle.
// ARGV: limit, ttl (ms), value. It counts a claim in the counter's
// window; within the limit it sets the slot (NX, ttl) and flips the
// toggle (set without expiry when absent, deleted when present).
// Returns {counter, slotWon, slotAlive(1/0), toggleNowSet(1/0)}, or
// {counter, -1, -1, -1} past the limit.
var claimScript = store.NewScript(`
local limit, ttl = tonumber(ARGV[1]), tonumber(ARGV[2])
local existed = redis.call('EXISTS', KEYS[1])
local n = redis.call('INCRBY', KEYS[1], 1)
if existed == 0 and ttl > 0 then redis.call('PEXPIRE', KEYS[1], ttl) end
if n > limit then return {n, -1, -1, -1} end
local won = 0
if redis.call('SET', KEYS[2], ARGV[3], 'NX', 'PX', ttl) then won = 1 end
local alive = 0
if redis.call('PTTL', KEYS[2]) > 0 then alive = 1 end
local set = 0
if redis.call('GET', KEYS[3]) then
  redis.call('DEL', KEYS[3])
else
  redis.call('SET', KEYS[3], ARGV[3])
  set = 1
end
return {n, won, alive, set}
`, func(tx store.Tx, keys, args []string) ([]int64, error) {
	limit, err := strconv.ParseInt(args[0], 10, 64)
	if err != nil {
		return nil, err
	}
	ms, err := strconv.ParseInt(args[1], 10, 64)
	if err != nil {
		return nil, err
	}
	ttl := time.Duration(ms) * time.Millisecond
	n, err := tx.Incr(keys[0], 1, ttl)
	if err != nil {
		return nil, err
	}
	if n > limit {
		return []int64{n, -1, -1, -1}, nil
	}
	ok, err := tx.SetNX(keys[1], []byte(args[2]), ttl)
	if err != nil {
		return nil, err
	}
	won, alive, set := int64(0), int64(0), int64(0)
	if ok {
		won = 1
	}
	if left, err := tx.TTL(keys[1]); err == nil && left > 0 {
		alive = 1
	}
	if _, err := tx.Get(keys[2]); err == nil {
		if err := tx.Delete(keys[2]); err != nil {
			return nil, err
		}
	} else if errors.Is(err, store.ErrNotFound) {
		if err := tx.Set(keys[2], []byte(args[2]), 0); err != nil {
			return nil, err
		}
		set = 1
	} else {
		return nil, err
	}
	return []int64{n, won, alive, set}, nil
})

func testScript(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	keys := []string{store.Key("t", "sc", "ctr"), store.Key("t", "sc", "slot"), store.Key("t", "sc", "toggle")}
	want := [][]int64{{1, 1, 1, 1}, {2, 0, 1, 0}, {3, -1, -1, -1}}
	for i, w := range want {
		got, err := s.Run(ctx, claimScript, keys, "2", strconv.FormatInt(longTTL.Milliseconds(), 10), "v")
		if err != nil {
			t.Fatalf("run %d: %v", i+1, err)
		}
		if len(got) != len(w) {
			t.Fatalf("run %d = %v, want %v", i+1, got, w)
		}
		for j := range w {
			if got[j] != w[j] {
				t.Fatalf("run %d = %v, want %v", i+1, got, w)
			}
		}
	}
	mustGet(t, s, ctx, keys[0], []byte("3"))
	mustGet(t, s, ctx, keys[1], []byte("v"))
	mustNotFound(t, s, ctx, keys[2])
	if left, err := s.TTL(ctx, keys[0]); err != nil || left <= 0 || left > longTTL {
		t.Fatalf("counter window: %v, %v", left, err)
	}
}

// counterScript is a read-modify-write that is only right if atomic.
var counterScript = store.NewScript(`
local n = (tonumber(redis.call('GET', KEYS[1])) or 0) + 1
redis.call('SET', KEYS[1], tostring(n))
return {n}
`, func(tx store.Tx, keys, _ []string) ([]int64, error) {
	var n int64
	v, err := tx.Get(keys[0])
	switch {
	case err == nil:
		if n, err = strconv.ParseInt(string(v), 10, 64); err != nil {
			return nil, err
		}
	case !errors.Is(err, store.ErrNotFound):
		return nil, err
	}
	n++
	return []int64{n}, tx.Set(keys[0], []byte(strconv.FormatInt(n, 10)), 0)
})

func testScriptRace(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	key := store.Key("t", "sc", "race")
	var mu sync.Mutex
	seen := map[int64]bool{}
	race(Racers, func(int) {
		got, err := s.Run(ctx, counterScript, []string{key})
		if err != nil || len(got) != 1 {
			t.Errorf("Run: %v, %v", got, err)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if seen[got[0]] {
			t.Errorf("two runs both saw %d", got[0])
		}
		seen[got[0]] = true
	})
	mustGet(t, s, ctx, key, []byte(strconv.Itoa(Racers)))
}

func testScriptErrors(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	h := store.Key("t", "sc", "hash")
	if err := s.HSet(ctx, h, "f", []byte("1")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Run(ctx, counterScript, []string{h}); err == nil || errors.Is(err, store.ErrNotFound) {
		t.Fatalf("script on a hash = %v, want a wrong-type error", err)
	}
	// A later run on a good key still works (the store's state is sane).
	if got, err := s.Run(ctx, counterScript, []string{store.Key("t", "sc", "after")}); err != nil || len(got) != 1 || got[0] != 1 {
		t.Fatalf("after an error: %v, %v", got, err)
	}
}

// testPipelineRun: a script runs inside a pipeline, after the ops before
// it, and atomically; its results come back in the op.
func testPipelineRun(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	key := store.Key("t", "pr", "n")
	for round := int64(1); round <= 2; round++ { // first run EVAL, then EVALSHA
		set := store.SetOp(store.Key("t", "pr", "before"), []byte("x"), 0)
		run := store.RunOp(counterScript, []string{key})
		get := store.GetOp(key)
		if err := s.Pipeline(ctx, set, run, get); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		if run.Err != nil || len(run.Ints) != 1 || run.Ints[0] != round {
			t.Fatalf("round %d: run = %v, %v", round, run.Ints, run.Err)
		}
		if get.Err != nil || string(get.Val) != strconv.FormatInt(round, 10) {
			t.Fatalf("round %d: get after run = %q, %v", round, get.Val, get.Err)
		}
	}
	var mu sync.Mutex
	seen := map[int64]bool{}
	race(Racers, func(int) {
		op := store.RunOp(counterScript, []string{store.Key("t", "pr", "race")})
		if err := s.Pipeline(ctx, op); err != nil || len(op.Ints) != 1 {
			t.Errorf("pipelined run: %v, %v", op.Ints, err)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if seen[op.Ints[0]] {
			t.Errorf("two pipelined runs both saw %d", op.Ints[0])
		}
		seen[op.Ints[0]] = true
	})
}
