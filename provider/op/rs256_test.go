package op

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"strings"
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
	ec, err := newKeyRing(jose.ES256, true, st, "fabrikam", secret, time.Now, 0)
	if err != nil {
		t.Fatal(err)
	}
	rs, err := newKeyRing(jose.RS256, true, st, "fabrikam", secret, time.Now, 0)
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
	swapped, _ := newKeyRing(jose.RS256, true, other, "fabrikam", secret, time.Now, 0)
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

// A reload that removes a tenant's last RS256 client leaves a ring that
// signs nothing and writes nothing, but publishes the keys its tokens
// were signed with for as long as rotation would have: the latest until
// retireAfter past the end of its period. A tenant that never had an
// RS256 client publishes no RSA key and stores none.
func TestRS256RingOutlivesItsLastClient(t *testing.T) {
	ctx := context.Background()
	clk := storetest.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	st := memory.New(clk.Now)
	defer st.Close()
	secret := make([]byte, 32)

	never, err := newKeyRing(jose.RS256, false, st, "contoso", secret, clk.Now, 0)
	if err != nil {
		t.Fatal(err)
	}
	if pub, err := never.keySet(ctx); err != nil || len(pub) != 0 {
		t.Fatalf("a tenant without RS256 clients publishes %v (%v)", pub, err)
	}
	if _, err := st.Get(ctx, never.key); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a ring that does not sign stored a set: %v", err)
	}

	signing, _ := newKeyRing(jose.RS256, true, st, "fabrikam", secret, clk.Now, 0)
	k, err := signing.current(ctx)
	if err != nil {
		t.Fatal(err)
	}
	before, _ := st.Get(ctx, signing.key)
	clk.Advance(time.Hour)
	retired, _ := newKeyRing(jose.RS256, false, st, "fabrikam", secret, clk.Now, 0)
	if _, err := retired.current(ctx); err == nil {
		t.Fatal("a ring without RS256 clients gave a signing key")
	}
	published := func() []string {
		t.Helper()
		retired.cur = nil // read the store again, as after keyRefresh
		pub, err := retired.keySet(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, p := range pub {
			ids = append(ids, p.ID())
		}
		return ids
	}
	if ids := published(); len(ids) != 1 || ids[0] != k.id {
		t.Fatalf("after the last RS256 client went: published %v, want %s", ids, k.id)
	}
	// Past the key's period, when rotation would have replaced it, and
	// until retireAfter after that: still published, nothing written.
	clk.Advance(DefaultKeyRotation + retireAfter - 2*time.Hour)
	if ids := published(); len(ids) != 1 {
		t.Fatalf("within retireAfter of the period's end: published %v", ids)
	}
	if after, _ := st.Get(ctx, signing.key); string(after) != string(before) {
		t.Fatal("a ring that does not sign rewrote the set")
	}
	clk.Advance(2 * time.Hour)
	if ids := published(); len(ids) != 0 {
		t.Fatalf("retireAfter past the period's end: published %v, want none", ids)
	}
}
