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

// A handle bound to one tenant works with that tenant's cookies only: a
// session, flow or device cookie of tenant A means nothing to B's handles.
func TestTenantHandlesStayInTheirTenant(t *testing.T) {
	backends.Each(t, func(t *testing.T, st store.Store, clock *storetest.Clock) {
		ctx := context.Background()
		o := testOptions(clock.Now, false)
		m, f, d := NewManager(st, o), NewFlows(o), NewDevices(o)
		a, b := m.For("tenant-a"), m.For("tenant-b")

		s, err := a.Prepare(newSession(), time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		save := a.SaveOp(s)
		if err := st.Pipeline(ctx, save); err != nil || Saved(save) != nil {
			t.Fatalf("save: %v, %v", err, Saved(save))
		}
		rec := httptest.NewRecorder()
		if err := a.SetCookie(rec, s); err != nil {
			t.Fatal(err)
		}
		flow, err := f.For("tenant-a").Ensure(rec, httptest.NewRequest("GET", "/tenant-a/login", nil))
		if err != nil {
			t.Fatal(err)
		}
		if err := d.For("tenant-a").Set(rec, "ann@example.com"); err != nil {
			t.Fatal(err)
		}
		r := requestWith("tenant-a", rec.Result().Cookies()...)

		read := func(h *TenantSessions) (*Session, error) {
			rd := h.Read(r)
			if err := store.Batch(ctx, st, rd.Op()); err != nil {
				t.Fatal(err)
			}
			return rd.Result()
		}
		if got, err := read(a); err != nil || got.ID != s.ID {
			t.Fatalf("A's session at A: %+v, %v", got, err)
		}
		if _, err := read(b); !errors.Is(err, ErrNoSession) {
			t.Fatalf("A's session at B: %v, want ErrNoSession", err)
		}
		if b.EndOp(r) != nil {
			t.Fatal("B would end A's session")
		}
		if got, err := f.For("tenant-a").Get(r); err != nil || got != flow {
			t.Fatalf("A's flow at A = %q, %v", got, err)
		}
		if _, err := f.For("tenant-b").Get(r); err == nil {
			t.Fatal("A's flow cookie read at B")
		}
		if f.For("tenant-b").CheckCSRF(flow, f.For("tenant-a").CSRFToken(flow)) {
			t.Fatal("A's CSRF token accepted at B")
		}
		if d.For("tenant-a").ID(r, "ann@example.com") == "" {
			t.Fatal("A's device cookie not recognised at A")
		}
		if d.For("tenant-b").ID(r, "ann@example.com") != "" {
			t.Fatal("A's device cookie recognised at B")
		}
	})
}
