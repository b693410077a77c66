package server_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// userinfo is an OpenID Connect resource: an access token without the
// openid scope (here from a narrowed refresh) gets 403 insufficient_scope
// with a Bearer challenge naming it (RFC 6750 §3.1).
func TestUserinfoRequiresOpenID(t *testing.T) {
	e := newEnv(t, envOptions{})
	_, _, tok := signedInTokens(t, e)
	narrowed := func(rt, scope string) (string, string) {
		t.Helper()
		f := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "scope": {scope}}
		resp, body := call(t, e, http.MethodPost, "fabrikam", "/oauth/token", f, "portal", "portal-secret", nil)
		var m map[string]any
		if resp.StatusCode != http.StatusOK || json.Unmarshal([]byte(body), &m) != nil {
			t.Fatalf("refresh with scope %q: %d %s", scope, resp.StatusCode, body)
		}
		return m["access_token"].(string), m["refresh_token"].(string)
	}
	at, rt := narrowed(tok.RefreshToken, "email profile")
	resp, body := call(t, e, http.MethodGet, "fabrikam", "/userinfo", nil, "", "", map[string]string{"Authorization": "Bearer " + at})
	oauthErr(t, "userinfo without openid", resp, body, http.StatusForbidden, "insufficient_scope", "Bearer")
	if wa := resp.Header.Get("WWW-Authenticate"); !strings.Contains(wa, `error="insufficient_scope"`) {
		t.Fatalf("challenge %q does not name insufficient_scope", wa)
	}
	at, _ = narrowed(rt, "openid")
	resp, body = call(t, e, http.MethodGet, "fabrikam", "/userinfo", nil, "", "", map[string]string{"Authorization": "Bearer " + at})
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `"sub"`) {
		t.Fatalf("userinfo with openid: %d %s", resp.StatusCode, body)
	}
}

// A request to userinfo with another Authorization scheme carries no
// token: 401 with the bare Bearer challenge, no error code (RFC 6750 §3.1),
// exactly like a request without Authorization.
func TestUserinfoOtherSchemeIsUnauthenticated(t *testing.T) {
	e := newEnv(t, envOptions{})
	_, _, tok := signedInTokens(t, e)
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte("portal:portal-secret"))
	for _, h := range []string{basic, "Digest username=\"portal\"", "DPoP " + tok.AccessToken, "Token " + tok.AccessToken} {
		for _, m := range []string{http.MethodGet, http.MethodPost} {
			resp, body := call(t, e, m, "fabrikam", "/userinfo", nil, "", "", map[string]string{"Authorization": h})
			oauthErr(t, m+" userinfo with "+strings.Fields(h)[0], resp, body, http.StatusUnauthorized, "invalid_token", "Bearer")
			if wa := resp.Header.Get("WWW-Authenticate"); strings.Contains(wa, "error=") {
				t.Fatalf("%s: challenge %q names an error (RFC 6750 §3.1 wants the bare challenge)", h, wa)
			}
		}
	}
}
