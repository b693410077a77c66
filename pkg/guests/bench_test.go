package guests_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/guestpass/guestpass/pkg/guests"
	"github.com/guestpass/guestpass/pkg/store"
	"github.com/guestpass/guestpass/pkg/store/memory"
	"github.com/guestpass/guestpass/pkg/store/redisstore"
	"github.com/guestpass/guestpass/pkg/store/redistest"
	"github.com/guestpass/guestpass/pkg/store/storetest"
)

// benchGuests is the size the listing must stay fast at (issue 9, item 5).
const benchGuests = 100_000

// BenchmarkListGuests lists one tenant of 100,000 guests (one in ten an
// Accepted passcode guest, the rest pending) on each store: the first
// page, a page deep in the list, and filtered pages, 50 guests each.
//
//	go test -run '^$' -bench BenchmarkListGuests ./pkg/guests
func BenchmarkListGuests(b *testing.B) {
	for _, name := range []string{"memory", "redis"} {
		b.Run(name, func(b *testing.B) {
			clock := storetest.NewClock(backends.Start)
			st := openBench(b, name, clock.Now)
			repo := guests.NewRepo(st, codeKey, clock.Now)
			seed(b, st, repo)
			tr := repo.For("bench")
			ctx := context.Background()
			_, deep, err := tr.Page(ctx, guests.Filter{}, guests.MaxPageSize, "")
			if err != nil {
				b.Fatal(err)
			}
			for range 250 { // 50,000 guests in
				if _, deep, err = tr.Page(ctx, guests.Filter{}, guests.MaxPageSize, deep); err != nil {
					b.Fatal(err)
				}
			}
			for _, c := range []struct {
				name   string
				f      guests.Filter
				cursor string
			}{
				{"first-page", guests.Filter{}, ""},
				{"deep-page", guests.Filter{}, deep},
				{"source=otp", guests.Filter{Source: "otp"}, ""},
				{"state=PendingAcceptance", guests.Filter{State: guests.PendingAcceptance}, ""},
				{"source=otp&state=Accepted", guests.Filter{Source: "otp", State: guests.Accepted}, ""},
			} {
				b.Run(c.name, func(b *testing.B) {
					for b.Loop() {
						page, _, err := tr.Page(ctx, c.f, 50, c.cursor)
						if err != nil || len(page) != 50 {
							b.Fatalf("page: %d, %v", len(page), err)
						}
					}
				})
			}
		})
	}
}

// openBench opens a fresh store of the kind (Redis: the package's shared
// server, under the benchmark's own key prefix).
func openBench(b *testing.B, kind string, clock func() time.Time) store.Store {
	b.Helper()
	var st store.Store = memory.New(clock)
	if kind == "redis" {
		rs, err := redisstore.New(redisstore.Options{Addrs: []string{backends.Redis.Addr}, Username: backends.Redis.Username,
			Password: backends.Redis.Password, DB: backends.Redis.DB, KeyPrefix: redistest.KeyPrefix(b)})
		if err != nil {
			b.Fatal(err)
		}
		st = rs
	}
	b.Cleanup(func() { _ = st.Close() })
	return st
}

// seed writes benchGuests guests with pipelines of the production write
// ops (2,000 ops a round trip).
func seed(b *testing.B, st store.Store, repo *guests.Repo) {
	b.Helper()
	ctx := context.Background()
	start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	var ops []*store.Op
	flush := func() {
		if err := st.Pipeline(ctx, ops...); err != nil {
			b.Fatal(err)
		}
		ops = ops[:0]
	}
	for i := range benchGuests {
		addr := fmt.Sprintf("guest%06d@example.com", i)
		at := start.Add(time.Duration(i) * time.Second)
		g := &guests.Guest{ID: uuid.NewString(), Email: addr, Canonical: addr, State: guests.PendingAcceptance,
			CreatedAt: at, InvitedAt: at}
		if i%10 == 0 {
			g.State, g.Source, g.RedeemedAt, g.LastSignInAt = guests.Accepted, "otp", at, at
		}
		ops = append(ops, repo.SeedOps("bench", g)...)
		if len(ops) >= 2000 {
			flush()
		}
	}
	flush()
}
