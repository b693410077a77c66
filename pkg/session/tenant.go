package session

import (
	"net/http"
	"time"

	"github.com/guestpass/guestpass/pkg/store"
)

// The handles below bind the session parts to one tenant, for a caller
// that serves one tenant (a tenant's sign-in pages): no call then lists
// the tenant among the flow, the key and the address.

// TenantSessions is a Manager bound to one tenant.
type TenantSessions struct {
	m      *Manager
	tenant string
}

// For binds the manager to tenant.
func (m *Manager) For(tenant string) *TenantSessions { return &TenantSessions{m: m, tenant: tenant} }

// Read is the browser's session as a read of a step's batch.
func (t *TenantSessions) Read(r *http.Request) *store.Read[*Session] { return t.m.Read(r, t.tenant) }

// Prepare makes s a new session for lifetime (see Manager.Prepare).
func (t *TenantSessions) Prepare(s Session, lifetime time.Duration) (*Session, error) {
	return t.m.Prepare(t.tenant, s, lifetime)
}

// SaveOp stores a prepared session only if its id is new; check with Saved.
func (t *TenantSessions) SaveOp(s *Session) *store.Op { return t.m.SaveOp(s) }

// SetCookie gives the browser a stored session's id.
func (t *TenantSessions) SetCookie(w http.ResponseWriter, s *Session) error {
	return t.m.SetCookie(w, s)
}

// EndOp deletes the session the request's cookie names; nil when none.
func (t *TenantSessions) EndOp(r *http.Request) *store.Op { return t.m.EndOp(r, t.tenant) }

// TenantFlows is Flows bound to one tenant.
type TenantFlows struct {
	f      *Flows
	tenant string
}

// For binds the flows to tenant.
func (f *Flows) For(tenant string) *TenantFlows { return &TenantFlows{f: f, tenant: tenant} }

// Ensure returns the browser's flow id, starting a flow when it has none.
func (t *TenantFlows) Ensure(w http.ResponseWriter, r *http.Request) (string, error) {
	return t.f.Ensure(w, r, t.tenant)
}

// Get returns the browser's flow id.
func (t *TenantFlows) Get(r *http.Request) (string, error) { return t.f.Get(r, t.tenant) }

// CSRFToken is the CSRF token of a flow.
func (t *TenantFlows) CSRFToken(flow string) string { return t.f.CSRFToken(t.tenant, flow) }

// CheckCSRF checks a flow's CSRF token.
func (t *TenantFlows) CheckCSRF(flow, token string) bool { return t.f.CheckCSRF(t.tenant, flow, token) }

// SetState seals v into the flow's state cookie for key (an auth request).
func (t *TenantFlows) SetState(w http.ResponseWriter, flow, key string, v any) error {
	return t.f.SetState(w, t.tenant, flow, key, v)
}

// State opens the flow's state cookie for key into v.
func (t *TenantFlows) State(r *http.Request, flow, key string, v any) error {
	return t.f.State(r, t.tenant, flow, key, v)
}

// TenantDevices is Devices bound to one tenant.
type TenantDevices struct {
	d      *Devices
	tenant string
}

// For binds the device cookies to tenant.
func (d *Devices) For(tenant string) *TenantDevices { return &TenantDevices{d: d, tenant: tenant} }

// Set marks the browser as one that signed in as address.
func (t *TenantDevices) Set(w http.ResponseWriter, address string) error {
	return t.d.Set(w, t.tenant, address)
}

// ID is the browser's device id for address, "" for none.
func (t *TenantDevices) ID(r *http.Request, address string) string {
	return t.d.ID(r, t.tenant, address)
}
