package op

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/guestpass/guestpass/pkg/store"
	"github.com/guestpass/guestpass/pkg/store/memory"
	"github.com/guestpass/guestpass/pkg/store/storetest"
)

// A tenant's RSA ring lives beside its EC ring under its own store key,
// signs RS256 JWS that go-jose verifies with the published JWK, and opens
// nothing but RSA keys: an EC set under its name is refused, as is an EC
// key for RS256, an RSA key for ES256 or an RSA key under 2048 bits. The
// access-token check (verifyJWS) takes no RS256 token.
func TestRS256Ring(t *testing.T) {
	ctx := context.Background()
	st := memory.New(time.Now)
	defer st.Close()
	secret := make([]byte, 32)
	ec, err := newKeyRing(jose.ES256, st, "fabrikam", secret, time.Now, 0)
	if err != nil {
		t.Fatal(err)
	}
	rs, err := newKeyRing(jose.RS256, st, "fabrikam", secret, time.Now, 0)
	if err != nil {
		t.Fatal(err)
	}
	if rs.key == ec.key || !strings.HasSuffix(rs.key, "signing-keys-rsa") {
		t.Fatalf("RSA ring's store key %q (EC ring's %q)", rs.key, ec.key)
	}
	eck, err := ec.current(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rsk, err := rs.current(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rsk.rsa == nil || rsk.key != nil || rsk.rsa.N.BitLen() != rsaKeyBits || rsk.SignatureAlgorithm() != jose.RS256 {
		t.Fatalf("RSA ring's key: %+v", rsk)
	}
	if again, _ := ec.current(ctx); again.id != eck.id {
		t.Fatal("making the RSA ring changed the EC ring's key")
	}

	raw, err := rsk.signJWS(rsk.idHeader, testClaims{`{"sub":"ada"}`})
	if err != nil {
		t.Fatal(err)
	}
	jws, err := jose.ParseSigned(raw, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		t.Fatal(err)
	}
	pub, err := rs.keySet(ctx)
	if err != nil || len(pub) != 1 {
		t.Fatalf("RSA ring publishes %v (%v)", pub, err)
	}
	payload, err := jws.Verify(pub[0].Key())
	if err != nil || string(payload) != `{"sub":"ada"}` {
		t.Fatalf("RS256 JWS: %q %v", payload, err)
	}
	if h := jws.Signatures[0].Protected; h.KeyID != rsk.id || h.ExtraHeaders["typ"] != idTokenType {
		t.Fatalf("header %+v", h)
	}
	if _, err := rs.verifyJWS(ctx, raw, idTokenType); !errors.Is(err, errBadJWS) {
		t.Fatalf("verifyJWS took an RS256 token: %v", err)
	}

	// The EC set copied under the RSA ring's name does not open there.
	set, err := st.Get(ctx, ec.key)
	if err != nil {
		t.Fatal(err)
	}
	other := memory.New(time.Now)
	defer other.Close()
	swapped, _ := newKeyRing(jose.RS256, other, "fabrikam", secret, time.Now, 0)
	swapped.key = ec.key // the sealing binds the store key: open it as the EC ring would
	if err := swapped.st.Set(ctx, swapped.key, set, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := swapped.current(ctx); err == nil || !strings.Contains(err.Error(), "ES256 in the RS256 key set") {
		t.Fatalf("EC set opened by the RSA ring: %v", err)
	}

	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	for name, c := range map[string]struct {
		alg jose.SignatureAlgorithm
		key any
	}{
		"EC key for RS256": {jose.RS256, ecKey}, "RSA key for ES256": {jose.ES256, rsk.rsa},
		"RSA key of 1024 bits": {jose.RS256, small}, "P-384 key for ES256": {jose.ES256, mustP384(t)},
	} {
		if _, err := newSigningKey("k", c.alg, c.key); !errors.Is(err, errWrongKey) {
			t.Errorf("%s: %v, want errWrongKey", name, err)
		}
	}
}

func mustP384(t *testing.T) *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// testClaims is a claims value whose JSON is given.
type testClaims struct{ json string }

func (c testClaims) appendJSON(b []byte) ([]byte, error) { return append(b, c.json...), nil }

// countingStore counts the reads of one key and refuses them while down.
type countingStore struct {
	store.Store
	key   string
	reads atomic.Int64
	swaps atomic.Int64 // compare-and-swaps of the key: one per key made
	down  atomic.Bool
}

func (s *countingStore) CompareAndSwap(ctx context.Context, key string, old, next []byte, ttl time.Duration) (bool, error) {
	if key == s.key {
		s.swaps.Add(1)
	}
	return s.Store.CompareAndSwap(ctx, key, old, next, ttl)
}

func (s *countingStore) Get(ctx context.Context, key string) ([]byte, error) {
	if key == s.key {
		s.reads.Add(1)
		if s.down.Load() {
			return nil, fmt.Errorf("read: %w", store.ErrUnavailable)
		}
	}
	return s.Store.Get(ctx, key)
}

// countedRing is an RSA ring over a memory store on a test clock, the
// store counting the ring's reads and writes.
func countedRing(t *testing.T) (*keyRing, *countingStore, *storetest.Clock) {
	t.Helper()
	clk := storetest.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	mem := memory.New(clk.Now)
	t.Cleanup(func() { _ = mem.Close() })
	st := &countingStore{Store: mem}
	r, err := newKeyRing(jose.RS256, st, "fabrikam", make([]byte, 32), clk.Now, 0)
	if err != nil {
		t.Fatal(err)
	}
	st.key = r.key
	return r, st, clk
}

// A ring whose re-read fails keeps its keys and asks the store again
// only after loadRetry, not at every request: with a store that refused
// writes, every request of a due ring would make a key (an RSA key: tens
// of milliseconds). Once the store answers, the set is read again.
func TestKeyRingRetriesAFailedReloadAfterAPause(t *testing.T) {
	ctx := context.Background()
	r, st, clk := countedRing(t)
	k, err := r.current(ctx)
	if err != nil {
		t.Fatal(err)
	}
	st.down.Store(true)
	clk.Advance(keyRefresh)
	before := st.reads.Load()
	for range 50 {
		if got, err := r.current(ctx); err != nil || got.id != k.id {
			t.Fatalf("during the failed re-read: %v %v", got, err)
		}
	}
	if n := st.reads.Load() - before; n != 1 {
		t.Fatalf("%d reads of the key set for 50 requests after a failed re-read, want 1", n)
	}
	clk.Advance(loadRetry)
	st.down.Store(false)
	if _, err := r.current(ctx); err != nil {
		t.Fatal(err)
	}
	if n := st.reads.Load() - before; n != 2 {
		t.Fatalf("%d reads after loadRetry, want 2", n)
	}
}

// Requests that find a tenant's key set unloaded together make one key
// between them: the others wait for the first load (an RSA key is 40 ms
// of CPU; each racer used to make one for the compare-and-swap to throw
// away), and, once the set is loaded, a re-read in flight does not hold
// anyone up.
func TestKeyRingLoadsOnceForConcurrentRequests(t *testing.T) {
	ctx := context.Background()
	r, st, clk := countedRing(t)
	concurrently := func(f func() error) {
		t.Helper()
		var wg sync.WaitGroup
		errs := make(chan error, 16)
		for range 16 {
			wg.Go(func() { errs <- f() })
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	concurrently(func() error { _, err := r.current(ctx); return err })
	if n := st.swaps.Load(); n != 1 {
		t.Fatalf("16 concurrent first loads wrote the key set %d times, want 1", n)
	}
	// A rotation due: one new key, the same way.
	clk.Advance(DefaultKeyRotation - publishLead + keyRefresh)
	concurrently(func() error { _, err := r.keySet(ctx); return err })
	if n := st.swaps.Load(); n != 2 {
		t.Fatalf("a due rotation under 16 concurrent requests wrote the key set %d times in all, want 2", n)
	}
}
