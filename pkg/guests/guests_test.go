package guests_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/guestpass/guestpass/pkg/guests"
	"github.com/guestpass/guestpass/pkg/store"
	"github.com/guestpass/guestpass/pkg/store/storetest"
)

func TestRecordSignInConcurrentOneGuest(t *testing.T) {
	backends.Each(t, func(t *testing.T, st store.Store, clock *storetest.Clock) {
		ctx := context.Background()
		repo := guests.NewRepo(st, codeKey, clock.Now)
		const n = 50
		var (
			wg    sync.WaitGroup
			start = make(chan struct{})
			ids   = make([]string, n)
			errs  = make([]error, n)
		)
		for i := range n {
			wg.Go(func() {
				<-start
				g, err := repo.For("fabrikam").RecordSignIn(ctx, "new@example.com", guests.SignIn{Email: "New@Example.com", Source: "otp"})
				errs[i] = err
				if g != nil {
					ids[i] = g.ID
				}
			})
		}
		close(start)
		wg.Wait()
		for i := range n {
			if errs[i] != nil {
				t.Fatalf("caller %d: %v", i, errs[i])
			}
			if ids[i] != ids[0] {
				t.Fatalf("caller %d got id %q, caller 0 got %q: two guests for one address", i, ids[i], ids[0])
			}
		}
		list, err := repo.For("fabrikam").List(ctx, guests.Filter{})
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != 1 || list[0].ID != ids[0] {
			t.Fatalf("List = %+v, want exactly the one guest %s", list, ids[0])
		}
		idx, err := st.HGetAll(ctx, store.Key("fabrikam", "guest-ids"))
		if err != nil {
			t.Fatal(err)
		}
		if len(idx) != 1 {
			t.Fatalf("id index has %d entries, want 1: %v", len(idx), idx)
		}
		g := list[0]
		if g.State != guests.Accepted || g.Source != "otp" || g.Email != "New@Example.com" {
			t.Fatalf("guest = %+v", g)
		}
		if _, err := uuid.Parse(g.ID); err != nil || uuid.MustParse(g.ID).Version() != 4 {
			t.Fatalf("id %q is not a UUID v4", g.ID)
		}
	})
}

func TestInviteConcurrentCreatesOnce(t *testing.T) {
	backends.Each(t, func(t *testing.T, st store.Store, clock *storetest.Clock) {
		ctx := context.Background()
		repo := guests.NewRepo(st, codeKey, clock.Now)
		const n = 20
		var (
			wg      sync.WaitGroup
			mu      sync.Mutex
			created int
			ids     = map[string]bool{}
		)
		for range n {
			wg.Go(func() {
				g, c, err := repo.For("fabrikam").Invite(ctx, "a@example.com", "a@example.com", "A")
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				defer mu.Unlock()
				ids[g.ID] = true
				if c {
					created++
				}
			})
		}
		wg.Wait()
		if created != 1 || len(ids) != 1 {
			t.Fatalf("created %d times, %d ids; want 1 and 1", created, len(ids))
		}
	})
}

func TestInviteThenRedeem(t *testing.T) {
	backends.Each(t, func(t *testing.T, st store.Store, clock *storetest.Clock) {
		ctx := context.Background()
		repo := guests.NewRepo(st, codeKey, clock.Now)
		invitedAt := clock.Now()
		g, created, err := repo.For("fabrikam").Invite(ctx, "ann@example.com", "Ann@Example.com", "Ann")
		if err != nil || !created {
			t.Fatalf("Invite: %v created=%v", err, created)
		}
		if g.State != guests.PendingAcceptance || g.Source != "" || !g.InvitedAt.Equal(invitedAt) ||
			!g.RedeemedAt.IsZero() || !g.LastSignInAt.IsZero() || g.Canonical != "ann@example.com" {
			t.Fatalf("invited guest = %+v", g)
		}
		// A re-invitation keeps the guest (id, address, times) and takes
		// the admin's new name; one without a name keeps it.
		again, created, err := repo.For("fabrikam").Invite(ctx, "ann@example.com", "other@example.com", "Other")
		want := *g
		want.DisplayName = "Other"
		if err != nil || created || *again != want {
			t.Fatalf("second Invite = %+v created=%v err=%v; want the first guest renamed", again, created, err)
		}
		if again, _, _ := repo.For("fabrikam").Invite(ctx, "ann@example.com", "ann@example.com", ""); *again != want {
			t.Fatalf("re-invite without a name = %+v", again)
		}
		g = again

		clock.Advance(time.Hour)
		first := clock.Now()
		// The typed address differs in case; mail must keep going to the
		// stored one, and the admin's display name is kept.
		r, err := repo.For("fabrikam").RecordSignIn(ctx, "ann@example.com", guests.SignIn{Email: "ANN@example.com", Source: "otp", DisplayName: "Upstream Name"})
		if err != nil {
			t.Fatal(err)
		}
		if r.ID != g.ID || r.State != guests.Accepted || r.Source != "otp" || r.Email != "Ann@Example.com" ||
			r.DisplayName != "Other" || !r.InvitedAt.Equal(invitedAt) || !r.RedeemedAt.Equal(first) || !r.LastSignInAt.Equal(first) {
			t.Fatalf("redeemed guest = %+v", r)
		}

		clock.Advance(time.Hour)
		r2, err := repo.For("fabrikam").RecordSignIn(ctx, "ann@example.com", guests.SignIn{Email: "ann@example.com", Source: "otp"})
		if err != nil {
			t.Fatal(err)
		}
		if !r2.RedeemedAt.Equal(first) || !r2.LastSignInAt.Equal(clock.Now()) {
			t.Fatalf("second sign-in: RedeemedAt %v (want %v), LastSignInAt %v (want %v)",
				r2.RedeemedAt, first, r2.LastSignInAt, clock.Now())
		}
		got, err := repo.For("fabrikam").Get(ctx, "ann@example.com")
		if err != nil || *got != *r2 {
			t.Fatalf("Get = %+v, %v; want %+v", got, err, r2)
		}
		byID, err := repo.For("fabrikam").GetByID(ctx, g.ID)
		if err != nil || *byID != *r2 {
			t.Fatalf("GetByID = %+v, %v; want %+v", byID, err, r2)
		}
	})
}

