package login

import (
	"context"
	"testing"
	"time"

	"github.com/guestpass/guestpass/pkg/store"
	"github.com/guestpass/guestpass/pkg/store/backendtest"
	"github.com/guestpass/guestpass/pkg/store/storetest"
)

// backends runs this package's store tests on memory and on the one
// Redis they share.
var backends = backendtest.Shared{Start: time.Unix(1_800_000_000, 0)}

func TestMain(m *testing.M) { backends.Main(m) }

// The attempt counter counts alike on both stores: one per attempt, per
// address, apart for a trusted browser, and per tenant.
func TestAttemptCounterOnBothStores(t *testing.T) {
	backends.Each(t, func(t *testing.T, st store.Store, clock *storetest.Clock) {
		ctx := context.Background()
		count := func(tenant, addr, device string) int64 {
			t.Helper()
			rd := countAttempt(tenant, addr, device)
			if err := store.Batch(ctx, st, rd.Op()); err != nil {
				t.Fatal(err)
			}
			n, err := rd.Result()
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
		for want := int64(1); want <= 3; want++ {
			if n := count("fabrikam", "ada@example.com", ""); n != want {
				t.Fatalf("attempt %d counted as %d", want, n)
			}
		}
		if n := count("fabrikam", "ada@example.com", "dev1"); n != 1 {
			t.Fatalf("a trusted browser's first attempt counted as %d", n)
		}
		if n := count("contoso", "ada@example.com", ""); n != 1 {
			t.Fatalf("another tenant's first attempt counted as %d", n)
		}
		if n := count("fabrikam", "bo@example.com", ""); n != 1 {
			t.Fatalf("another address's first attempt counted as %d", n)
		}
	})
}

// The window ends an hour after the first attempt (the memory store
// follows the injected clock; Redis keeps its own time).
func TestAttemptWindowExpires(t *testing.T) {
	clock := storetest.NewClock(time.Unix(1_800_000_000, 0))
	st := backendtest.Backends(nil)[0].Open(t, clock.Now)
	ctx := context.Background()
	count := func() int64 {
		rd := countAttempt("fabrikam", "ada@example.com", "")
		if err := store.Batch(ctx, st, rd.Op()); err != nil {
			t.Fatal(err)
		}
		n, _ := rd.Result()
		return n
	}
	count()
	clock.Advance(attemptWindow - time.Second)
	if n := count(); n != 2 {
		t.Fatalf("within the window: %d", n)
	}
	clock.Advance(time.Second)
	if n := count(); n != 1 {
		t.Fatalf("after the window: %d", n)
	}
}
