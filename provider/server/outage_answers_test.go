package server_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/guestpass/guestpass/pkg/store/redistest"
)

// Issue 11 item 4: during a Redis outage /authorize must not send the
// person back to the app with error=server_error (the app would show a
// failure it cannot retry), and introspection must not call a valid token
// inactive (a resource server would log the user out). Both answer 503
// with Retry-After: the page for people, temporarily_unavailable JSON for
// programs. The second replica has loaded no signing keys yet, so it
// must reach the store to verify anything: the case that said
// {"active":false}.
func TestOutageAnswersAuthorizeAndIntrospect(t *testing.T) {
	rs := redistest.Start(t)
	prefix := redistest.KeyPrefix(t)
	secrets := [3]string{secret(64), secret(32), secret(32)}
	e1 := newEnv(t, envOptions{redis: rs, prefix: prefix, secrets: &secrets})
	e2 := newEnv(t, envOptions{redis: rs, prefix: prefix, secrets: &secrets})
	const bob = "bob@guest.example"
	invite(t, e1, "fabrikam", bob, "Bob")
	_, tok := signedInBrowser(t, e1, bob)
	idToken, _ := tok.Extra("id_token").(string)
	r1 := newRP(t, e1, "fabrikam", "portal", "portal-secret")
	r2 := newRP(t, e2, "fabrikam", "portal", "portal-secret")

	rs.Stop()
	b := newBrowser(t)
	b.c.Timeout = 20 * time.Second
	for name, u := range map[string]string{
		"authorize":                      r1.authURL(),
		"authorize with id_token_hint":   r2.authURL(oauth2.SetAuthURLParam("id_token_hint", idToken), oauth2.SetAuthURLParam("prompt", "none")),
		"authorize on the fresh replica": r2.authURL(oidcScope()),
	} {
		p := b.raw(http.MethodGet, u, nil)
		if p.status != http.StatusServiceUnavailable || !strings.Contains(p.body, msgUnavailable) || p.header.Get("Retry-After") == "" {
			t.Errorf("%s during an outage: %d (Location %q), want the 503 page with Retry-After:\n%s",
				name, p.status, p.header.Get("Location"), p.body)
		}
	}
	introspect := func(e *env) (*http.Response, string) {
		return call(t, e, http.MethodPost, "fabrikam", "/oauth/introspect", url.Values{"token": {tok.AccessToken}},
			"portal", "portal-secret", nil)
	}
	for name, e := range map[string]*env{"replica that issued the token": e1, "fresh replica": e2} {
		resp, body := introspect(e)
		if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, `"temporarily_unavailable"`) ||
			resp.Header.Get("Retry-After") == "" {
			t.Errorf("introspection on the %s during an outage: %d %s, want 503 temporarily_unavailable with Retry-After",
				name, resp.StatusCode, body)
		}
	}

	// Recovery: the next requests work again, with nothing restarted but
	// Redis (which comes back empty: the token is gone, so it is inactive).
	rs.Restart()
	if p := b.raw(http.MethodGet, r1.authURL(), nil); !isStartPage(p) {
		t.Errorf("authorize after recovery: %d %q", p.status, p.location(t))
	}
	for name, e := range map[string]*env{"issuing replica": e1, "fresh replica": e2} {
		if resp, body := introspect(e); resp.StatusCode != http.StatusOK || !strings.Contains(body, `"active":false`) {
			t.Errorf("introspection on the %s after recovery: %d %s", name, resp.StatusCode, body)
		}
	}
}

// oidcScope asks for the openid scope explicitly (what every app sends).
func oidcScope() oauth2.AuthCodeOption {
	return oauth2.SetAuthURLParam("scope", oidc.ScopeOpenID)
}

// B4/B8: a logout while Redis is down must not say "signed out" (the
// session lives on): the outage's 503 page with Retry-After, and after
// recovery the logout works.
func TestOutageAnswersEndSession(t *testing.T) {
	rs := redistest.Start(t)
	e := newEnv(t, envOptions{redis: rs})
	const bob = "bob@guest.example"
	invite(t, e, "fabrikam", bob, "Bob")
	b, _ := signedInBrowser(t, e, bob)
	q := url.Values{"client_id": {"portal"}, "post_logout_redirect_uri": {rpHome}}

	rs.Stop()
	b.c.Timeout = 20 * time.Second
	p := endSession(t, e, b, q)
	if p.status != http.StatusServiceUnavailable || p.header.Get("Location") != "" || p.header.Get("Retry-After") == "" ||
		!strings.Contains(p.body, msgUnavailable) {
		t.Fatalf("logout during an outage: %d (Location %q), want the 503 page with Retry-After:\n%s",
			p.status, p.header.Get("Location"), p.body)
	}
	rs.Restart() // comes back empty: the session is gone, so the browser goes straight on
	if p := endSession(t, e, b, q); p.status != http.StatusFound || p.location(t) != rpHome {
		t.Errorf("logout after recovery: %d %q", p.status, p.location(t))
	}
}
