// Package redisstore implements store.Store on Redis through go-redis's
// universal client: one node (over TCP or a unix socket), Sentinel
// (MasterName) or Cluster (several addresses).
//
// Every method is one round trip: atomic read-modify-write operations are
// GETDEL, SET NX or Lua scripts, never WATCH/MULTI loops. The scripts are
// loaded on every new connection, so EVALSHA does not fall back to EVAL
// (a second round trip) after a Redis restart.
package redisstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/guestpass/guestpass/pkg/store"
)

// Options configures the connection. Addrs, MasterName, Username,
// Password, DB and KeyPrefix mirror the `store.redis` config block; the
// timeouts default to short values so that an outage yields a quick error
// (and a 503) instead of a hung request.
type Options struct {
	// Addrs are host:port, or for a single node alone the absolute path
	// of its unix socket: go-redis dials unix for an address starting
	// with '/', with the same timeouts, retries and connection setup.
	// Sentinels and Cluster nodes announce TCP addresses, so a socket is
	// refused with several addresses or a MasterName.
	Addrs      []string
	MasterName string
	Username   string
	Password   string
	DB         int
	// KeyPrefix is prepended to every key (e.g. "guestpass:"). It must not
	// contain '{' or '}': the first braces of a key are its Cluster hash
	// tag, and callers already put the tenant there.
	KeyPrefix string

	// Optional tuning; zero means the default noted.
	DialTimeout  time.Duration // 1s
	ReadTimeout  time.Duration // 1s
	WriteTimeout time.Duration // 1s
	PoolTimeout  time.Duration // 2s: waiting for a free connection
	PoolSize     int           // go-redis default (10 per CPU)
	MaxRetries   int           // 1; negative disables retries
}

// Store is a store.Store backed by Redis. It is safe for concurrent use.
type Store struct {
	client redis.UniversalClient
	prefix string
	// scripts holds the callers' scripts (*store.Script → *redis.Script)
	// seen by Run, so that new connections load them too.
	scripts sync.Map
}

var _ store.Store = (*Store)(nil)

