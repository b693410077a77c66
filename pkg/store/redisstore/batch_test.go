package redisstore_test

import (
	"context"
	"errors"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/guestpass/guestpass/pkg/store"
	"github.com/guestpass/guestpass/pkg/store/redisstore"
	"github.com/guestpass/guestpass/pkg/store/redistest"
)

// bumpScript adds ARGV[1] to KEYS[1] and returns the new value.
var bumpScript = store.NewScript(`return {redis.call('INCRBY', KEYS[1], ARGV[1])}`,
	func(tx store.Tx, keys, args []string) ([]int64, error) {
		d, err := strconv.ParseInt(args[0], 10, 64)
		if err != nil {
			return nil, err
		}
		n, err := tx.Incr(keys[0], d, 0)
		return []int64{n}, err
	})

func TestPipelineAndRunAreOneRoundTrip(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	if err := s.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	rt := &roundTrips{}
	s.Client().AddHook(redistest.TripHook(rt.trip))
	k := func(n string) string { return store.Key("t", n) }
	calls := []struct {
		name string
		fn   func() error
	}{
		{"Pipeline", func() error {
			return s.Pipeline(ctx, store.SetOp(k("a"), []byte("1"), time.Minute), store.GetOp(k("a")),
				store.CompareAndSwapOp(k("a"), []byte("1"), []byte("2"), 0),
				store.HSetOp(k("h"), "f", []byte("v")), store.HGetOp(k("h"), "f"),
				store.SetNXOp(k("b"), []byte("1"), 0), store.DeleteOp(k("a")))
		}},
		{"Run, first time", func() error { _, err := s.Run(ctx, bumpScript, []string{k("r")}, "2"); return err }},
		{"Run", func() error { _, err := s.Run(ctx, bumpScript, []string{k("r")}, "2"); return err }},
	}
	rt.take()
	for _, c := range calls {
		if err := c.fn(); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if cmds := rt.take(); len(cmds) != 1 {
			t.Errorf("%s took %d round trips %v, want 1", c.name, len(cmds), cmds)
		}
	}
}

func TestPipelineAndRunSurviveScriptFlush(t *testing.T) {
	if shared.External() {
		t.Skip("would flush the script cache of a shared $REDIS_URL server")
	}
	s := newStore(t)
	ctx := context.Background()
	if _, err := s.Run(ctx, bumpScript, []string{store.Key("t", "r")}, "1"); err != nil {
		t.Fatal(err)
	}
	if err := s.Client().ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	cas := store.CompareAndSwapOp(store.Key("t", "c"), nil, []byte("x"), 0)
	if err := s.Pipeline(ctx, cas); err != nil || !cas.OK {
		t.Fatalf("Pipeline after SCRIPT FLUSH: %v; cas %+v", err, *cas)
	}
	if got, err := s.Run(ctx, bumpScript, []string{store.Key("t", "r")}, "1"); err != nil || len(got) != 1 || got[0] != 2 {
		t.Fatalf("Run after SCRIPT FLUSH = %v, %v", got, err)
	}
}

func TestPipelineAndRunWhileRedisIsDown(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	s, err := redisstore.New(redisstore.Options{Addrs: []string{addr}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	get, set := store.GetOp(store.Key("t", "k")), store.SetOp(store.Key("t", "k"), []byte("v"), 0)
	unavailable(t, "Pipeline", s.Pipeline(ctx, get, set))
	unavailable(t, "Pipeline's Get", get.Err)
	unavailable(t, "Pipeline's Set", set.Err)
	_, err = s.Run(ctx, bumpScript, []string{store.Key("t", "r")}, "1")
	unavailable(t, "Run", err)

	if errors.Is(get.Err, store.ErrNotFound) {
		t.Error("an outage read as not found")
	}
}
