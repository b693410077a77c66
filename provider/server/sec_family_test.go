package server_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/guestpass/guestpass/pkg/store"
	"github.com/guestpass/guestpass/pkg/store/redistest"
)

// The refresh-family revoked mark fails closed: only a mark known to be
// absent lets an access token count as live. A store error reading it
// (here a Redis WRONGTYPE: the key holds a hash) is a 503
// temporarily_unavailable at introspection and userinfo, never "active"
// and never the guest's data.
func TestFamilyRevokedCheckFailsClosed(t *testing.T) {
	e := newEnv(t, envOptions{redis: redistest.Start(t)})
	_, _, tok := signedInTokens(t, e)
	bearer := map[string]string{"Authorization": "Bearer " + tok.AccessToken}
	if resp, body := call(t, e, http.MethodGet, "fabrikam", "/userinfo", nil, "", "", bearer); resp.StatusCode != http.StatusOK {
		t.Fatalf("userinfo before: %d %s", resp.StatusCode, body)
	}
	family := accessTokenFamily(t, tok.AccessToken)
	if err := e.store.HSet(bg(), store.TagKey("fabrikam", family, "rtf-revoked"), "x", []byte("1")); err != nil {
		t.Fatal(err)
	}
	unavailable := func(what string, resp *http.Response, body string) {
		t.Helper()
		var m map[string]any
		_ = json.Unmarshal([]byte(body), &m)
		if resp.StatusCode != http.StatusServiceUnavailable || m["error"] != "temporarily_unavailable" || strings.Contains(body, "ada@") {
			t.Fatalf("%s with an unreadable revoked mark: %d %s, want 503 temporarily_unavailable", what, resp.StatusCode, body)
		}
	}
	resp, body := call(t, e, http.MethodPost, "fabrikam", "/oauth/introspect", url.Values{"token": {tok.AccessToken}}, "portal", "portal-secret", nil)
	unavailable("introspection", resp, body)
	resp, body = call(t, e, http.MethodGet, "fabrikam", "/userinfo", nil, "", "", bearer)
	unavailable("userinfo", resp, body)
}

// accessTokenFamily returns the refresh family of an access token: the
// part of its jti before the dot.
func accessTokenFamily(t *testing.T, at string) string {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(strings.Split(at, ".")[1])
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		JTI string `json:"jti"`
	}
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	fam, _, ok := strings.Cut(c.JTI, ".")
	if !ok {
		t.Fatalf("access token jti %q names no family", c.JTI)
	}
	return fam
}
