package op

import (
	"context"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/guestpass/guestpass/pkg/store"
	"github.com/guestpass/guestpass/pkg/store/redisstore"
	"github.com/guestpass/guestpass/pkg/store/redistest"
	"github.com/guestpass/guestpass/pkg/store/storetest"
)

// replica is one guestpass replica's key ring on its own clock, with the
// JWKS snapshots relying parties fetched from it and may still be caching.
type replica struct {
	name  string
	clk   *storetest.Clock
	st    store.Store
	ring  *keyRing
	saved []jwksSnapshot
}

type jwksSnapshot struct {
	at  time.Time // when a relying party fetched it (replica's clock)
	set jose.JSONWebKeySet
}

// issued is a token and when it expires (on the first replica's clock).
type issued struct {
	by, kid string
	jws     string
	expires time.Time
}

// rotationWorld is two replicas sharing one Redis and the tokens they signed.
type rotationWorld struct {
	t        *testing.T
	rotation time.Duration
	reps     [2]*replica
	live     []issued
}

func (w *rotationWorld) restart(i int) {
	w.t.Helper()
	r, err := newKeyRing(jose.ES256, w.reps[i].st, "fabrikam", make([]byte, 32), w.reps[i].clk.Now, w.rotation)
	if err != nil {
		w.t.Fatal(err)
	}
	w.reps[i].ring = r
}

func (w *rotationWorld) advance(d time.Duration) {
	for _, r := range w.reps {
		r.clk.Advance(d)
	}
}

// jwks is what the replica's /keys serves now.
func (w *rotationWorld) jwks(r *replica) jose.JSONWebKeySet {
	w.t.Helper()
	keys, err := r.ring.keySet(context.Background())
	if err != nil {
		w.t.Fatalf("%s: keys: %v", r.name, err)
	}
	var set jose.JSONWebKeySet
	for _, k := range keys {
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: k.Key(), KeyID: k.ID(), Algorithm: string(k.Algorithm()), Use: k.Use()})
	}
	return set
}

// sign is a token the replica signs now, as it signs ID tokens.
func (w *rotationWorld) sign(r *replica) issued {
	w.t.Helper()
	k, err := r.ring.current(context.Background())
	if err != nil {
		w.t.Fatalf("%s: signing key: %v", r.name, err)
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: k.alg, Key: jose.JSONWebKey{Key: k.key, KeyID: k.id}}, nil)
	if err != nil {
		w.t.Fatal(err)
	}
	obj, err := s.Sign([]byte(`{"sub":"ada"}`))
	if err != nil {
		w.t.Fatal(err)
	}
	c, err := obj.CompactSerialize()
	if err != nil {
		w.t.Fatal(err)
	}
	return issued{by: r.name, kid: k.id, jws: c, expires: w.reps[0].clk.Now().Add(accessTokenTTL)}
}

// verifies reports whether tok verifies against set, as a relying party
// checks it: the key named by kid, then the signature.
func verifies(tok issued, set jose.JSONWebKeySet) bool {
	obj, err := jose.ParseSigned(tok.jws, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		return false
	}
	keys := set.Key(tok.kid)
	if len(keys) == 0 {
		return false
	}
	_, err = obj.Verify(keys[0])
	return err == nil
}

