package redisstore_test

import (
	"context"
	"errors"
	"net"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/guestpass/guestpass/pkg/store"
	"github.com/guestpass/guestpass/pkg/store/redisstore"
	"github.com/guestpass/guestpass/pkg/store/redistest"
	"github.com/guestpass/guestpass/pkg/store/storetest"
)

// shared is the package's redis-server (or $REDIS_URL), started once in
// TestMain; every test isolates itself with its own key prefix.
var shared *redistest.Server

// quietLog drops go-redis's own log lines (one per failed dial), which
// the outage tests would otherwise spray over the output.
type quietLog struct{}

func (quietLog) Printf(context.Context, string, ...any) {}

func TestMain(m *testing.M) {
	redis.SetLogger(quietLog{})
	redistest.Main(m, &shared)
}

func options(srv *redistest.Server, prefix string) redisstore.Options {
	return redisstore.Options{
		Addrs:     []string{srv.Addr},
		Username:  srv.Username,
		Password:  srv.Password,
		DB:        srv.DB,
		KeyPrefix: prefix,
	}
}

// newStore returns a Store on the shared server with a fresh prefix; its
// keys are removed afterwards so a shared $REDIS_URL stays clean.
func newStore(tb testing.TB) *redisstore.Store {
	tb.Helper()
	s, _ := newStorePrefix(tb)
	return s
}

func newStorePrefix(tb testing.TB) (*redisstore.Store, string) {
	tb.Helper()
	return newStoreOn(tb, shared)
}

// newStoreOn is newStorePrefix on srv.
func newStoreOn(tb testing.TB, srv *redistest.Server) (*redisstore.Store, string) {
	tb.Helper()
	prefix := redistest.KeyPrefix(tb)
	s, err := redisstore.New(options(srv, prefix))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c := s.Client()
		iter := c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			c.Del(ctx, iter.Val())
		}
		_ = s.Close()
	})
	return s, prefix
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return newStore(t) })
}

// The suite over a unix socket: the server listens on nothing else, so
// every call, with its connection's version check and script loading,
// went through the socket.
func TestConformanceOverUnixSocket(t *testing.T) {
	srv := redistest.StartUnix(t)
	storetest.Run(t, func(t *testing.T) store.Store {
		s, _ := newStoreOn(t, srv)
		return s
	})
}

func TestKeysCarryPrefix(t *testing.T) {
	s, prefix := newStorePrefix(t)
	ctx := context.Background()
	if err := s.Set(ctx, store.Key("acme", "x"), []byte("v"), 0); err != nil {
		t.Fatal(err)
	}
	// Look with a plain client: the key is stored under the prefix, with
	// the tenant's hash tag intact.
	raw := redis.NewClient(&redis.Options{Addr: shared.Addr, Username: shared.Username, Password: shared.Password, DB: shared.DB})
	defer raw.Close()
	if v, err := raw.Get(ctx, prefix+"{acme}:x").Result(); err != nil || v != "v" {
		t.Fatalf("raw GET of the prefixed key = %q, %v", v, err)
	}
	if n, err := raw.Exists(ctx, "{acme}:x").Result(); err != nil || n != 0 {
		t.Fatalf("unprefixed key exists: %d, %v", n, err)
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	for _, o := range []redisstore.Options{
		{},
		{Addrs: []string{"127.0.0.1:1"}, KeyPrefix: "gp:{x}:"},
		// Cluster nodes and Sentinels announce TCP addresses.
		{Addrs: []string{"127.0.0.1:1", "/run/redis/redis.sock"}},
		{Addrs: []string{"/run/redis/redis.sock"}, MasterName: "mymaster"},
	} {
		if _, err := redisstore.New(o); err == nil {
			t.Errorf("New(%+v) succeeded", o)
		}
	}
}

// roundTrips counts commands sent through the client (each is one round
// trip; a pipeline counts as one).
type roundTrips struct {
	mu   sync.Mutex
	cmds []string
}

// trip records a command sent alone by its name, a pipeline as "pipeline".
func (r *roundTrips) trip(cmds []redis.Cmder, pipeline bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if pipeline {
		r.cmds = append(r.cmds, "pipeline")
	} else {
		r.cmds = append(r.cmds, cmds[0].Name())
	}
}

func (r *roundTrips) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := r.cmds
	r.cmds = nil
	return c
}

func TestEveryMethodIsOneRoundTrip(t *testing.T) {
	everyMethodIsOneRoundTrip(t, newStore(t))
}

