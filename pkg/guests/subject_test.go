package guests_test

import (
	"context"
	"errors"
	"testing"

	"github.com/guestpass/guestpass/pkg/guests"
	"github.com/guestpass/guestpass/pkg/store"
	"github.com/guestpass/guestpass/pkg/store/storetest"
)

// The upstream subject is recorded, a different one through the same
// source is refused with nothing written, the subjects index finds the
// guest, and a move keeps the id under the new address.
func TestSubjectRecordedCheckedAndMoved(t *testing.T) {
	backends.Each(t, func(t *testing.T, st store.Store, clock *storetest.Clock) {
		ctx := context.Background()
		repo := guests.NewRepo(st, codeKey, clock.Now).For("fabrikam")
		in := guests.SignIn{Email: "cy@example.com", Source: "oidc:partner", Subject: "u-1"}
		g, err := repo.RecordSignIn(ctx, "cy@example.com", in)
		if err != nil || g.Subject != "u-1" {
			t.Fatalf("first sign-in: %+v %v", g, err)
		}
		other := in
		other.Subject = "u-2"
		if _, err := repo.RecordSignIn(ctx, "cy@example.com", other); !errors.Is(err, guests.ErrSubjectMismatch) {
			t.Fatalf("another subject: %v", err)
		}
		if cur, _ := repo.Get(ctx, "cy@example.com"); cur.Subject != "u-1" {
			t.Fatalf("refused sign-in wrote subject %q", cur.Subject)
		}
		find := func(source, subject string) string {
			t.Helper()
			rd := repo.ReadSubject(source, subject)
			if err := store.Batch(ctx, st, rd.Op()); err != nil {
				t.Fatal(err)
			}
			at, err := rd.Result()
			if err != nil {
				t.Fatal(err)
			}
			return at
		}
		if at := find("oidc:partner", "u-1"); at != "cy@example.com" {
			t.Fatalf("index names %q", at)
		}
		if at := find("oidc:other", "u-1"); at != "" {
			t.Fatalf("another source's subject found %q", at)
		}
		moved, err := repo.MoveSignIn(ctx, "cy@example.com", "cy.new@example.com",
			guests.SignIn{Email: "Cy.New@example.com", Source: "oidc:partner", Subject: "u-1"})
		if err != nil || moved.ID != g.ID || moved.Canonical != "cy.new@example.com" {
			t.Fatalf("move: %+v %v", moved, err)
		}
		if _, err := repo.Get(ctx, "cy@example.com"); !errors.Is(err, guests.ErrNotFound) {
			t.Fatalf("old address: %v", err)
		}
		if byID, err := repo.GetByID(ctx, g.ID); err != nil || byID.Canonical != "cy.new@example.com" {
			t.Fatalf("by id after the move: %+v %v", byID, err)
		}
		if at := find("oidc:partner", "u-1"); at != "cy.new@example.com" {
			t.Fatalf("index after the move names %q", at)
		}
		// Onto another guest's address: refused, nothing changed.
		if _, _, err := repo.Invite(ctx, "dee@example.com", "dee@example.com", ""); err != nil {
			t.Fatal(err)
		}
		if _, err := repo.MoveSignIn(ctx, "cy.new@example.com", "dee@example.com",
			guests.SignIn{Email: "dee@example.com", Source: "oidc:partner", Subject: "u-1"}); !errors.Is(err, guests.ErrAddressTaken) {
			t.Fatalf("move onto another guest: %v", err)
		}
		// A stale hint (the subject is not the guest's): not found.
		if _, err := repo.MoveSignIn(ctx, "cy.new@example.com", "x@example.com",
			guests.SignIn{Email: "x@example.com", Source: "oidc:partner", Subject: "u-9"}); !errors.Is(err, guests.ErrNotFound) {
			t.Fatalf("stale hint: %v", err)
		}
	})
}

// A guest reset between two connectors signs in through the second one,
// twice: the reset forgets the first source's subject (the review's
// "bound to another account" lock-out), and neither a reset nor a delete
// leaves a subjects index entry that would find (or move) the guest.
func TestResetAndDeleteForgetTheSubject(t *testing.T) {
	backends.Each(t, func(t *testing.T, st store.Store, clock *storetest.Clock) {
		ctx := context.Background()
		repo := guests.NewRepo(st, codeKey, clock.Now).For("fabrikam")
		find := func(source, subject string) string {
			t.Helper()
			rd := repo.ReadSubject(source, subject)
			if err := store.Batch(ctx, st, rd.Op()); err != nil {
				t.Fatal(err)
			}
			at, err := rd.Result()
			if err != nil {
				t.Fatal(err)
			}
			return at
		}
		g, err := repo.RecordSignIn(ctx, "ed@example.com", guests.SignIn{Email: "ed@example.com", Source: "oidc:a", Subject: "a-1"})
		if err != nil {
			t.Fatal(err)
		}
		r, err := repo.ResetRedemption(ctx, g.ID)
		if err != nil {
			t.Fatal(err)
		}
		if r.Subject != "" {
			t.Fatalf("reset kept subject %q", r.Subject)
		}
		if at := find("oidc:a", "a-1"); at != "" {
			t.Fatalf("reset left the subjects entry naming %q", at)
		}
		b := guests.SignIn{Email: "ed@example.com", Source: "oidc:b", Subject: "b-1"}
		for i := range 2 {
			got, err := repo.RecordSignIn(ctx, "ed@example.com", b)
			if err != nil {
				t.Fatalf("sign-in %d through the new source after reset: %v", i+1, err)
			}
			if got.ID != g.ID || got.Subject != "b-1" {
				t.Fatalf("after reset: %+v", got)
			}
		}
		if at := find("oidc:b", "b-1"); at != "ed@example.com" {
			t.Fatalf("new subject indexed at %q", at)
		}
		if err := repo.Delete(ctx, g.ID); err != nil {
			t.Fatal(err)
		}
		if at := find("oidc:b", "b-1"); at != "" {
			t.Fatalf("delete left the subjects entry naming %q", at)
		}
	})
}
