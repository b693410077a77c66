package server_test

import (
	"net/http"
	"net/url"
	"testing"

	"golang.org/x/oauth2"

	"github.com/guestpass/guestpass/pkg/store/redistest"
)

// RFC 6749 §4.1.2: a code presented a second time is refused, and the
// tokens issued for it are revoked (one of the two presenters should not
// have had it): the refresh token, the access token, and the access
// tokens of its refresh family. A presentation that fails client
// authentication changes nothing.
func TestReusedCodeRevokesItsTokens(t *testing.T) {
	e := newEnv(t, envOptions{redis: redistest.Start(t)})
	const ada = "ada@guest.example"
	invite(t, e, "fabrikam", ada, "Ada")
	b := newBrowser(t)
	live := func(at string) bool {
		t.Helper()
		return introspectActive(t, e, url.Values{"token": {at}}, "portal", "portal-secret")
	}
	refreshOK := func(rt string) bool {
		t.Helper()
		f := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}
		resp, _ := call(t, e, http.MethodPost, "fabrikam", "/oauth/token", f, "portal", "portal-secret", nil)
		return resp.StatusCode == http.StatusOK
	}
	for _, offline := range []bool{true, false} {
		r := newRP(t, e, "fabrikam", "portal", "portal-secret")
		if !offline {
			r.oauth.Scopes = []string{"openid", "email"}
		}
		code := codeFor(t, e, b, r, ada, !offline)
		tok, err := r.oauth.Exchange(bg(), code, oauth2.VerifierOption(r.verifier))
		if err != nil {
			t.Fatal(err)
		}
		again := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {rpCallback}, "code_verifier": {r.verifier}}
		// Not authenticated: refused before the code is looked at.
		resp, body := call(t, e, http.MethodPost, "fabrikam", "/oauth/token", again, "portal", "wrong", nil)
		oauthErr(t, "reuse with a wrong secret", resp, body, http.StatusUnauthorized, "invalid_client", "Basic")
		if !live(tok.AccessToken) {
			t.Fatalf("offline=%v: a failed client authentication revoked the tokens", offline)
		}
		var familyAT, rotated string
		if offline {
			// A refresh before the reuse: its access token belongs to the
			// same sign-in and must end with it.
			rt := oauth2.Token{RefreshToken: tok.RefreshToken}
			next, err := r.oauth.TokenSource(bg(), &rt).Token()
			if err != nil {
				t.Fatal(err)
			}
			familyAT, rotated = next.AccessToken, next.RefreshToken
		}
		// The same code again, by its client, with its verifier.
		resp, body = call(t, e, http.MethodPost, "fabrikam", "/oauth/token", again, "portal", "portal-secret", nil)
		oauthErr(t, "reused code", resp, body, http.StatusBadRequest, "invalid_grant", "Basic")
		if live(tok.AccessToken) {
			t.Fatalf("offline=%v: the reused code's access token is still active", offline)
		}
		if offline && (live(familyAT) || refreshOK(rotated)) {
			t.Fatal("the reused code's refresh family still works")
		}
	}
}
