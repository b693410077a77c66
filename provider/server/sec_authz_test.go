package server_test

import (
	"context"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// Tests of the authorization side of issue 6 (PRODUCT.md B6): claims for
// strict relying parties, iss in every authorization response, discovery
// that matches the endpoints, request objects refused, id_token_hint and
// logout edges, branded error pages.

// signedInBrowser signs email in at fabrikam's portal and returns the
// browser (with its session) and the tokens.
func signedInBrowser(t *testing.T, e *env, email string) (*browser, *oauth2.Token) {
	t.Helper()
	r := newRP(t, e, "fabrikam", "portal", "portal-secret")
	b := newBrowser(t)
	tok, _ := r.callback(t, e, "fabrikam", signIn(t, e, b, r.authURL(), email))
	return b, tok
}

// B6 / issue 6 item 1: with profile, name (display name, else the address)
// and preferred_username (the address) are in the ID token and in
// userinfo. Dex's oidc connector refuses an ID token whose "name" is not
// a string ("missing \"name\" claim"): checked as Dex reads it.
func TestProfileClaimsNameAndUsername(t *testing.T) {
	e := newEnv(t, envOptions{})
	for _, c := range []struct{ email, display, wantName string }{
		{"ada@guest.example", "Ada Lovelace", "Ada Lovelace"},
		{"Nameless@Guest.example", "", "Nameless@Guest.example"},
	} {
		invite(t, e, "fabrikam", c.email, c.display)
		r := newRP(t, e, "fabrikam", "portal", "portal-secret")
		tok, idt := r.callback(t, e, "fabrikam", signIn(t, e, newBrowser(t), r.authURL(), c.email))
		var idClaims map[string]any
		if err := idt.Claims(&idClaims); err != nil {
			t.Fatal(err)
		}
		ui, err := r.prov.UserInfo(context.Background(), oauth2.StaticTokenSource(tok))
		if err != nil {
			t.Fatalf("userinfo: %v", err)
		}
		var uiClaims map[string]any
		if err := ui.Claims(&uiClaims); err != nil {
			t.Fatal(err)
		}
		for where, claims := range map[string]map[string]any{"ID token": idClaims, "userinfo": uiClaims} {
			name, ok := claims["name"].(string) // Dex: claims[userNameKey].(string)
			if !ok || name != c.wantName {
				t.Errorf("%s of %s: name = %#v, want %q", where, c.email, claims["name"], c.wantName)
			}
			if u, _ := claims["preferred_username"].(string); u != c.email {
				t.Errorf("%s of %s: preferred_username = %#v, want %q", where, c.email, claims["preferred_username"], c.email)
			}
		}
	}
	// Without profile: neither (they are profile claims).
	e.clock.Advance(61e9) // past the resend cooldown for ada
	r := newRP(t, e, "fabrikam", "portal", "portal-secret")
	r.oauth.Scopes = []string{gooidc.ScopeOpenID, "email"}
	_, idt := r.callback(t, e, "fabrikam", signIn(t, e, newBrowser(t), r.authURL(), "ada@guest.example"))
	var claims map[string]any
	_ = idt.Claims(&claims)
	if claims["name"] != nil || claims["preferred_username"] != nil {
		t.Errorf("without profile: name %v, preferred_username %v", claims["name"], claims["preferred_username"])
	}
}

// authResponse is an authorization response as the app receives it, in
// whichever mode it came.
type authResponse struct {
	mode   string
	params url.Values
	page   page
}

var (
	formPostActionRe = regexp.MustCompile(`<form method="post" action="([^"]*)">`)
	hiddenRe         = regexp.MustCompile(`<input type="hidden" name="([^"]*)" value="([^"]*)">`)
	scriptNonceRe    = regexp.MustCompile(`<script nonce="([^"]+)">`)
)

// readAuthResponse parses what the browser got back, strictly: a response
// must be where its mode puts it and nowhere else.
func readAuthResponse(t *testing.T, p page, mode string) authResponse {
	t.Helper()
	ar := authResponse{mode: mode, page: p}
	switch mode {
	case "form_post":
		if p.status != http.StatusOK || !strings.HasPrefix(p.header.Get("Content-Type"), "text/html") {
			t.Fatalf("form_post: %d %s, want the form page:\n%s", p.status, p.url, p.body)
		}
		m := formPostActionRe.FindStringSubmatch(p.body)
		if m == nil || html.UnescapeString(m[1]) != rpCallback {
			t.Fatalf("form_post page does not post to %s:\n%s", rpCallback, p.body)
		}
		ar.params = url.Values{}
		for _, h := range hiddenRe.FindAllStringSubmatch(p.body, -1) {
			ar.params.Add(html.UnescapeString(h[1]), html.UnescapeString(h[2]))
		}
		checkFormPostHeaders(t, p)
	case "fragment":
		u := mustURL(t, p.url)
		if !strings.HasPrefix(p.url, rpCallback) || u.RawQuery != "" {
			t.Fatalf("fragment: %d %s, want a redirect to %s with no query", p.status, p.url, rpCallback)
		}
		v, err := url.ParseQuery(u.EscapedFragment())
		if err != nil {
			t.Fatal(err)
		}
		ar.params = v
	default:
		u := mustURL(t, p.url)
		if !strings.HasPrefix(p.url, rpCallback) || u.Fragment != "" {
			t.Fatalf("query: %d %s, want a redirect to %s with no fragment", p.status, p.url, rpCallback)
		}
		ar.params = u.Query()
	}
	return ar
}

// checkFormPostHeaders: the form_post page has the headers of every page,
// and its script runs only by its CSP nonce.
func checkFormPostHeaders(t *testing.T, p page) {
	t.Helper()
	csp := p.header.Get("Content-Security-Policy")
	m := scriptNonceRe.FindStringSubmatch(p.body)
	if m == nil || !strings.Contains(csp, "script-src 'nonce-"+m[1]+"'") {
		t.Errorf("form_post script not allowed by nonce: CSP %q", csp)
	}
	for _, want := range []string{"default-src 'none'", "frame-ancestors 'none'", "base-uri 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("form_post CSP %q lacks %s", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe-inline") {
		t.Errorf("form_post CSP allows unsafe-inline: %q", csp)
	}
	for h, want := range map[string]string{"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff",
		"Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY"} {
		if got := p.header.Get(h); got != want {
			t.Errorf("form_post %s = %q, want %q", h, got, want)
		}
	}
}

// B6 / issue 6 item 2: iss (RFC 9207) in every authorization response,
// success and error, in every response mode; the form_post page has the
// pages' security headers; an unknown response_mode is refused.
func TestIssInEveryResponseMode(t *testing.T) {
	e := newEnv(t, envOptions{})
	_, b, _ := signedInTokens(t, e)
	iss := e.issuer("fabrikam")

	for _, mode := range []string{"", "query", "fragment", "form_post"} {
		t.Run("success/"+mode, func(t *testing.T) {
			r := newRP(t, e, "fabrikam", "portal", "portal-secret")
			var opts []oauth2.AuthCodeOption
			if mode != "" {
				opts = append(opts, oauth2.SetAuthURLParam("response_mode", mode))
			}
			ar := readAuthResponse(t, b.get(r.authURL(opts...)), mode) // single sign-on
			if ar.params.Get("iss") != iss || ar.params.Get("state") != r.state || ar.params.Get("code") == "" {
				t.Fatalf("%s response %v: want code, state and iss=%s", mode, ar.params, iss)
			}
			if _, err := r.oauth.Exchange(context.Background(), ar.params.Get("code"), oauth2.VerifierOption(r.verifier)); err != nil {
				t.Fatalf("the %s code does not work: %v", mode, err)
			}
		})
		// An error from /authorize itself, and one from the login pages
		// (prompt=none without a session: Tenant.Fail).
		for name, set := range map[string]url.Values{
			"authorize": {"response_type": {"token"}},
			"login":     {"prompt": {"none"}},
		} {
			t.Run("error/"+name+"/"+mode, func(t *testing.T) {
				q := baseAuthQuery("portal", rpCallback)
				for k, v := range set {
					q[k] = v
				}
				if mode != "" {
					q.Set("response_mode", mode)
				}
				ar := readAuthResponse(t, newBrowser(t).get(authorizeURL(e, q)), mode)
				if ar.params.Get("iss") != iss || ar.params.Get("state") != "st" || ar.params.Get("error") == "" || ar.params.Has("code") {
					t.Fatalf("%s error response %v: want error, state and iss=%s", mode, ar.params, iss)
				}
			})
		}
	}

	t.Run("unknown response_mode", func(t *testing.T) {
		for _, mode := range []string{"web_message", "query.jwt", "QUERY", "fragment ", strings.Repeat("x", 5000)} {
			q := baseAuthQuery("portal", rpCallback)
			q.Set("response_mode", mode)
			p := b.get(authorizeURL(e, q)) // with a session: refused before any sign-in
			ar := readAuthResponse(t, p, "query")
			if ar.params.Get("error") != "invalid_request" || ar.params.Get("iss") != iss || ar.params.Has("code") {
				t.Fatalf("response_mode %.20q: %v, want invalid_request with iss in the query", mode, ar.params)
			}
		}
	})
}

// B6 / issue 6 items 3 and 7: only response_type=code passes /authorize;
// request objects and request_uri are refused with their own errors.
func TestAuthorizeRefusesWhatIsNotAdvertised(t *testing.T) {
	e := newEnv(t, envOptions{})
	iss := e.issuer("fabrikam")
	refusedWith := func(t *testing.T, q url.Values, want string) {
		t.Helper()
		p := newBrowser(t).raw(http.MethodGet, authorizeURL(e, q), nil)
		loc := p.location(t)
		if !strings.HasPrefix(loc, rpCallback+"?") {
			t.Fatalf("%v: %d to %q, want an error redirect to the app", q, p.status, loc)
		}
		v := mustURL(t, loc).Query()
		if v.Get("error") != want || v.Get("iss") != iss || v.Has("code") {
			t.Fatalf("%v: %v, want error=%s with iss", q, v, want)
		}
	}
	for _, rt := range []string{"token", "id_token", "id_token token", "code id_token", "code token", "code id_token token", "none", "device_code"} {
		q := baseAuthQuery("portal", rpCallback)
		q.Set("response_type", rt)
		refusedWith(t, q, "unsupported_response_type")
	}
	q := baseAuthQuery("portal", rpCallback)
	p := newBrowser(t).raw(http.MethodGet, authorizeURL(e, q), nil)
	if !isStartPage(p) {
		t.Fatalf("response_type=code: %d to %q, want the login page", p.status, p.location(t))
	}

	q = baseAuthQuery("portal", rpCallback)
	q.Set("request_uri", "https://evil.example/request.jwt")
	refusedWith(t, q, "request_uri_not_supported")
	q = baseAuthQuery("portal", rpCallback)
	q.Set("request_uri", "urn:ietf:params:oauth:request_uri:abc")
	refusedWith(t, q, "request_uri_not_supported")
	q = baseAuthQuery("portal", rpCallback)
	q.Set("request", "eyJhbGciOiJub25lIn0.eyJzdGF0ZSI6Im92ZXJyaWRlIn0.")
	refusedWith(t, q, "request_not_supported")
}
