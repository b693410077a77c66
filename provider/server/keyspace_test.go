package server_test

import (
	"context"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/guestpass/guestpass/pkg/config"
	"github.com/guestpass/guestpass/pkg/store/redistest"
)

// keyspace reads what an env's private Redis holds under the env's key
// prefix, with a client of its own: the store is the witness of what the
// sign-ins left behind, whatever the code believes it wrote.
type keyspace struct {
	rdb    *redis.Client
	prefix string
}

// newKeyspaceEnv is an env on a private Redis whose keys the test reads.
// Every guest here comes from 127.0.0.1, so the per-IP and per-tenant
// passcode caps are lifted (as in BenchmarkSignIn).
func newKeyspaceEnv(t testing.TB, o envOptions) (*env, *keyspace) {
	t.Helper()
	rs := redistest.Start(t)
	o.redis, o.prefix = rs, redistest.KeyPrefix(t)
	configure := o.configure
	o.configure = func(c *config.Config) {
		if configure != nil {
			configure(c)
		}
		for _, id := range []string{"fabrikam", "contoso"} {
			l := &c.Tenant(id).EmailOTP.AbuseLimits
			l.MaxCodesPerIPPerHour, l.MaxCodesPerTenantPerHour = 1_000_000, 1_000_000
		}
	}
	e := newEnv(t, o)
	rdb := redis.NewClient(&redis.Options{Addr: rs.Addr, DB: rs.DB, Username: rs.Username, Password: rs.Password})
	t.Cleanup(func() { _ = rdb.Close() })
	return e, &keyspace{rdb: rdb, prefix: o.prefix}
}

// keys lists every key under the prefix, without the prefix.
func (k *keyspace) keys(t testing.TB) []string {
	t.Helper()
	ctx := context.Background()
	var out []string
	iter := k.rdb.Scan(ctx, 0, k.prefix+"*", 1000).Iterator()
	for iter.Next(ctx) {
		out = append(out, strings.TrimPrefix(iter.Val(), k.prefix))
	}
	if err := iter.Err(); err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

// each runs one command per key in one pipeline and returns its results
// by key (prefix stripped).
func each[T any](t testing.TB, k *keyspace, keys []string, cmd func(redis.Pipeliner, string) interface{ Result() (T, error) }) map[string]T {
	t.Helper()
	ctx := context.Background()
	cmds := make([]interface{ Result() (T, error) }, len(keys))
	_, err := k.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, key := range keys {
			cmds[i] = cmd(p, k.prefix+key)
		}
		return nil
	})
	if err != nil && err != redis.Nil {
		t.Fatal(err)
	}
	out := make(map[string]T, len(keys))
	for i, key := range keys {
		v, err := cmds[i].Result()
		if err == redis.Nil {
			continue // gone since the scan (expired, or a mail sent)
		}
		if err != nil {
			t.Fatalf("%s: %v", key, err)
		}
		out[key] = v
	}
	return out
}

// usage is MEMORY USAGE of every key (SAMPLES 0: every element of a hash
// or ordered set counted, not an estimate): what Redis attributes to the
// key, name, value, expiry and allocator overhead included.
func (k *keyspace) usage(t testing.TB) map[string]int64 {
	t.Helper()
	return each(t, k, k.keys(t), func(p redis.Pipeliner, key string) interface{ Result() (int64, error) } {
		return p.MemoryUsage(context.Background(), key, 0)
	})
}

// idPart is a key segment that names one item (an HMAC, a uuid, a token
// hash, an outbox id) rather than a kind: kinds are words, ids are long and
// hold digits.
var idPart = regexp.MustCompile(`^[0-9A-Za-z._-]{16,}$`)

func isID(part string) bool {
	return idPart.MatchString(part) && strings.ContainsAny(part, "0123456789")
}

// kindOf names the kind of a key (prefix stripped) by the store's layout
// (store.Key "{tenant}:kind:...", store.TagKey "{tenant:tag}:kind"): the
// parts after the hash tag, ids replaced by "*". "{t}:guest:<hmac>" is
// "guest:*", "{t:<uuid>}:session" is "session", "{t}:gx:state:Accepted" is
// "gx:state:Accepted"; a key without a hash tag is its own kind.
func kindOf(key string) string {
	rest := key
	if strings.HasPrefix(key, "{") {
		end := strings.IndexByte(key, '}')
		if end < 0 {
			return key
		}
		rest = strings.TrimPrefix(key[end+1:], ":")
	}
	parts := strings.Split(rest, ":")
	for i, p := range parts {
		if isID(p) {
			parts[i] = "*"
		}
	}
	return strings.Join(parts, ":")
}

// byKind sums values by kind of key.
func byKind(m map[string]int64) map[string]int64 {
	out := map[string]int64{}
	for key, v := range m {
		out[kindOf(key)] += v
	}
	return out
}

func TestKindOf(t *testing.T) {
	for key, want := range map[string]string{
		"{fabrikam}:guest:0f3a9c1e2b4d5f6a7b8c9d0e1f2a3b4c":            "guest:*",
		"{fabrikam}:guest-ids":                                         "guest-ids",
		"{fabrikam}:gx:state:Accepted":                                 "gx:state:Accepted",
		"{fabrikam}:gx:source:":                                        "gx:source:",
		"{fabrikam}:gx:state:PendingAcceptance":                        "gx:state:PendingAcceptance",
		"{contoso:0b4f2c1e-6a0d-4c55-9e7b-1d2a3b4c5d6e}:session":       "session",
		"{contoso:0b4f2c1e-6a0d-4c55-9e7b-1d2a3b4c5d6e.5e6f7a8b9c}:at": "at",
		"{contoso}:otp:code:0f3a9c1e2b4d5f6a7b8c9d0e1f2a3b4c":          "otp:code:*",
		"{contoso}:outbox:m:18a2b3c4d5e6f708.0a1b2c3d4e5f6a7b8c9d0e1f": "outbox:m:*",
		"outbox:tenants": "outbox:tenants",
	} {
		if got := kindOf(key); got != want {
			t.Errorf("kindOf(%q) = %q, want %q", key, got, want)
		}
	}
}
