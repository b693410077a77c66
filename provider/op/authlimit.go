package op

import (
	"context"
	"encoding/json"
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
// Lifetime: authRequestIdleTTL until the first sign-in page is shown (a
// request nobody follows is gone in 15 minutes), then authRequestStepTTL
// from that page (the guest's time to get and enter a code: codeTTL is
// 30 minutes); completing it is refused an hour after /authorize
// (authRequestTTL) whatever the record's TTL.
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
	b, err := json.Marshal(a)
	if err != nil {
		return fmt.Errorf("encode auth request: %w", err)
	}
	if len(b) > maxStoredAuthRequest {
		return oidc.ErrInvalidRequest().WithDescription("the authorization request is too large")
	}
	key := s.k("authreq", a.ID)
	if client == "" || s.authorizePerIP <= 0 {
		if err := s.st.Set(ctx, key, b, authRequestIdleTTL); err != nil {
			return fmt.Errorf("save auth request: %w", err)
		}
		return nil
	}
	// The count and the request's save go in one pipeline (one round
	// trip); the request is keyed by its own id's hash tag (spread over a
	// Cluster), the counter by the client's.
	count := store.IncrOp(s.k("authorize-ip", client), 1, authorizeWindow)
	if err := s.st.Pipeline(ctx, count, store.SetOp(key, b, authRequestIdleTTL)); err != nil {
		return fmt.Errorf("save auth request: %w", err)
	}
	if count.N > int64(s.authorizePerIP) {
		// Over the limit: the request saved beside the count is taken
		// back, a round trip that only a client over its limit pays.
		if err := s.st.Delete(ctx, key); err != nil {
			return fmt.Errorf("withdraw auth request: %w", err)
		}
		return errAuthorizeLimited
	}
	return nil
}

// TouchAuthRequestOp extends the request's lifetime to authRequestStepTTL
// once a sign-in page is shown for it, as an op of that page's batch (no
// round trip of its own). An id that cannot name a request needs no op.
func (t *Tenant) TouchAuthRequestOp(id string) *store.Op {
	if !validRequestID(id) {
		return nil
	}
	return store.ExtendOp(t.storage.k("authreq", id), authRequestStepTTL)
}
