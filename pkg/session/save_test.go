package session

import (
	"context"
	"errors"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/guestpass/guestpass/pkg/store"
	"github.com/guestpass/guestpass/pkg/store/storetest"
)

// A new session never overwrites another: SaveOp is a SetNX, so an id
// already in use (which 256 random bits make a broken store's doing)
// fails the sign-in and leaves the other browser's session alone.
func TestSaveNeverOverwritesASession(t *testing.T) {
	backends.Each(t, func(t *testing.T, st store.Store, clock *storetest.Clock) {
		ctx := context.Background()
		m := NewManager(st, testOptions(clock.Now, false))
		s, err := m.Prepare("fabrikam", newSession(), time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		other := []byte(`{"someone":"else"}`)
		if err := st.Set(ctx, recordKey("fabrikam", s.ID), other, time.Hour); err != nil {
			t.Fatal(err)
		}
		save := m.SaveOp(s)
		if err := st.Pipeline(ctx, save); err != nil {
			t.Fatal(err)
		}
		if err := Saved(save); !errors.Is(err, ErrCollision) {
			t.Fatalf("Saved = %v, want ErrCollision", err)
		}
		if v, err := st.Get(ctx, recordKey("fabrikam", s.ID)); err != nil || string(v) != string(other) {
			t.Fatalf("the other session became %q, %v", v, err)
		}

		// A fresh id is saved, and the cookie then names a live session.
		s, err = m.Prepare("fabrikam", newSession(), time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		save = m.SaveOp(s)
		if err := st.Pipeline(ctx, save); err != nil || Saved(save) != nil {
			t.Fatalf("save: %v, %v", err, Saved(save))
		}
		rec := httptest.NewRecorder()
		if err := m.SetCookie(rec, s); err != nil {
			t.Fatal(err)
		}
		c := cookieFrom(t, rec, CookieName)
		if c.MaxAge != int(time.Hour/time.Second) {
			t.Fatalf("cookie Max-Age = %d, want the whole lifetime", c.MaxAge)
		}
		got, err := m.Get(ctx, requestWith("fabrikam", c), "fabrikam")
		if err != nil || got.ID != s.ID {
			t.Fatalf("Get = %+v, %v", got, err)
		}
		// EndOp deletes exactly the session the cookie names.
		if err := st.Pipeline(ctx, m.EndOp(requestWith("fabrikam", c), "fabrikam")); err != nil {
			t.Fatal(err)
		}
		if _, err := m.Get(ctx, requestWith("fabrikam", c), "fabrikam"); !errors.Is(err, ErrNoSession) {
			t.Fatalf("after EndOp: %v, want ErrNoSession", err)
		}
	})
}