// Scripts run atomically on the server; each touches the single key it
// is given, so they are Cluster-safe.
var (
	// KEYS[1]; ARGV: prevIsNil("1"/"0"), prev, nextIsNil("1"/"0"), next, ttlMillis.
	casScript = redis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if ARGV[1] == '1' then
  if cur then return 0 end
else
  if (not cur) or cur ~= ARGV[2] then return 0 end
end
if ARGV[3] == '1' then
  redis.call('DEL', KEYS[1])
else
  local ttl = tonumber(ARGV[5])
  if ttl > 0 then
    redis.call('SET', KEYS[1], ARGV[4], 'PX', ttl)
  else
    redis.call('SET', KEYS[1], ARGV[4])
  end
end
return 1
`)
)

// New builds a Store. It does not contact Redis: a Redis that is down at
// start makes Ping (readiness) and requests fail until it comes back,
// rather than keeping the process from starting.
func New(opts Options) (*Store, error) {
	if len(opts.Addrs) == 0 {
		return nil, errors.New("redisstore: no addresses")
	}
	for _, a := range opts.Addrs {
		if strings.HasPrefix(a, "/") && (len(opts.Addrs) > 1 || opts.MasterName != "") {
			return nil, fmt.Errorf("redisstore: unix socket %q: only a single node is reached over a socket (Sentinel and Cluster announce TCP addresses)", a)
		}
	}
	if strings.ContainsAny(opts.KeyPrefix, "{}") {
		return nil, fmt.Errorf("redisstore: key prefix %q must not contain '{' or '}' (they would become the Cluster hash tag)", opts.KeyPrefix)
	}
	def := func(d, v time.Duration) time.Duration {
		if v == 0 {
			return d
		}
		return v
	}
	maxRetries := opts.MaxRetries
	if maxRetries == 0 {
		maxRetries = 1
	}
	s := &Store{prefix: opts.KeyPrefix}
	s.client = redis.NewUniversalClient(&redis.UniversalOptions{
		Addrs:      opts.Addrs,
		MasterName: opts.MasterName,
		Username:   opts.Username,
		Password:   opts.Password,
		DB:         opts.DB,

		DialTimeout:  def(time.Second, opts.DialTimeout),
		ReadTimeout:  def(time.Second, opts.ReadTimeout),
		WriteTimeout: def(time.Second, opts.WriteTimeout),
		PoolTimeout:  def(2*time.Second, opts.PoolTimeout),
		PoolSize:     opts.PoolSize,
		MaxRetries:   maxRetries,
		// One dial attempt per command attempt: the pool already backs off
		// on repeated dial errors, and retries here only delay the 503.
		DialerRetries: 1,
		// A caller's deadline must bound the whole call.
		ContextTimeoutEnabled: true,
		OnConnect:             s.onConnect,
		// Pipelines (a handful of small commands) share the main pool's
		// warm connections instead of dialing a dedicated pool, whose
		// every new connection would cost its own handshake and script
		// loads.
		PipelinePoolSize: -1,
		// RESP2: the store uses no push notifications (no client-side
		// caching, no pub/sub), and with RESP3 go-redis looks for them
		// around every command.
		Protocol: 2,
	})
	return s, nil
}

// onConnect readies each new connection: a server too old is refused
// (checkVersion), then the scripts are loaded (loadScripts). Both cost
// round trips per connection, never per call.
func (s *Store) onConnect(ctx context.Context, cn *redis.Conn) error {
	if err := checkVersion(ctx, cn); err != nil {
		return err
	}
	return s.loadScripts(ctx, cn)
}

// loadScripts caches the scripts on a new connection's server, so that
// EVALSHA finds them even right after a restart or failover. A refusal by
// the server (a Sentinel, an ACL without SCRIPT) is not fatal: Run then
// falls back to EVAL; only a broken connection fails the connect.
func (s *Store) loadScripts(ctx context.Context, cn *redis.Conn) error {
	scripts := []*redis.Script{casScript}
	s.scripts.Range(func(_, v any) bool {
		scripts = append(scripts, v.(*redis.Script))
		return true
	})
	for _, sc := range scripts {
		err := sc.Load(ctx, cn).Err()
		var refused redis.Error
		if err != nil && !errors.As(err, &refused) {
			return fmt.Errorf("load script: %w", err)
		}
	}
	return nil
}

// minMajor is the oldest Redis this store works with: counters and
// lifetimes use PEXPIRE NX and GT (7.0).
const minMajor = 7

// checkVersion refuses a connection to a Redis older than minMajor:
// there, a counter would be left without its window. A server that
// does not answer INFO (an ACL without it) is trusted.
func checkVersion(ctx context.Context, cn *redis.Conn) error {
	info, err := cn.Info(ctx, "server").Result()
	var refused redis.Error
	if errors.As(err, &refused) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read server version: %w", err)
	}
	return versionOK(info)
}

// versionOK refuses the server whose INFO server section is info when it
// names a version older than minMajor; an answer without a readable
// version is trusted.
func versionOK(info string) error {
	v := InfoField(info, "redis_version")
	major, _, _ := strings.Cut(v, ".")
	if n, err := strconv.Atoi(major); err == nil && n < minMajor {
		return fmt.Errorf("redis %s is too old: guestpass needs %d.0 or newer", v, minMajor)
	}
	return nil
}

// InfoField returns the value of a field of an INFO answer ("" if absent):
// the one reader of INFO, for the version check here, and for the helpers
// that start Redis (process ids) and measure it (CPU seconds).
func InfoField(info, name string) string {
	for line := range strings.Lines(info) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), name+":"); ok {
			return v
		}
	}
	return ""
}

// Client exposes the underlying client (tests add hooks to it).
func (s *Store) Client() redis.UniversalClient { return s.client }

func (s *Store) key(k string) string { return s.prefix + k }

// fail wraps an error from Redis so callers can answer 503 without
// knowing the backend, keeping the original in the chain.
func fail(op string, err error) error {
	return fmt.Errorf("redisstore: %s: %w: %w", op, store.ErrUnavailable, err)
}

// ttlArg converts ttl to whole milliseconds for PX, rounding up so that a
// sub-millisecond ttl does not turn into "no expiry" (or a Redis error).
func ttlArg(ttl time.Duration) (time.Duration, error) {
	if ttl < 0 {
		// go-redis reads a negative expiration as KEEPTTL; refuse it.
		return 0, fmt.Errorf("redisstore: negative ttl %v", ttl)
	}
	if r := ttl % time.Millisecond; r != 0 {
		ttl += time.Millisecond - r
	}
	return ttl, nil
}

// Get implements store.Store.
func (s *Store) Get(ctx context.Context, key string) ([]byte, error) {
	v, err := s.client.Get(ctx, s.key(key)).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, fail("get", err)
	}
	return v, nil
}

// Set implements store.Store.
func (s *Store) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	ttl, err := ttlArg(ttl)
	if err != nil {
		return err
	}
	if err := s.client.Set(ctx, s.key(key), value, ttl).Err(); err != nil {
		return fail("set", err)
	}
	return nil
}

// SetNX implements store.Store.
func (s *Store) SetNX(ctx context.Context, key string, value []byte, ttl time.Duration) (bool, error) {
	ttl, err := ttlArg(ttl)
	if err != nil {
		return false, err
	}
	ok, err := s.client.SetNX(ctx, s.key(key), value, ttl).Result()
	if errors.Is(err, redis.Nil) {
		return false, nil
	}
	if err != nil {
		return false, fail("setnx", err)
	}
	return ok, nil
}

// Delete implements store.Store. On a Cluster all keys must share a hash
// tag (one slot), as multi-key DEL cannot span slots.
func (s *Store) Delete(ctx context.Context, keys ...string) error {
	if len(keys) == 0 {
		return nil
	}
	full := make([]string, len(keys))
	for i, k := range keys {
		full[i] = s.key(k)
	}
	if err := s.client.Del(ctx, full...).Err(); err != nil {
		return fail("delete", err)
	}
	return nil
}

// Take implements store.Store with GETDEL (Redis ≥ 6.2).
func (s *Store) Take(ctx context.Context, key string) ([]byte, error) {
	v, err := s.client.GetDel(ctx, s.key(key)).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, fail("take", err)
	}
	return v, nil
}

// CompareAndSwap implements store.Store.
func (s *Store) CompareAndSwap(ctx context.Context, key string, prev, next []byte, ttl time.Duration) (bool, error) {
	ttl, err := ttlArg(ttl)
	if err != nil {
		return false, err
	}
	// Empty slices are sent for nil ones: go-redis cannot send a nil arg,
	// and the flags carry the distinction.
	n, err := casScript.Run(ctx, s.client, []string{s.key(key)},
		flag(prev), nonNil(prev), flag(next), nonNil(next), ttl.Milliseconds()).Int64()
	if err != nil {
		return false, fail("compare-and-swap", err)
	}
	return n == 1, nil
}

// Swap implements store.Store as a batch of one (SET XX GET KEEPTTL, one
// native command: a script costs Redis several times the CPU), as Incr
// and Extend are, so that the answer is read in one place.
func (s *Store) Swap(ctx context.Context, key string, next []byte) ([]byte, error) {
	op := store.SwapOp(key, next)
	_ = s.Pipeline(ctx, op) // op.Err holds every error, ErrNotFound too
	return op.Val, op.Err
}

// swapArgs make SET a Swap: only an existing key (XX) is written, its
// expiry kept, and the answer is the value replaced.
var swapArgs = redis.SetArgs{Mode: "XX", Get: true, KeepTTL: true}

// flag tells the CAS script whether prev or next is nil.
func flag(b []byte) string {
	if b == nil {
		return "1"
	}
	return "0"
}

func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// Incr implements store.Store as a batch of its one op (two native
// commands, see queueIncrOp): one round trip.
func (s *Store) Incr(ctx context.Context, key string, delta int64, ttl time.Duration) (int64, error) {
	op := store.IncrOp(key, delta, ttl)
	if err := s.Pipeline(ctx, op); err != nil {
		return 0, err
	}
	return op.N, nil
}

// pexpire queues PEXPIRE key ms NX|GT (go-redis has only EXPIRE's, in
// seconds).
func pexpire(ctx context.Context, pipe redis.Pipeliner, key string, ttl time.Duration, cond string) *redis.BoolCmd {
	cmd := redis.NewBoolCmd(ctx, "pexpire", key, ttl.Milliseconds(), cond)
	_ = pipe.Process(ctx, cmd)
	return cmd
}

// Extend implements store.Store with PEXPIRE GT, which never shortens a
// lifetime and treats a key without expiry as living forever: a batch of
// its one op, as in Pipeline.
func (s *Store) Extend(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	op := store.ExtendOp(key, ttl)
	if err := s.Pipeline(ctx, op); err != nil {
		return false, err
	}
	return op.OK, nil
}

// TTL implements store.Store.
func (s *Store) TTL(ctx context.Context, key string) (time.Duration, error) {
	d, err := s.client.PTTL(ctx, s.key(key)).Result()
	if err != nil {
		return 0, fail("ttl", err)
	}
	return pttl(d)
}

// pttl converts PTTL's answer to TTL's meaning.
func pttl(d time.Duration) (time.Duration, error) {
	// go-redis passes PTTL's sentinels through unscaled.
	switch {
	case d == -2:
		return 0, store.ErrNotFound
	case d == -1:
		return 0, nil
	case d <= 0:
		// Alive but due within a millisecond; 0 would mean "no expiry".
		return time.Nanosecond, nil
	}
	return d, nil
}

// HGet implements store.Store.
func (s *Store) HGet(ctx context.Context, key, field string) ([]byte, error) {
	v, err := s.client.HGet(ctx, s.key(key), field).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, fail("hget", err)
	}
	return v, nil
}

// HSet implements store.Store.
func (s *Store) HSet(ctx context.Context, key, field string, value []byte) error {
	if err := s.client.HSet(ctx, s.key(key), field, value).Err(); err != nil {
		return fail("hset", err)
	}
	return nil
}

// HSetNX implements store.Store.
func (s *Store) HSetNX(ctx context.Context, key, field string, value []byte) (bool, error) {
	ok, err := s.client.HSetNX(ctx, s.key(key), field, value).Result()
	if err != nil {
		return false, fail("hsetnx", err)
	}
	return ok, nil
}

// HDel implements store.Store.
func (s *Store) HDel(ctx context.Context, key string, fields ...string) error {
	if len(fields) == 0 {
		return nil
	}
	if err := s.client.HDel(ctx, s.key(key), fields...).Err(); err != nil {
		return fail("hdel", err)
	}
	return nil
}

// HGetAll implements store.Store.
func (s *Store) HGetAll(ctx context.Context, key string) (map[string][]byte, error) {
	m, err := s.client.HGetAll(ctx, s.key(key)).Result()
	if err != nil {
		return nil, fail("hgetall", err)
	}
	out := make(map[string][]byte, len(m))
	for f, v := range m {
		out[f] = []byte(v)
	}
	return out, nil
}

// Ping implements store.Store. On a Cluster it pings every master in
// parallel: a plain PING goes to whichever node answers, which says
// "ready" while a master holding some tenants' slots is down. The
// caller's deadline bounds it (the connection timeouts bound each node).
func (s *Store) Ping(ctx context.Context) error {
	if cc, ok := s.client.(*redis.ClusterClient); ok {
		return pingMasters(ctx, cc)
	}
	if err := s.client.Ping(ctx).Err(); err != nil {
		return fail("ping", err)
	}
	return nil
}

// pingMasters fails unless every master the client knows answers PING.
// ForEachMaster first loads the slot map, so a Cluster no node of which
// answers fails too.
func pingMasters(ctx context.Context, cc *redis.ClusterClient) error {
	err := cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error {
		if err := c.Ping(ctx).Err(); err != nil {
			return fmt.Errorf("master %s: %w", c.Options().Addr, err)
		}
		return nil
	})
	if err != nil {
		return fail("ping every master", err)
	}
	return nil
}

// Close implements store.Store.
func (s *Store) Close() error {
	if err := s.client.Close(); err != nil {
		return fmt.Errorf("redisstore: close: %w", err)
	}
	return nil
}

// ZAdd implements store.Store: every member with score 0, so that the
// set is ordered by the members' bytes (read BYLEX).
func (s *Store) ZAdd(ctx context.Context, key string, members ...string) error {
	if len(members) == 0 {
		return nil
	}
	zs := make([]redis.Z, len(members))
	for i, m := range members {
		zs[i] = redis.Z{Member: m}
	}
	if err := s.client.ZAdd(ctx, s.key(key), zs...).Err(); err != nil {
		return fail("zadd", err)
	}
	return nil
}

// ZRem implements store.Store.
func (s *Store) ZRem(ctx context.Context, key string, members ...string) error {
	if len(members) == 0 {
		return nil
	}
	args := make([]any, len(members))
	for i, m := range members {
		args[i] = m
	}
	if err := s.client.ZRem(ctx, s.key(key), args...).Err(); err != nil {
		return fail("zrem", err)
	}
	return nil
}

// ZRangeAfter implements store.Store with ZRANGE BYLEX LIMIT.
func (s *Store) ZRangeAfter(ctx context.Context, key, after string, limit int) ([]string, error) {
	if limit <= 0 {
		return []string{}, nil
	}
	start := "-"
	if after != "" {
		start = "(" + after
	}
	out, err := s.client.ZRangeArgs(ctx, redis.ZRangeArgs{Key: s.key(key), Start: start, Stop: "+", ByLex: true, Count: int64(limit)}).Result()
	if err != nil {
		return nil, fail("zrange", err)
	}
	return out, nil
}

// ZCard implements store.Store with ZCARD.
func (s *Store) ZCard(ctx context.Context, key string) (int64, error) {
	n, err := s.client.ZCard(ctx, s.key(key)).Result()
	if err != nil {
		return 0, fail("zcard", err)
	}
	return n, nil
}
