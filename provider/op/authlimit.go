package op

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"

	"github.com/guestpass/guestpass/pkg/store"
)

// An authorization request is stored at every /authorize hit, before
// anyone signs in, so both how long an untouched one is kept and how many
// one client can make are bounded (issue 11: one client made ~2,260/s,
// about 7 GB of Redis an hour when each was kept an hour).
//
// Lifetime: authRequestIdleTTL until the guest acts on the first sign-in
// page, which /authorize itself shows (a request nobody acts on is gone in
// 15 minutes), then authRequestStepTTL from that answer: the email form,
// a login_hint answering it at /authorize, or the start page opened by its
// URL — which is where a POST to /authorize sends the browser, so such a
// request has the longer lifetime from its first page on (the guest's time
// to get and enter a code: codeTTL is 30 minutes);
// completing it is refused an hour after /authorize (authRequestTTL)
// whatever the record's TTL.
const (
	authRequestIdleTTL = 15 * time.Minute
	authRequestStepTTL = 45 * time.Minute
	// authorizeWindow is the window of the per-client-IP /authorize count.
	authorizeWindow = time.Minute
)

// errAuthorizeLimited means the client IP made more authorization
// requests this minute than the tenant allows: nothing was stored.
var errAuthorizeLimited = errors.New("too many authorization requests from this client")

// saveAuthRequest stores a new auth request for its first
// authRequestIdleTTL, refusing one whose stored form would exceed
// maxStoredAuthRequest whatever the parameters. client is the key of the
// client's address for the per-IP limit ("" or a limit of 0: none).
func (s *storage) saveAuthRequest(ctx context.Context, a *AuthRequest, client string) error {
	p, err := s.prepareSave(a, client)
	if err != nil {
		return err
	}
	return p.settle(ctx, s.st.Pipeline(ctx, p.ops...))
}

// pendingSave is a new request's save as ops of a batch (the request and,
// with a per-IP limit, the client's count: one round trip), and what is
// left to do once the batch ran (settle).
type pendingSave struct {
	s     *storage
	key   string
	count *store.Op // nil: not counted
	ops   []*store.Op
}

// prepareSave encodes a for a save kept authRequestIdleTTL (the steps that
// act on the request extend it), refusing it when too large.
// The request is keyed by its own id's hash tag (spread over a Cluster),
// the counter by the client's.
func (s *storage) prepareSave(a *AuthRequest, client string) (*pendingSave, error) {
	b, err := marshalJSON(a, 1024)
	if err != nil {
		return nil, fmt.Errorf("encode auth request: %w", err)
	}
	if len(b) > maxStoredAuthRequest {
		return nil, oidc.ErrInvalidRequest().WithDescription("the authorization request is too large")
	}
	p := &pendingSave{s: s, key: s.k("authreq", a.ID)}
	set := store.SetOp(p.key, b, authRequestIdleTTL)
	if client == "" || s.authorizePerIP <= 0 {
		p.ops = []*store.Op{set}
		return p, nil
	}
	p.count = store.IncrOp(s.k("authorize-ip", client), 1, authorizeWindow)
	p.ops = []*store.Op{p.count, set}
	return p, nil
}

// settle finishes a save whose ops ran in a batch that returned batchErr.
// Over the limit, the request saved beside the count is taken back, a
// round trip that only a client over its limit pays (errAuthorizeLimited).
func (p *pendingSave) settle(ctx context.Context, batchErr error) error {
	if batchErr != nil {
		return fmt.Errorf("save auth request: %w", batchErr)
	}
	if p.count == nil || p.count.N <= int64(p.s.authorizePerIP) {
		return nil
	}
	if err := p.s.st.Delete(ctx, p.key); err != nil {
		return fmt.Errorf("withdraw auth request: %w", err)
	}
	return errAuthorizeLimited
}

// TouchAuthRequestOp extends the request's lifetime to authRequestStepTTL
// once the guest acts on a sign-in page (or opens one by its URL), as an
// op of that step's batch (no round trip of its own). An id that cannot
// name a request needs no op.
func (t *Tenant) TouchAuthRequestOp(id string) *store.Op {
	if !validRequestID(id) {
		return nil
	}
	return store.ExtendOp(t.storage.k("authreq", id), authRequestStepTTL)
}
