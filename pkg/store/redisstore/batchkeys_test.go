package redisstore_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/guestpass/guestpass/pkg/store"
	"github.com/guestpass/guestpass/pkg/store/redistest"
)

// keysSent records the keys of every command sent to Redis.
type keysSent struct{ keys []string }

func (k *keysSent) trip(cmds []redis.Cmder, _ bool) {
	for _, c := range cmds {
		k.add(c)
	}
}

func (k *keysSent) add(cmd redis.Cmder) {
	args := cmd.Args()
	switch cmd.Name() {
	case "evalsha", "eval":
		n, _ := args[2].(int)
		for _, a := range args[3 : 3+n] {
			k.keys = append(k.keys, a.(string))
		}
	case "set", "get", "incrby", "pexpire", "zadd":
		k.keys = append(k.keys, args[1].(string))
	default: // the test's own cleanup (SCAN, DEL) and the like
		k.keys = append(k.keys, cmd.Name())
	}
}

// A batch's keys are cut from one string: every command still names
// exactly its own prefixed key, whatever the mix of ops (a script's
// several keys, an Incr's two commands, ops refused or answered without
// Redis in between), and the ops do what they say.
func TestPipelineSendsEachOpItsPrefixedKey(t *testing.T) {
	s, prefix := newStorePrefix(t)
	ctx := context.Background()
	if err := s.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	k := func(n string) string { return store.TagKey("t", "tag", n) }
	// Load bumpScript first, so that the batch sends EVALSHA.
	if _, err := s.Run(ctx, bumpScript, []string{k("warm")}, "1"); err != nil {
		t.Fatal(err)
	}
	sent := &keysSent{}
	s.Client().AddHook(redistest.TripHook(sent.trip))
	defer func() { sent.keys = nil }()
	ops := []*store.Op{
		store.SetOp(k("a"), []byte("1"), time.Minute),
		store.IncrOp(k("bad-ttl"), 1, -time.Second), // refused: no command
		store.RunOp(bumpScript, []string{k("r")}, "5"),
		store.ExtendOp(k("a"), 0), // answered without Redis
		store.IncrOp(k("n"), 2, time.Minute),
		store.GetOp(k("a")),
		store.RunOp(bumpScript, []string{k("r2")}, "7"),
		store.ZAddOp(k("z"), "m"),
		store.CompareAndSwapOp(k("c"), nil, []byte("x"), time.Minute),
	}
	if err := s.Pipeline(ctx, ops...); err == nil {
		t.Fatal("the refused Incr's error is not returned")
	}
	want := []string{k("a"), k("r"), k("n"), k("n"), k("a"), k("r2"), k("z"), k("c")}
	for i := range want {
		want[i] = prefix + want[i]
	}
	if !slices.Equal(sent.keys, want) {
		t.Fatalf("keys sent:\n%q\nwant\n%q", sent.keys, want)
	}
	if ops[1].Err == nil || ops[0].Err != nil || string(ops[5].Val) != "1" || ops[4].N != 2 || !ops[8].OK ||
		!slices.Equal(ops[2].Ints, []int64{5}) || !slices.Equal(ops[6].Ints, []int64{7}) {
		t.Fatalf("results: %+v %+v %+v %+v %+v %+v", ops[0], ops[1], ops[2], ops[4], ops[5], ops[8])
	}
	if v, err := s.Client().Get(ctx, prefix+k("r2")).Result(); err != nil || v != "7" {
		t.Fatalf("script key: %q, %v", v, err)
	}
}

// BenchmarkPipeline is a step's batch: three reads, a write and a script
// over two keys, in one round trip.
//
//	go test -run '^$' -bench BenchmarkPipeline -benchmem ./pkg/store/redisstore
func BenchmarkPipeline(b *testing.B) {
	s := newStore(b)
	ctx := context.Background()
	k := func(n string) string { return store.TagKey("t", "0123456789abcdef0123456789abcdef", n) }
	b.ReportAllocs()
	for b.Loop() {
		if err := s.Pipeline(ctx, store.GetOp(k("a")), store.GetOp(k("b")), store.HGetOp(k("h"), "f"),
			store.SetOp(k("c"), []byte("v"), time.Minute), store.RunOp(bumpScript, []string{k("r")}, "1")); err != nil {
			b.Fatal(err)
		}
	}
}