// step is one moment: each replica signs a token and serves its JWKS. Every
// new token must verify against every JWKS a relying party may still hold
// from either replica (fetched within jwksMaxAge), and every unexpired token
// against what either replica serves now.
func (w *rotationWorld) step() {
	w.t.Helper()
	now := w.reps[0].clk.Now()
	var fresh []issued
	for _, r := range w.reps {
		snap := jwksSnapshot{at: r.clk.Now(), set: w.jwks(r)}
		kept := r.saved[:0]
		for _, s := range r.saved {
			if r.clk.Now().Sub(s.at) < jwksMaxAge {
				kept = append(kept, s)
			}
		}
		r.saved = append(kept, snap)
		fresh = append(fresh, w.sign(r))
	}
	for _, tok := range fresh {
		for _, r := range w.reps {
			for _, s := range r.saved {
				if !verifies(tok, s.set) {
					w.t.Fatalf("at %s a token %s signed with %s fails against the JWKS %s served at %s (kids %v)",
						now.Format(time.RFC3339), tok.by, tok.kid, r.name, s.at.Format(time.RFC3339), kidsOf(s.set))
				}
			}
		}
	}
	live := w.live[:0]
	for _, tok := range w.live {
		if now.Before(tok.expires) {
			live = append(live, tok)
		}
	}
	w.live = append(live, fresh...)
	for _, tok := range w.live {
		for _, r := range w.reps {
			if set := r.saved[len(r.saved)-1].set; !verifies(tok, set) {
				w.t.Fatalf("at %s an unexpired token %s signed with %s fails against %s's JWKS (kids %v)",
					now.Format(time.RFC3339), tok.by, tok.kid, r.name, kidsOf(set))
			}
		}
	}
}

func kidsOf(set jose.JSONWebKeySet) []string {
	var out []string
	for _, k := range set.Keys {
		out = append(out, k.KeyID)
	}
	return out
}

// walk steps every minute for d, then every half hour for long more (fewer
// signatures where nothing changes, still catching the retirement).
func (w *rotationWorld) walk(d, long time.Duration) {
	w.t.Helper()
	for end := w.reps[0].clk.Now().Add(d); w.reps[0].clk.Now().Before(end); w.advance(time.Minute) {
		w.step()
	}
	for end := w.reps[0].clk.Now().Add(long); w.reps[0].clk.Now().Before(end); w.advance(30 * time.Minute) {
		w.step()
	}
}

// Issue 11 item 1: two replicas sharing one Redis, their clocks a minute
// apart, are moved past the rotation point, one restarted (fresh cache)
// while the other holds its cached key set. A new key is published by both
// before either signs with it, so at every step every token signed by
// either verifies against the JWKS served by either (and still cached by
// relying parties); the old key stays published until its tokens expire,
// then goes.
func TestKeyRotationTwoReplicasOneRedis(t *testing.T) {
	rs := redistest.Start(t)
	prefix := redistest.KeyPrefix(t)
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	w := &rotationWorld{t: t, rotation: 7 * 24 * time.Hour} // a configured period, not the default
	for i, name := range []string{"A", "B"} {
		st, err := redisstore.New(redisstore.Options{Addrs: []string{rs.Addr}, Username: rs.Username,
			Password: rs.Password, DB: rs.DB, KeyPrefix: prefix})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = st.Close() })
		// B's clock runs a minute behind A's.
		w.reps[i] = &replica{name: name, st: st, clk: storetest.NewClock(start.Add(-time.Duration(i) * time.Minute))}
		w.restart(i)
	}
	w.step()
	first := w.sign(w.reps[0]).kid

	// B last read the store just before the next key was due; four minutes
	// later (B's cache still fresh) A restarts past the due point and
	// writes the next key.
	w.advance(w.rotation - publishLead - 2*time.Minute)
	w.step()
	w.advance(4 * time.Minute)
	w.restart(0)
	w.walk(publishLead+2*time.Hour, retireAfter)
	second := w.sign(w.reps[0]).kid
	if second == first {
		t.Fatalf("no rotation after %s: still signing with %s", w.rotation+retireAfter, first)
	}
	if got := kidsOf(w.jwks(w.reps[1])); len(got) != 1 || got[0] != second {
		t.Fatalf("a day after the switch B publishes %v, want only %s", got, second)
	}

	// The key aged past its period while no replica ran: A reads first and
	// writes the next key; B restarts with a fresh cache.
	w.advance(w.rotation + 2*time.Hour)
	w.step()
	w.restart(1)
	w.walk(publishLead+2*time.Hour, 0)
	if third := w.sign(w.reps[1]).kid; third == second {
		t.Fatalf("no rotation of the aged key: still signing with %s", second)
	}
}
