package server_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// A tenant serves what its discovery document advertises and nothing
// else: the OIDC library's other routes (device authorization, which
// tells whether a client exists; its health and readiness probes) get the
// same 404 as any unknown path, a page for people and JSON for programs.
func TestOnlyAdvertisedRoutesAreServed(t *testing.T) {
	e := newEnv(t, envOptions{})
	send := func(method, path, accept string, form url.Values) (*http.Response, string) {
		t.Helper()
		resp, body := call(t, e, method, "fabrikam", path, form, "", "", map[string]string{"Accept": accept})
		return resp, nonceRe.ReplaceAllString(body, "nonce")
	}
	for _, accept := range []string{"text/html", "application/json"} {
		ref, refBody := send(http.MethodGet, "/no-such-endpoint", accept, nil)
		if ref.StatusCode != http.StatusNotFound || !strings.HasPrefix(ref.Header.Get("Content-Type"), strings.Split(accept, ",")[0]) {
			t.Fatalf("unknown path (%s): %d %q", accept, ref.StatusCode, ref.Header.Get("Content-Type"))
		}
		for _, c := range []struct {
			method, path string
			form         url.Values
		}{
			{http.MethodPost, "/device_authorization", url.Values{"client_id": {"portal"}, "scope": {"openid"}}},
			{http.MethodPost, "/device_authorization", url.Values{"client_id": {"nobody"}, "scope": {"openid"}}},
			{http.MethodGet, "/device_authorization", nil},
			{http.MethodGet, "/healthz", nil},
			{http.MethodGet, "/ready", nil},
			{http.MethodGet, "/", nil},
		} {
			resp, body := send(c.method, c.path, accept, c.form)
			if resp.StatusCode != http.StatusNotFound || resp.Header.Get("Content-Type") != ref.Header.Get("Content-Type") || body != refBody {
				t.Errorf("%s %s (%s): %d %q\n%s\nwant the unknown path's 404:\n%s", c.method, c.path, accept,
					resp.StatusCode, resp.Header.Get("Content-Type"), body, refBody)
			}
		}
	}
	// What discovery advertises and the library still serves is there.
	doc, _ := discovery(t, e, "fabrikam", "")
	jwks, _ := doc["jwks_uri"].(string)
	resp, body := call(t, e, http.MethodGet, "fabrikam", strings.TrimPrefix(jwks, e.issuer("fabrikam")), nil, "", "", nil)
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `"keys"`) {
		t.Fatalf("jwks_uri %s: %d %s", jwks, resp.StatusCode, body)
	}
}
