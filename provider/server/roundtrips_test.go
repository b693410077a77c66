package server_test

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/redis/go-redis/v9"
	"golang.org/x/oauth2"

	"github.com/guestpass/guestpass/connectors/mock"
	"github.com/guestpass/guestpass/pkg/store/redisstore"
	"github.com/guestpass/guestpass/pkg/store/redistest"
)

// The budgets of Redis round trips per path; README's table states them.
// Each is what the handlers' batches cost today: a new round trip on any
// of these paths fails the test and needs a reason (and the README). The
// last batch of a sign-in stores the code too: the browser goes straight
// to the app, with no hop through /authorize/callback; and /authorize shows
// the first step itself, its batch storing the request and reading the
// session and switches (no redirect to a start page with a batch of its
// own).
const (
	// maxSignInRoundTrips: an invited guest's first complete passcode
	// sign-in (authorize with its first page 1, email form 1, send 1,
	// verify 3, token 2). Verify's 3: the code's check script in one batch
	// with the request's and the guest's reads, the guest's update, the
	// last batch.
	maxSignInRoundTrips = 8
	// maxSelfServiceRoundTrips: a new guest of a self-service tenant: as
	// an invited guest's; the record's compare-and-swap writes its index
	// entries in the same script.
	maxSelfServiceRoundTrips = 8
	// maxOldSessionRoundTrips: a browser holding a session of an earlier
	// sign-in (prompt=login): authorize reads it in its one batch, verify
	// ends it in its last batch.
	maxOldSessionRoundTrips = 8
	// maxMalformedCodeRoundTrips: a code that is not 8 digits is refused
	// from the form alone (B10: bad input changes nothing).
	maxMalformedCodeRoundTrips = 0
	// maxSSORoundTrips: a second app's sign-in with a live session:
	// authorize 2 (the request stored beside the session and policy
	// reads; then the session's guest, still there with the session's id
	// and source), the completed request and its code 1, token 2.
	maxSSORoundTrips = 5
	// maxRefreshRoundTrips: one refresh grant: the token with its
	// family's revocation mark (the token names its family), then marking
	// it used (a swap) with the new tokens.
	maxRefreshRoundTrips = 2
	// maxPasswordRoundTrips: a member's first sign-in through a password
	// connector (mock): authorize with its first page 1, email form 1 (request,
	// guest, switches), the password form 1 (request, guest, switches,
	// the attempt counted) before the connector is asked, the subject
	// index 1 (no guest at the address: the subject, known only once
	// the connector answered, may be a guest's whose address changed),
	// the new guest's record 1 and index 1, the last batch 1 (with the
	// code), token 2.
	maxPasswordRoundTrips = 9
	// maxUpstreamRoundTrips: a new guest's first sign-in through an
	// upstream (callback mock): as the password path without the
	// subject's own read, which the callback step's one batch carries
	// (request, guest, switches, subject index) once the upstream answered.
	maxUpstreamRoundTrips = 8
)

// warmJWKS fetches the tenants' JWKS, as every relying party does once:
// it loads both key rings (the RSA ring publishes what an RS256 client's
// tokens were signed with, if any), which a replica then re-reads once per
// keyRefresh, not per sign-in.
func warmJWKS(t *testing.T, e *env, tenants ...string) {
	t.Helper()
	for _, tenant := range tenants {
		jwks(t, e, tenant)
	}
}

// countHook counts Redis round trips: each command and each pipeline is one.
type countHook struct{ n atomic.Int64 }

func (h *countHook) trip([]redis.Cmder, bool) { h.n.Add(1) }

// roundTrips counts the Redis round trips of e's store from now on; the
// function it returns runs one path and fails the test when the path took
// more than its budget.
func roundTrips(t *testing.T, e *env) func(path string, budget int64, run func()) {
	h := &countHook{}
	e.store.(*redisstore.Store).Client().AddHook(redistest.TripHook(h.trip))
	return func(path string, budget int64, run func()) {
		t.Helper()
		before := h.n.Load()
		run()
		n := h.n.Load() - before
		t.Logf("%s: %d Redis round trips (budget %d)", path, n, budget)
		if n > budget {
			t.Errorf("%s: %d round trips, budget %d", path, n, budget)
		}
	}
}