// keepScript stores ARGV[1] at KEYS[1] and returns the lengths of its
// arguments.
var keepScript = store.NewScript(`redis.call('SET', KEYS[1], ARGV[1]) return {#ARGV[1], #ARGV[2], #ARGV[3]}`,
	func(tx store.Tx, keys, args []string) ([]int64, error) {
		return []int64{int64(len(args[0])), int64(len(args[1])), int64(len(args[2]))}, tx.Set(keys[0], []byte(args[0]), 0)
	})

// A script's arguments reach Redis as the strings they are (go-redis is
// handed pointers to them), from Run and from a Pipeline, first runs
// (EVAL) and later ones (EVALSHA), binary and empty ones included.
func TestScriptArgumentsArriveIntact(t *testing.T) {
	s, prefix := newStorePrefix(t)
	ctx := context.Background()
	k := func(n string) string { return store.TagKey("t", "args", n) }
	for i, arg := range []string{"plain", "\x00bin\xff\r\n", strings.Repeat("long ", 1000), ""} {
		for _, via := range []string{"run", "pipeline"} {
			key := k(fmt.Sprintf("%s-%d", via, i))
			var ints []int64
			var err error
			if via == "run" {
				ints, err = s.Run(ctx, keepScript, []string{key}, arg, "", "three")
			} else {
				op := store.RunOp(keepScript, []string{key}, arg, "", "three")
				err = s.Pipeline(ctx, op)
				ints = op.Ints
			}
			if err != nil || !slices.Equal(ints, []int64{int64(len(arg)), 0, 5}) {
				t.Fatalf("%s %d: %v, %v", via, i, ints, err)
			}
			if got, err := s.Client().Get(ctx, prefix+key).Result(); err != nil || got != arg {
				t.Fatalf("%s %d: stored %q, %v", via, i, got, err)
			}
		}
	}
}

// setAllScript sets every key to ARGV[1] and returns how many.
var setAllScript = store.NewScript(`for _, k in ipairs(KEYS) do redis.call('SET', k, ARGV[1]) end return {#KEYS}`,
	func(tx store.Tx, keys, args []string) ([]int64, error) {
		for _, k := range keys {
			if err := tx.Set(k, []byte(args[0]), 0); err != nil {
				return nil, err
			}
		}
		return []int64{int64(len(keys))}, nil
	})

// Run alone cuts its keys from one string too: the script gets each of
// them, prefixed, in order, on its first run (EVAL) and later (EVALSHA).
func TestRunSendsItsPrefixedKeys(t *testing.T) {
	s, prefix := newStorePrefix(t)
	ctx := context.Background()
	keys := []string{store.TagKey("t", "run", "a"), store.TagKey("t", "run", "bb"), store.TagKey("t", "run", "")}
	for round := range 2 {
		sent := &keysSent{}
		s.Client().AddHook(redistest.TripHook(sent.trip))
		ints, err := s.Run(ctx, setAllScript, keys, fmt.Sprint(round))
		if err != nil || !slices.Equal(ints, []int64{3}) {
			t.Fatalf("round %d: %v, %v", round, ints, err)
		}
		want := []string{prefix + keys[0], prefix + keys[1], prefix + keys[2]}
		// The script's keys first (a new connection's set-up follows).
		if got := sent.keys[:min(3, len(sent.keys))]; !slices.Equal(got, want) {
			t.Fatalf("round %d: keys sent %q, want %q", round, sent.keys, want)
		}
		for _, k := range want {
			if v, err := s.Client().Get(ctx, k).Result(); err != nil || v != fmt.Sprint(round) {
				t.Fatalf("round %d: %s = %q, %v", round, k, v, err)
			}
		}
		sent.keys = nil
	}
}
