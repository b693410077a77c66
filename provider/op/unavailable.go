package op

import (
	"context"
	"net/http"

	"github.com/guestpass/guestpass/pkg/store"
	"github.com/guestpass/guestpass/provider/pages"
)

// A store outage is told by the error a store call returned
// (store.ErrUnavailable, or a deadline that ran out waiting for it), and
// every endpoint answers it with a 503 the client may retry: nothing is
// carried in the request's context for a middleware to find later.

// retryAfter is the Retry-After of every outage answer, in seconds.
const retryAfter = "5"

// unavailable is the JSON endpoints' answer to an outage;
// temporarily_unavailable is OAuth's word for it (RFC 6749 §4.1.2.1).
func unavailable() *oauthError {
	return &oauthError{status: http.StatusServiceUnavailable, code: "temporarily_unavailable",
		desc: "the service is temporarily unavailable; try again shortly"}
}

// storeFailed answers a browser endpoint whose store call failed: the
// error page, 503 for an outage and 500 otherwise.
func (t *Tenant) storeFailed(w http.ResponseWriter, r *http.Request, err error) {
	if store.Down(err) {
		w.Header().Set("Retry-After", retryAfter)
		t.errorPage(w, r, http.StatusServiceUnavailable, pages.MsgUnavailable)
		return
	}
	t.log.ErrorContext(r.Context(), "oidc endpoint", "tenant", t.id, "path", r.URL.Path, "error", err.Error())
	t.errorPage(w, r, http.StatusInternalServerError, pages.MsgServerError)
}

// keysLoaded returns the store's error when the signing keys are not
// loaded and cannot be (an outage on a replica that has not loaded them
// yet). Verifying a JWT then would fail as "invalid signature", which the
// library reports without the cause: a valid token would be called
// inactive, a valid id_token_hint invalid. Loaded keys cost no trip.
func (t *Tenant) keysLoaded(ctx context.Context) error {
	if err := t.storage.loadKeys(ctx); err != nil && store.Down(err) {
		return err
	}
	return nil
}

// keysReachable makes sure the library's /keys will find the signing keys
// (the rings keep them once loaded, so this costs no round trip then):
// any failure is answered here, an outage before the first load as a
// 503, anything else (a set that does not open) as a logged 500, both
// uncacheable OAuth JSON; the library would answer "{}" with a 500 under
// the JWKS's public cache lifetime.
func (t *Tenant) keysReachable(w http.ResponseWriter, r *http.Request) bool {
	if err := t.storage.loadKeys(r.Context()); err != nil {
		t.fail(w, r, err)
		return false
	}
	return true
}