func TestSourceIsSticky(t *testing.T) {
	backends.Each(t, func(t *testing.T, st store.Store, clock *storetest.Clock) {
		ctx := context.Background()
		repo := guests.NewRepo(st, codeKey, clock.Now)
		g, err := repo.For("fabrikam").RecordSignIn(ctx, "bob@gmail.com", guests.SignIn{Email: "bob@gmail.com", Source: "otp", DisplayName: "Bob"})
		if err != nil {
			t.Fatal(err)
		}
		clock.Advance(time.Minute)
		for _, other := range []string{"google", "microsoft", "directory:staff", "oidc:contoso"} {
			bound, err := repo.For("fabrikam").RecordSignIn(ctx, "bob@gmail.com", guests.SignIn{Email: "bob@gmail.com", Source: other})
			if !errors.Is(err, guests.ErrSourceMismatch) {
				t.Fatalf("%s: err = %v, want ErrSourceMismatch", other, err)
			}
			if bound == nil || bound.Source != "otp" {
				t.Fatalf("%s: returned guest %+v, want the one bound to otp", other, bound)
			}
		}
		got, err := repo.For("fabrikam").Get(ctx, "bob@gmail.com")
		if err != nil || *got != *g {
			t.Fatalf("refused sign-ins changed the record: %+v, want %+v", got, g)
		}
	})
}

func TestResetRedemption(t *testing.T) {
	backends.Each(t, func(t *testing.T, st store.Store, clock *storetest.Clock) {
		ctx := context.Background()
		repo := guests.NewRepo(st, codeKey, clock.Now)
		g, err := repo.For("fabrikam").RecordSignIn(ctx, "bob@gmail.com", guests.SignIn{Email: "bob@gmail.com", Source: "otp", DisplayName: "Bob"})
		if err != nil {
			t.Fatal(err)
		}
		r, err := repo.For("fabrikam").ResetRedemption(ctx, g.ID)
		if err != nil {
			t.Fatal(err)
		}
		if r.ID != g.ID || r.Source != "" || r.State != guests.PendingAcceptance || !r.RedeemedAt.IsZero() ||
			!r.LastSignInAt.Equal(g.LastSignInAt) {
			t.Fatalf("reset guest = %+v", r)
		}
		clock.Advance(time.Hour)
		again, err := repo.For("fabrikam").RecordSignIn(ctx, "bob@gmail.com", guests.SignIn{Email: "bob@gmail.com", Source: "google"})
		if err != nil {
			t.Fatalf("sign-in with a new method after reset: %v", err)
		}
		if again.ID != g.ID || again.Source != "google" || again.State != guests.Accepted || !again.RedeemedAt.Equal(clock.Now()) {
			t.Fatalf("after reset and sign-in: %+v", again)
		}
		if _, err := repo.For("fabrikam").ResetRedemption(ctx, uuid.NewString()); !errors.Is(err, guests.ErrNotFound) {
			t.Fatalf("reset of an unknown id: %v, want ErrNotFound", err)
		}
	})
}

