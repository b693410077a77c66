package session

import (
	"context"
	"fmt"
	"net/http"
	"time"
)

// The whole-session calls the tests use; production composes the same
// parts (Prepare, SaveOp, Saved, SetCookie; ClearCookie, DeleteByID) into
// its own batches.

// Create stores s as a new session of tenant for lifetime and sets the
// cookie. The id is always fresh — never one the request carried — so an
// attacker-planted cookie cannot become a signed-in session (no fixation).
// AuthTime defaults to now. The returned session is what was stored.
func (m *Manager) Create(ctx context.Context, w http.ResponseWriter, tenant string, s Session, lifetime time.Duration) (*Session, error) {
	ns, err := m.Prepare(tenant, s, lifetime)
	if err != nil {
		return nil, err
	}
	save := m.SaveOp(ns)
	if err := m.st.Pipeline(ctx, save); err != nil {
		return nil, fmt.Errorf("session: store: %w", err)
	}
	if err := Saved(save); err != nil {
		return nil, err
	}
	if err := m.SetCookie(w, ns); err != nil {
		return nil, err
	}
	return ns, nil
}

// Delete ends the session of r at tenant (logout): it removes the record
// and clears the cookie. Having no session is not an error. The cookie is
// cleared even when the store fails, and the failure is returned.
func (m *Manager) Delete(ctx context.Context, w http.ResponseWriter, r *http.Request, tenant string) error {
	m.ClearCookie(w, tenant)
	if m.err != nil {
		return m.err
	}
	id, err := m.cookieID(r, tenant)
	if err != nil {
		return nil
	}
	return m.DeleteByID(ctx, tenant, id)
}