// TestSignInRedisRoundTrips pins the round trips of every sign-in path:
// an invited guest, a new self-service guest, a browser with an older
// session, single sign-on and a refresh. The paths run one after the
// other on one server, each measured on its own.
func TestSignInRedisRoundTrips(t *testing.T) {
	e := newEnv(t, envOptions{redis: redistest.Start(t)})
	invite(t, e, "fabrikam", "rt@guest.example", "Round Trip")
	// Warm up: discovery and the tenants' signing keys are not part of a
	// sign-in's cost once the server runs.
	r := newRP(t, e, "fabrikam", "portal", "portal-secret")
	rc := newRP(t, e, "contoso", "portal", "contoso-secret")
	clientCredentials(t, e, "fabrikam", "admin", "admin-secret")
	clientCredentials(t, e, "contoso", "admin", "contoso-admin-secret")
	warmJWKS(t, e, "fabrikam", "contoso")

	measure := roundTrips(t, e)

	b := newBrowser(t)
	var tok *oauth2.Token
	measure("invited guest, first sign-in", maxSignInRoundTrips, func() {
		tok, _ = r.callback(t, e, "fabrikam", signIn(t, e, b, r.authURL(), "rt@guest.example"))
	})
	measure("new self-service guest", maxSelfServiceRoundTrips, func() {
		rc.callback(t, e, "contoso", signIn(t, e, newBrowser(t), rc.authURL(), "new@guest.example"))
	})
	measure("browser with an older session", maxOldSessionRoundTrips, func() {
		r.callback(t, e, "fabrikam", signIn(t, e, b, r.authURL(oauth2Prompt("login")), "rt@guest.example"))
	})
	measure("single sign-on (live session)", maxSSORoundTrips, func() {
		r2 := newRP(t, e, "fabrikam", "portal", "portal-secret")
		r2.callback(t, e, "fabrikam", b.get(r2.authURL()))
	})
	measure("refresh grant", maxRefreshRoundTrips, func() {
		if _, err := r.oauth.TokenSource(context.Background(), &oauth2.Token{RefreshToken: tok.RefreshToken}).Token(); err != nil {
			t.Fatalf("refresh: %v", err)
		}
	})
	mb := newBrowser(t)
	cp := toCodePage(t, mb, rc.authURL(), "malformed@guest.example")
	measure("malformed code", maxMalformedCodeRoundTrips, func() {
		if msg := rejected(t, enter(t, mb, cp, "1234567"), http.StatusBadRequest); msg != msgCodeFormat {
			t.Fatalf("malformed code: %q, want the format message", msg)
		}
	})
}

// TestConnectorRedisRoundTrips pins the round trips of the connector
// paths (mock password and callback connectors), measured like the
// passcode's.
func TestConnectorRedisRoundTrips(t *testing.T) {
	e, m := newMockEnvOn(t, redistest.Start(t))
	m.pw["contoso"].SetUser("ada@staff.example", mock.User{Password: "right horse"})
	r := newRP(t, e, "contoso", "portal", "contoso-secret")
	clientCredentials(t, e, "contoso", "admin", "contoso-admin-secret")
	warmJWKS(t, e, "contoso")

	measure := roundTrips(t, e)
	measure("password connector, first sign-in", maxPasswordRoundTrips, func() {
		b := newBrowser(t)
		r.callback(t, e, "contoso", postPassword(t, b, postEmail(t, b, r.authURL(), "ada@staff.example"), "right horse"))
	})
	measure("upstream (callback) connector, first sign-in", maxUpstreamRoundTrips, func() {
		b := newBrowser(t)
		r.callback(t, e, "contoso", b.get(upstreamRedirect(t, b, r.authURL(), "bo@partner.example")))
	})
}
