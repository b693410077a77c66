package server_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestRoutes pins what the routing table answers besides the pages
// themselves: the sign-in pages' 405s (with Allow) and 404s on the error
// page, the OP's own 404s (a page for people, JSON for programs), the operations paths, domain and tenantid
// redirects, reserved and unknown ids, and ServeMux's canonical-path
// redirect. TestTenantContext covers B1's errors as HTML and JSON.
func TestRoutes(t *testing.T) {
	e := newEnv(t, envOptions{})
	const html, js, text = "text/html", "application/json", "text/plain"
	cases := []struct {
		method, path, accept string
		status               int
		ctype, allow, loc    string
		body                 string // substring
	}{
		{"GET", "/fabrikam/login/email", html, 405, html, "POST", "", "Invalid sign-in request"},
		{"PUT", "/fabrikam/login/send", js, 405, html, "GET, POST", "", "Invalid sign-in request"},
		{"GET", "/fabrikam/login/verify", html, 405, html, "POST", "", ""},
		{"DELETE", "/fabrikam/login", html, 405, html, "GET", "", ""},
		{"POST", "/fabrikam/apps", html, 405, html, "GET", "", ""},
		{"POST", "/fabrikam/logged-out", html, 405, html, "GET", "", ""},
		{"GET", "/fabrikam/login/nosuch", html, 404, html, "", "", "Invalid sign-in request"},
		{"GET", "/fabrikam/login/", js, 404, html, "", "", ""},
		{"HEAD", "/fabrikam/apps", html, 200, html, "", "", ""},
		{"GET", "/fabrikam/logged-out", html, 200, html, "", "", "You have signed out"},
		{"GET", "/fabrikam/login/code?authRequestID=x", html, 303, "", "", "/fabrikam/login?authRequestID=x", ""},
		{"GET", "/fabrikam/loginx", html, 404, html, "", "", ""},
		{"GET", "/fabrikam", js, 404, js, "", "", "not_found"},
		{"GET", "/fabrikam/keys/", js, 404, js, "", "", "not_found"},
		{"GET", "/fabrikam/keys", js, 200, js, "", "", `"keys"`},
		{"POST", "/healthz/x", js, 200, text, "", "", "ok"},
		{"GET", "/readyz/", js, 200, js, "", "", "ready"},
		{"GET", "/favicon.ico", html, 404, text, "", "", ""},
		{"GET", "/robots.txt/x", html, 404, text, "", "", ""},
		{"GET", "/metrics/x", js, 404, js, "", "", "unknown_tenant"},
		{"POST", "/fabrikam.example/oauth/token", js, 404, js, "", "", "use the tenant id in the path: /fabrikam/oauth/token"},
		{"GET", "/fabrikam.example", html, 302, "", "", "/fabrikam", ""},
		{"GET", "/fabrikam.example/", html, 302, "", "", "/fabrikam/", ""},
		{"GET", "/admin", js, 400, js, "", "", "no_tenant"},
		{"GET", "/login/email", html, 400, html, "", "", ""},
		{"GET", "/nosuch/", js, 404, js, "", "", "unknown_tenant"},
		{"GET", "/?tenantid=contoso", html, 302, "", "", "/contoso/", ""},
		// ServeMux sends a path that is not canonical to its clean form.
		{"GET", "/fabrikam//authorize?x=1", html, 307, "", "", "/fabrikam/authorize?x=1", ""},
		// Each tenant has a mux of its own: a path is routed by the
		// tenant its clean form names, and an escaped slash names none.
		{"GET", "/contoso/../fabrikam/keys", js, 307, "", "", "/fabrikam/keys", ""},
		{"GET", "/nosuch/../fabrikam/keys", js, 307, "", "", "/fabrikam/keys", ""},
		{"GET", "/fabrikam/../healthz", js, 307, "", "", "/healthz", ""},
		{"GET", "/fabrikam%2Fkeys", js, 404, js, "", "", "unknown_tenant"},
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, tc := range cases {
		req, _ := http.NewRequest(tc.method, e.base+tc.path, nil)
		req.Header.Set("Accept", tc.accept)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		h := resp.Header
		switch {
		case resp.StatusCode != tc.status:
			t.Errorf("%s %s: status %d, want %d\n%s", tc.method, tc.path, resp.StatusCode, tc.status, b)
		case tc.ctype != "" && !strings.HasPrefix(h.Get("Content-Type"), tc.ctype):
			t.Errorf("%s %s: Content-Type %q, want %s", tc.method, tc.path, h.Get("Content-Type"), tc.ctype)
		case h.Get("Allow") != tc.allow:
			t.Errorf("%s %s: Allow %q, want %q", tc.method, tc.path, h.Get("Allow"), tc.allow)
		case h.Get("Location") != tc.loc:
			t.Errorf("%s %s: Location %q, want %q", tc.method, tc.path, h.Get("Location"), tc.loc)
		case !strings.Contains(string(b), tc.body):
			t.Errorf("%s %s: body lacks %q:\n%s", tc.method, tc.path, tc.body, b)
		}
	}
}

// TestRouteLabels: the latency histogram's route label comes from the
// pattern a request matched, in the same bounded set as before.
func TestRouteLabels(t *testing.T) {
	e := newEnv(t, envOptions{})
	for _, p := range []string{"/fabrikam/login/nosuch", "/fabrikam/apps", "/fabrikam/keys", "/fabrikam/.well-known/openid-configuration",
		"/fabrikam/authorize/callback?id=x", "/fabrikam/no/such", "/healthz", "/readyz", "/nosuch/x", "/metrics"} {
		resp, err := http.Get(e.base + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	resp, err := http.Get(e.metrics + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`route="tenant/login"`, `route="tenant/other"`, `route="tenant/keys"`, `route="tenant/.well-known"`,
		`route="tenant/authorize"`, `route="healthz"`, `route="readyz"`, `route="other"`,
	} {
		if !strings.Contains(string(b), `guestpass_http_request_duration_seconds_count{code="`) ||
			!strings.Contains(string(b), want+"}") {
			t.Errorf("no latency series with %s", want)
		}
	}
	if strings.Contains(string(b), `route="tenant/no"`) || strings.Contains(string(b), "nosuch") {
		t.Errorf("a label holds a path:\n%s", b)
	}
}