// Over a socket too: the connection's setup loaded the scripts, or CAS
// would take a second trip (NOSCRIPT, then EVAL).
func TestEveryMethodIsOneRoundTripOverUnixSocket(t *testing.T) {
	s, _ := newStoreOn(t, redistest.StartUnix(t))
	everyMethodIsOneRoundTrip(t, s)
}

func everyMethodIsOneRoundTrip(t *testing.T, s *redisstore.Store) {
	ctx := context.Background()
	// Warm the single connection first: its handshake and script loading
	// are per connection, not per call.
	if err := s.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	rt := &roundTrips{}
	s.Client().AddHook(redistest.TripHook(rt.trip))
	k, h := store.Key("t", "k"), store.Key("t", "h")

	calls := []struct {
		name string
		fn   func() error
	}{
		{"Set", func() error { return s.Set(ctx, k, []byte("1"), time.Minute) }},
		{"Get", func() error { _, err := s.Get(ctx, k); return err }},
		{"SetNX", func() error { _, err := s.SetNX(ctx, k, []byte("1"), time.Minute); return err }},
		{"SetNX no ttl", func() error { _, err := s.SetNX(ctx, k+"2", []byte("1"), 0); return err }},
		{"TTL", func() error { _, err := s.TTL(ctx, k); return err }},
		{"CompareAndSwap", func() error { _, err := s.CompareAndSwap(ctx, k, []byte("1"), []byte("2"), time.Minute); return err }},
		{"CompareAndSwap create", func() error { _, err := s.CompareAndSwap(ctx, k+"3", nil, []byte("2"), 0); return err }},
		{"Take", func() error { _, err := s.Take(ctx, k); return err }},
		{"Incr create", func() error { _, err := s.Incr(ctx, k, 1, time.Minute); return err }},
		{"Incr", func() error { _, err := s.Incr(ctx, k, 1, time.Minute); return err }},
		{"Delete", func() error { return s.Delete(ctx, k, k+"2", k+"3") }},
		{"HSet", func() error { return s.HSet(ctx, h, "f", []byte("1")) }},
		{"HSetNX", func() error { _, err := s.HSetNX(ctx, h, "g", []byte("1")); return err }},
		{"HGet", func() error { _, err := s.HGet(ctx, h, "f"); return err }},
		{"HGetAll", func() error { _, err := s.HGetAll(ctx, h); return err }},
		{"HDel", func() error { return s.HDel(ctx, h, "f", "g") }},
		{"Ping", func() error { return s.Ping(ctx) }},
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

func TestScriptsSurviveScriptFlush(t *testing.T) {
	// After SCRIPT FLUSH (or on a server that lost its cache) the scripts
	// still work: EVALSHA falls back to EVAL.
	if shared.External() {
		t.Skip("would flush the script cache of a shared $REDIS_URL server")
	}
	s := newStore(t)
	ctx := context.Background()
	if err := s.Client().ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if n, err := s.Incr(ctx, store.Key("t", "n"), 1, 0); err != nil || n != 1 {
		t.Fatalf("Incr after SCRIPT FLUSH = %d, %v", n, err)
	}
	if ok, err := s.CompareAndSwap(ctx, store.Key("t", "c"), nil, []byte("x"), 0); err != nil || !ok {
		t.Fatalf("CAS after SCRIPT FLUSH = %v, %v", ok, err)
	}
}

// unavailable checks that err is a wrapped outage, not a hang or a panic.
func unavailable(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("%s: %v; want errors.Is(err, store.ErrUnavailable)", what, err)
	}
}

func TestNewWhileRedisIsDown(t *testing.T) {
	// A port nothing listens on: New must still succeed (readiness and
	// 503s deal with the outage), but every call fails as unavailable.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()

	s, err := redisstore.New(redisstore.Options{Addrs: []string{addr}})
	if err != nil {
		t.Fatalf("New with Redis down: %v", err)
	}
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	unavailable(t, "Ping", s.Ping(ctx))
	_, err = s.Get(ctx, store.Key("t", "k"))
	unavailable(t, "Get", err)
	unavailable(t, "Set", s.Set(ctx, store.Key("t", "k"), []byte("v"), 0))
	_, err = s.Incr(ctx, store.Key("t", "k"), 1, 0)
	unavailable(t, "Incr", err)
}

func TestOutageAndRecovery(t *testing.T) {
	srv := redistest.Start(t) // private: this test kills it
	if srv.External() {
		t.Skip("needs a private redis-server; $REDIS_URL is set")
	}
	outageAndRecovery(t, srv)
}

// Killing a server reached over a socket leaves its socket file behind:
// connecting is then refused, an outage like a closed port.
func TestOutageAndRecoveryOverUnixSocket(t *testing.T) {
	outageAndRecovery(t, redistest.StartUnix(t))
}

// outageAndRecovery kills srv under a Store with a full pool, wants every
// call to fail as unavailable without hanging, and the same Store to work
// again once srv is back.
func outageAndRecovery(t *testing.T, srv *redistest.Server) {
	s, err := redisstore.New(options(srv, redistest.KeyPrefix(t)))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	k := store.Key("t", "k")
	bg := context.Background()

	// Fill the pool with live connections, so the outage hits them too.
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.Set(bg, k+strconv.Itoa(i), []byte("v"), 0); err != nil {
				t.Errorf("Set before outage: %v", err)
			}
		}()
	}
	wg.Wait()

	srv.Stop()

	// Bounded by a context so a hang fails the test instead of stalling
	// it; the bound is generous and says nothing about speed.
	ctx, cancel := context.WithTimeout(bg, 10*time.Second)
	defer cancel()
	for i := range 3 { // stale pooled connections and fresh dials alike
		_, err := s.Get(ctx, k+strconv.Itoa(i))
		unavailable(t, "Get during outage", err)
		unavailable(t, "Set during outage", s.Set(ctx, k, []byte("v"), time.Minute))
		_, err = s.Take(ctx, k)
		unavailable(t, "Take during outage", err)
		_, err = s.CompareAndSwap(ctx, k, nil, []byte("v"), 0)
		unavailable(t, "CompareAndSwap during outage", err)
		unavailable(t, "Ping during outage", s.Ping(ctx))
	}
	if ctx.Err() != nil {
		t.Fatal("calls during the outage ran into the context bound")
	}

	srv.Restart()

	// The same Store recovers by itself; allow the pool time to notice.
	deadline := time.Now().Add(20 * time.Second)
	for {
		err := s.Set(bg, k, []byte("back"), time.Minute)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("store did not recover after restart: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if v, err := s.Get(bg, k); err != nil || string(v) != "back" {
		t.Fatalf("Get after recovery = %q, %v", v, err)
	}
	if n, err := s.Incr(bg, store.Key("t", "n"), 1, time.Minute); err != nil || n != 1 {
		t.Fatalf("Incr (a script) after restart = %d, %v", n, err)
	}
	if err := s.Ping(bg); err != nil {
		t.Fatalf("Ping after recovery: %v", err)
	}
}

