package op

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/guestpass/guestpass/pkg/store/memory"
	"github.com/guestpass/guestpass/pkg/store/storetest"
)

func kids(t *testing.T, r *keyRing) (string, []string) {
	t.Helper()
	ctx := context.Background()
	sk, err := r.current(ctx)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := r.keySet(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var pub []string
	for _, k := range keys {
		pub = append(pub, k.ID())
	}
	return sk.ID(), pub
}

// Replicas that start, or find a rotation due, at the same moment end up
// with one key set; a replaced key stays published for retireAfter. The
// RSA ring (RS256 ID tokens) rotates as the EC ring does.
func TestKeyRotationAcrossReplicas(t *testing.T) {
	for _, alg := range []jose.SignatureAlgorithm{jose.ES256, jose.RS256} {
		t.Run(string(alg), func(t *testing.T) { keyRotationAcrossReplicas(t, alg) })
	}
}

func keyRotationAcrossReplicas(t *testing.T, alg jose.SignatureAlgorithm) {
	clk := storetest.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	st := memory.New(clk.Now)
	defer st.Close()
	secret := make([]byte, 32)
	rings := make([]*keyRing, 8)
	for i := range rings {
		r, err := newKeyRing(alg, st, "fabrikam", secret, clk.Now, 0)
		if err != nil {
			t.Fatal(err)
		}
		rings[i] = r
	}
	all := func() (string, []string) {
		t.Helper()
		got := make([]string, len(rings))
		var pubs [][]string
		var mu sync.Mutex
		var wg sync.WaitGroup
		for i, r := range rings {
			wg.Add(1)
			go func() {
				defer wg.Done()
				s, p := kids(t, r)
				mu.Lock()
				got[i] = s
				pubs = append(pubs, p)
				mu.Unlock()
			}()
		}
		wg.Wait()
		for i := range got {
			if got[i] != got[0] || len(pubs[i]) != len(pubs[0]) {
				t.Fatalf("replicas disagree: %v / %v", got, pubs)
			}
		}
		return got[0], pubs[0]
	}

	first, pub := all()
	if len(pub) != 1 || pub[0] != first {
		t.Fatalf("start: signing %s, published %v", first, pub)
	}
	// Within publishLead of the end of the period one replica writes the
	// next key: every replica publishes it, none signs with it yet.
	clk.Advance(DefaultKeyRotation - publishLead + keyRefresh)
	still, pub := all()
	if still != first || len(pub) != 2 || pub[0] == first || pub[1] != first {
		t.Fatalf("next key: signing %s, published %v (first %s)", still, pub, first)
	}
	second := pub[0]
	clk.Advance(publishLead)
	now, pub := all()
	if now != second || len(pub) != 2 || pub[0] != second || pub[1] != first {
		t.Fatalf("after rotation: signing %s, published %v (first %s, second %s)", now, pub, first, second)
	}
	clk.Advance(retireAfter)
	third, pub := all()
	if third != second || len(pub) != 1 || pub[0] != second {
		t.Fatalf("after retirement: signing %s, published %v", third, pub)
	}
}

// The sealed private key is bound to its id and store key: a key moved to
// another tenant's set does not open.
func TestSealedKeyBoundToTenant(t *testing.T) {
	clk := storetest.NewClock(time.Now())
	st := memory.New(clk.Now)
	defer st.Close()
	a, _ := newKeyRing(jose.ES256, st, "a", make([]byte, 32), clk.Now, 0)
	b, _ := newKeyRing(jose.ES256, st, "b", make([]byte, 32), clk.Now, 0)
	sk, err := a.generate(clk.Now(), clk.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.unseal(sk); err != nil {
		t.Fatalf("own key: %v", err)
	}
	if _, err := b.unseal(sk); err == nil {
		t.Fatal("tenant a's key opened in tenant b's ring")
	}
}

// A relying party caches the JWKS for its max-age; a replica sees a new key
// within keyRefresh. Both together must fit in the time a new key is
// published before it signs, or a relying party could meet a token signed
// with a key its cached JWKS lacks.
func TestJWKSMaxAgeWithinLead(t *testing.T) {
	st := memory.New(nil)
	defer st.Close()
	tn, err := New(Options{BaseURL: "http://127.0.0.1:9", Tenant: TenantSettings{ID: "fabrikam"}, Store: st, Secret: make([]byte, 32)})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	tn.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/keys", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /keys: %d", rec.Code)
	}
	cc := rec.Header().Get("Cache-Control")
	_, after, ok := strings.Cut(cc, "max-age=")
	secs, err := strconv.Atoi(strings.SplitN(after, ",", 2)[0])
	if !ok || err != nil {
		t.Fatalf("Cache-Control %q has no max-age", cc)
	}
	if maxAge := time.Duration(secs) * time.Second; maxAge+keyRefresh > publishLead {
		t.Fatalf("JWKS max-age %s plus the replicas' cache %s exceed the lead %s", maxAge, keyRefresh, publishLead)
	}
}

// A rotation period shorter than twice the lead is refused: the next key
// would be written before the current one had signed at all.
func TestKeyRotationMinimum(t *testing.T) {
	st := memory.New(nil)
	defer st.Close()
	if _, err := newKeyRing(jose.ES256, st, "fabrikam", make([]byte, 32), time.Now, MinKeyRotation-time.Minute); err == nil {
		t.Fatal("a rotation shorter than MinKeyRotation was accepted")
	}
}

// A set written before keys were published ahead of use (no active time,
// the replaced key marked retired) still opens: its first key keeps
// signing, the replaced one stays published, and the next rotation comes
// at the end of the current key's period with the usual lead.
func TestKeySetWithoutActiveTimes(t *testing.T) {
	clk := storetest.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	st := memory.New(clk.Now)
	defer st.Close()
	r, err := newKeyRing(jose.ES256, st, "fabrikam", make([]byte, 32), clk.Now, 0)
	if err != nil {
		t.Fatal(err)
	}
	older, _ := r.generate(clk.Now().Add(-40*24*time.Hour), time.Time{})
	newer, _ := r.generate(clk.Now().Add(-10*time.Hour), time.Time{})
	older.ActiveAt, newer.ActiveAt = time.Time{}, time.Time{}
	raw, _ := json.Marshal(map[string]any{"keys": []any{newer, map[string]any{"kid": older.ID, "alg": older.Alg,
		"sealed": older.Sealed, "created": older.CreatedAt, "retired": newer.CreatedAt}}})
	if err := st.Set(context.Background(), r.key, raw, 0); err != nil {
		t.Fatal(err)
	}
	if s, pub := kids(t, r); s != newer.ID || len(pub) != 2 || pub[1] != older.ID {
		t.Fatalf("legacy set: signing %s, published %v", s, pub)
	}
	clk.Advance(DefaultKeyRotation - 10*time.Hour - publishLead + keyRefresh)
	if s, pub := kids(t, r); s != newer.ID || len(pub) != 2 || pub[1] != newer.ID {
		t.Fatalf("legacy set at its rotation: signing %s, published %v", s, pub)
	}
}
