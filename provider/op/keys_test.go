package op

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/guestpass/guestpass/pkg/store/memory"
	"github.com/guestpass/guestpass/pkg/store/storetest"
)

func kids(t *testing.T, r *keyRing) (string, []string) {
	t.Helper()
	ks, err := r.set(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var pub []string
	for _, k := range ks.published {
		pub = append(pub, k.ID())
	}
	return ks.signing.ID(), pub
}

// Replicas that start, or find a rotation due, at the same moment end up
// with one key set; a replaced key stays published for retireAfter.
func TestKeyRotationAcrossReplicas(t *testing.T) {
	clk := storetest.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	st := memory.New(clk.Now)
	defer st.Close()
	secret := make([]byte, 32)
	rings := make([]*keyRing, 8)
	for i := range rings {
		r, err := newKeyRing(st, "fabrikam", secret, clk.Now)
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
	clk.Advance(rotateAfter + keyRefresh)
	second, pub := all()
	if second == first || len(pub) != 2 || pub[0] != second || pub[1] != first {
		t.Fatalf("after rotation: signing %s, published %v (first %s)", second, pub, first)
	}
	clk.Advance(retireAfter + keyRefresh)
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
	a, _ := newKeyRing(st, "a", make([]byte, 32), clk.Now)
	b, _ := newKeyRing(st, "b", make([]byte, 32), clk.Now)
	sk, err := a.generate(clk.Now())
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