func BenchmarkTake(b *testing.B) { storetest.BenchTake(b, newStore(b)) }
func BenchmarkIncr(b *testing.B) { storetest.BenchIncr(b, newStore(b)) }

// BenchmarkRoundTrip compares a GET over loopback TCP with one over a
// unix socket, each on a private server: besides ns/op it reports the
// CPU per call of this process (the client's side, as in guestpass) and
// of the server, which is what a socket saves.
func BenchmarkRoundTrip(b *testing.B) {
	for _, tc := range []struct {
		name  string
		start func(testing.TB) *redistest.Server
	}{{"tcp", redistest.Start}, {"unix", redistest.StartUnix}} {
		b.Run(tc.name, func(b *testing.B) {
			b.Setenv(redistest.EnvURL, "") // the server's CPU is read from it
			srv := tc.start(b)
			s, _ := newStoreOn(b, srv)
			ctx := context.Background()
			k := store.Key("t", "k")
			if err := s.Set(ctx, k, []byte("12345678"), time.Hour); err != nil {
				b.Fatal(err)
			}
			client, server := processCPU(b), serverCPU(b, s)
			n := 0
			for b.Loop() {
				if _, err := s.Get(ctx, k); err != nil {
					b.Fatal(err)
				}
				n++
			}
			client, server = processCPU(b)-client, serverCPU(b, s)-server
			b.ReportMetric(float64(client.Microseconds())/float64(n), "client-cpu-µs/op")
			b.ReportMetric(float64(server.Microseconds())/float64(n), "redis-cpu-µs/op")
		})
	}
}

// processCPU is this process's user and system CPU so far.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// serverCPU is the Redis server's user and system CPU so far (INFO cpu,
// in microseconds).
func serverCPU(b *testing.B, s *redisstore.Store) time.Duration {
	info, err := s.Client().Info(context.Background(), "cpu").Result()
	if err != nil {
		b.Fatal(err)
	}
	var sum float64
	for _, name := range []string{"used_cpu_sys", "used_cpu_user"} {
		f, err := strconv.ParseFloat(redisstore.InfoField(info, name), 64)
		if err != nil {
			b.Fatalf("INFO cpu %s: %v", name, err)
		}
		sum += f
	}
	return time.Duration(sum * float64(time.Second))
}
