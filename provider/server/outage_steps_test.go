package server_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/guestpass/guestpass/pkg/store/redistest"
)

// B8, with no outage marker carried in the request: every step that
// reaches the store answers an outage itself, from the error its batch
// returned — the sign-in pages with the 503 page, the JSON endpoints with
// a 503 JSON error — never a 500, a 4xx or a silent success.
func TestStoreOutageEveryStep(t *testing.T) {
	rs := redistest.Start(t)
	e := newEnv(t, envOptions{redis: rs})
	const ada, bob = "ada@guest.example", "bob@guest.example"
	invite(t, e, "fabrikam", ada, "Ada")
	invite(t, e, "fabrikam", bob, "Bob")
	r := newRP(t, e, "fabrikam", "portal", "portal-secret")

	// A browser at the code page (verify), a signed-in browser with a
	// pending request of a second app (start: opened by its URL, as "Use
	// another email" does; /authorize is the start step too, see
	// TestOutageAnswersAuthorizeAndIntrospect) and its access token
	// (userinfo, introspection).
	bv := newBrowser(t)
	codePage := toCodePage(t, bv, r.authURL(), ada)
	verifyAction, verifyCSRF := codePage.form(t, 0)
	bs, tok := signedInBrowser(t, e, bob)
	r2 := newRP(t, e, "fabrikam", "portal", "portal-secret")
	start := startURL(t, bs.raw(http.MethodGet, r2.authURL(oauth2.SetAuthURLParam("prompt", "login")), nil))

	rs.Stop()
	bv.c.Timeout, bs.c.Timeout = 20*time.Second, 20*time.Second
	for name, p := range map[string]page{
		"verify": bv.raw(http.MethodPost, verifyAction, url.Values{"csrf": {verifyCSRF}, "code": {"12345678"}}),
		"start":  bs.raw(http.MethodGet, start, nil),
	} {
		if p.status != http.StatusServiceUnavailable || !strings.Contains(p.body, msgUnavailable) {
			t.Errorf("%s during an outage: %d, want 503 with the page:\n%s", name, p.status, p.body)
		}
	}
	for name, resp := range map[string]*http.Response{
		"userinfo": func() *http.Response {
			resp, _ := call(t, e, http.MethodGet, "fabrikam", "/userinfo", nil, "", "",
				map[string]string{"Authorization": "Bearer " + tok.AccessToken})
			return resp
		}(),
		"introspect": func() *http.Response {
			resp, _ := call(t, e, http.MethodPost, "fabrikam", "/oauth/introspect", url.Values{"token": {tok.AccessToken}},
				"portal", "portal-secret", nil)
			return resp
		}(),
	} {
		if resp.StatusCode != http.StatusServiceUnavailable || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") ||
			resp.Header.Get("Retry-After") == "" {
			t.Errorf("%s during an outage: %d %s, want 503 JSON with Retry-After", name, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
	}
}
