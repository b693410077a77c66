package server_test

import (
	"net/http"
	"net/url"
	"testing"
)

// Every JSON answer for programs, whoever writes it (the OP's
// introspection, the admin API, the server's own errors, /readyz), is
// uncacheable and never sniffed (pkg/jsonhttp); the token endpoint's are
// checked in TestSecTokenHeadersAndCORS.
func TestJSONAnswersAreUncacheable(t *testing.T) {
	e := newEnv(t, envOptions{})
	tok := clientCredentials(t, e, "fabrikam", "admin", "admin-secret")
	get := func(u string) *http.Response {
		req, _ := http.NewRequest(http.MethodGet, u, nil)
		req.Header.Set("Accept", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	introspection, _ := call(t, e, http.MethodPost, "fabrikam", "/oauth/introspect", url.Values{"token": {tok}}, "admin", "admin-secret", nil)
	for name, c := range map[string]struct {
		resp   *http.Response
		status int
	}{
		"introspection":           {introspection, http.StatusOK},
		"readyz":                  {get(e.base + "/readyz"), http.StatusOK},
		"unknown tenant (server)": {get(e.base + "/nosuch/.well-known/openid-configuration"), http.StatusNotFound},
		"admin API without token": {get(e.issuer("fabrikam") + "/admin/v1/guests"), http.StatusUnauthorized},
	} {
		if c.resp.StatusCode != c.status {
			t.Errorf("%s: status %d, want %d", name, c.resp.StatusCode, c.status)
		}
		for h, want := range map[string]string{"Content-Type": "application/json", "Cache-Control": "no-store",
			"Pragma": "no-cache", "X-Content-Type-Options": "nosniff"} {
			if got := c.resp.Header.Get(h); got != want {
				t.Errorf("%s: %s = %q, want %q", name, h, got, want)
			}
		}
	}
}