func TestDeleteThenReinviteGivesNewID(t *testing.T) {
	backends.Each(t, func(t *testing.T, st store.Store, clock *storetest.Clock) {
		ctx := context.Background()
		repo := guests.NewRepo(st, codeKey, clock.Now)
		g, _, err := repo.For("fabrikam").Invite(ctx, "c@example.com", "c@example.com", "")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := repo.For("fabrikam").RecordSignIn(ctx, "c@example.com", guests.SignIn{Email: "c@example.com", Source: "otp"}); err != nil {
			t.Fatal(err)
		}
		if err := repo.For("fabrikam").Delete(ctx, g.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := repo.For("fabrikam").Get(ctx, "c@example.com"); !errors.Is(err, guests.ErrNotFound) {
			t.Fatalf("Get after Delete: %v", err)
		}
		if _, err := repo.For("fabrikam").GetByID(ctx, g.ID); !errors.Is(err, guests.ErrNotFound) {
			t.Fatalf("GetByID after Delete: %v", err)
		}
		if err := repo.For("fabrikam").Delete(ctx, g.ID); !errors.Is(err, guests.ErrNotFound) {
			t.Fatalf("second Delete: %v, want ErrNotFound", err)
		}
		if list, _ := repo.For("fabrikam").List(ctx, guests.Filter{}); len(list) != 0 {
			t.Fatalf("List after Delete = %+v", list)
		}

		n, created, err := repo.For("fabrikam").Invite(ctx, "c@example.com", "c@example.com", "")
		if err != nil || !created {
			t.Fatalf("re-invite: %v created=%v", err, created)
		}
		if n.ID == g.ID || n.Source != "" || n.State != guests.PendingAcceptance {
			t.Fatalf("re-invited guest = %+v (old id %s)", n, g.ID)
		}
		// The new guest may pick another method.
		if _, err := repo.For("fabrikam").RecordSignIn(ctx, "c@example.com", guests.SignIn{Email: "c@example.com", Source: "google"}); err != nil {
			t.Fatal(err)
		}
		// A late Delete of the old id must not touch the new guest.
		if err := repo.For("fabrikam").Delete(ctx, g.ID); !errors.Is(err, guests.ErrNotFound) {
			t.Fatalf("Delete of the old id: %v", err)
		}
		if got, err := repo.For("fabrikam").GetByID(ctx, n.ID); err != nil || got.Source != "google" {
			t.Fatalf("new guest after stale Delete: %+v, %v", got, err)
		}
	})
}

func TestStaleIndexEntriesAreIgnored(t *testing.T) {
	backends.Each(t, func(t *testing.T, st store.Store, clock *storetest.Clock) {
		ctx := context.Background()
		repo := guests.NewRepo(st, codeKey, clock.Now)
		old, _, err := repo.For("fabrikam").Invite(ctx, "d@example.com", "d@example.com", "")
		if err != nil {
			t.Fatal(err)
		}
		// Simulate a crash half-way through a Delete and a re-creation:
		// the record replaced, the old id still indexed (in the id hash
		// and the list indexes).
		if err := st.Delete(ctx, repo.RecordKey("fabrikam", "d@example.com")); err != nil {
			t.Fatal(err)
		}
		n, created, err := repo.For("fabrikam").Invite(ctx, "d@example.com", "d@example.com", "")
		if err != nil || !created {
			t.Fatal(err, created)
		}
		if _, err := repo.For("fabrikam").GetByID(ctx, old.ID); !errors.Is(err, guests.ErrNotFound) {
			t.Fatalf("GetByID(stale id) = %v, want ErrNotFound", err)
		}
		list, err := repo.For("fabrikam").List(ctx, guests.Filter{})
		if err != nil || len(list) != 1 || list[0].ID != n.ID {
			t.Fatalf("List = %+v, %v; want only %s", list, err, n.ID)
		}
	})
}

func TestListFilterAndOrder(t *testing.T) {
	backends.Each(t, func(t *testing.T, st store.Store, clock *storetest.Clock) {
		ctx := context.Background()
		repo := guests.NewRepo(st, codeKey, clock.Now)
		for _, s := range []struct{ addr, source string }{
			{"zoe@example.com", "otp"},
			{"amy@example.com", "otp"},
			{"max@outlook.com", "microsoft"},
			{"ada@fabrikam.example", "directory:staff"},
			{"kim@example.com", "otp"},
		} {
			if _, err := repo.For("fabrikam").RecordSignIn(ctx, s.addr, guests.SignIn{Email: s.addr, Source: s.source}); err != nil {
				t.Fatal(err)
			}
		}
		if _, _, err := repo.For("fabrikam").Invite(ctx, "pending@example.com", "pending@example.com", ""); err != nil {
			t.Fatal(err)
		}
		emails := func(gs []*guests.Guest) []string {
			var out []string
			for _, g := range gs {
				out = append(out, g.Email)
			}
			return out
		}
		for _, tc := range []struct {
			source string
			want   []string
		}{
			{"", []string{"ada@fabrikam.example", "amy@example.com", "kim@example.com", "max@outlook.com", "pending@example.com", "zoe@example.com"}},
			{"otp", []string{"amy@example.com", "kim@example.com", "zoe@example.com"}},
			{"microsoft", []string{"max@outlook.com"}},
			{"directory:staff", []string{"ada@fabrikam.example"}},
			{"google", nil},
		} {
			got, err := repo.For("fabrikam").List(ctx, guests.Filter{Source: tc.source})
			if err != nil {
				t.Fatal(err)
			}
			if g := emails(got); !equal(g, tc.want) {
				t.Errorf("List(source=%q) = %v, want %v", tc.source, g, tc.want)
			}
		}
	})
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestTenantIsolation(t *testing.T) {
	backends.Each(t, func(t *testing.T, st store.Store, clock *storetest.Clock) {
		ctx := context.Background()
		repo := guests.NewRepo(st, codeKey, clock.Now)
		a, err := repo.For("tenant-a").RecordSignIn(ctx, "same@example.com", guests.SignIn{Email: "same@example.com", Source: "otp"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := repo.For("tenant-b").Get(ctx, "same@example.com"); !errors.Is(err, guests.ErrNotFound) {
			t.Fatalf("Get at B: %v", err)
		}
		if _, err := repo.For("tenant-b").GetByID(ctx, a.ID); !errors.Is(err, guests.ErrNotFound) {
			t.Fatalf("GetByID at B: %v", err)
		}
		if err := repo.For("tenant-b").Delete(ctx, a.ID); !errors.Is(err, guests.ErrNotFound) {
			t.Fatalf("Delete at B: %v", err)
		}
		if _, err := repo.For("tenant-b").ResetRedemption(ctx, a.ID); !errors.Is(err, guests.ErrNotFound) {
			t.Fatalf("Reset at B: %v", err)
		}
		if list, err := repo.For("tenant-b").List(ctx, guests.Filter{}); err != nil || len(list) != 0 {
			t.Fatalf("List at B = %+v, %v", list, err)
		}
		// The same address at B is a different guest with its own source.
		b, err := repo.For("tenant-b").RecordSignIn(ctx, "same@example.com", guests.SignIn{Email: "same@example.com", Source: "google"})
		if err != nil {
			t.Fatal(err)
		}
		if b.ID == a.ID {
			t.Fatal("one id across tenants")
		}
		if got, _ := repo.For("tenant-a").Get(ctx, "same@example.com"); got.Source != "otp" {
			t.Fatalf("A's guest changed: %+v", got)
		}
	})
}

func TestInvalidArguments(t *testing.T) {
	backends.Each(t, func(t *testing.T, st store.Store, clock *storetest.Clock) {
		ctx := context.Background()
		repo := guests.NewRepo(st, codeKey, clock.Now)
		if _, err := repo.For("fabrikam").RecordSignIn(ctx, "x@example.com", guests.SignIn{Email: "x@example.com", Source: ""}); err == nil {
			t.Error("RecordSignIn with an empty source succeeded")
		}
		if _, _, err := repo.For("fabrikam").Invite(ctx, "", "x@example.com", ""); err == nil {
			t.Error("Invite with an empty address succeeded")
		}
		if _, err := repo.For("fabrikam").Get(ctx, "x@example.com"); !errors.Is(err, guests.ErrNotFound) {
			t.Errorf("refused calls left a record: %v", err)
		}
	})
}

// Inviting a guest who signed up before (no invitation yet) keeps the
// guest and its source, and records when the invitation was made.
func TestInviteOfASignedUpGuestSetsInvitedAt(t *testing.T) {
	backends.Each(t, func(t *testing.T, st store.Store, clock *storetest.Clock) {
		ctx := context.Background()
		repo := guests.NewRepo(st, codeKey, clock.Now).For("fabrikam")
		g, err := repo.RecordSignIn(ctx, "sue@example.com", guests.SignIn{Email: "sue@example.com", Source: "otp"})
		if err != nil || !g.InvitedAt.IsZero() {
			t.Fatalf("sign-up: %+v %v", g, err)
		}
		clock.Advance(time.Hour)
		inv, created, err := repo.Invite(ctx, "sue@example.com", "sue@example.com", "")
		if err != nil || created || inv.ID != g.ID || inv.Source != "otp" || inv.State != guests.Accepted || !inv.InvitedAt.Equal(clock.Now()) {
			t.Fatalf("invite of a signed-up guest: %+v created=%v err=%v", inv, created, err)
		}
	})
}
