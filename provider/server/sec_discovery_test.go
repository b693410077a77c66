package server_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"testing"

	"golang.org/x/oauth2"
)

// discovery fetches a tenant's raw discovery document and its headers.
func discovery(t *testing.T, e *env, tenant, origin string) (map[string]any, http.Header) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, e.issuer(tenant)+"/.well-known/openid-configuration", nil)
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var doc map[string]any
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &doc) != nil {
		t.Fatalf("discovery: %d %s", resp.StatusCode, body)
	}
	return doc, resp.Header
}

func strs(t *testing.T, doc map[string]any, key string) []string {
	t.Helper()
	raw, ok := doc[key].([]any)
	if !ok {
		t.Fatalf("discovery %s = %#v, want a list", key, doc[key])
	}
	out := make([]string, len(raw))
	for i, v := range raw {
		out[i], _ = v.(string)
	}
	return out
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	sort.Strings(a)
	sort.Strings(b)
	return slices.Equal(a, b)
}

// formPost posts a form to a fabrikam endpoint with optional basic auth.
func formPost(t *testing.T, e *env, path string, form url.Values, user, pass string) (int, string) {
	t.Helper()
	resp, body := call(t, e, http.MethodPost, "fabrikam", path, form, user, pass, nil)
	return resp.StatusCode, body
}

// B6 / issue 6 item 3: discovery advertises exactly what works. The
// document holds only the fields listed here (nothing a library default
// adds), and each list is tried against the endpoint it describes.
func TestDiscoveryMatchesEndpoints(t *testing.T) {
	e := newEnv(t, envOptions{})
	iss := e.issuer("fabrikam")
	doc, hdr := discovery(t, e, "fabrikam", "")

	allowed := []string{"issuer", "authorization_endpoint", "token_endpoint", "userinfo_endpoint", "jwks_uri",
		"end_session_endpoint", "revocation_endpoint", "introspection_endpoint", "scopes_supported",
		"response_types_supported", "response_modes_supported", "grant_types_supported", "subject_types_supported",
		"id_token_signing_alg_values_supported", "token_endpoint_auth_methods_supported",
		"revocation_endpoint_auth_methods_supported", "introspection_endpoint_auth_methods_supported",
		"claims_supported", "code_challenge_methods_supported", "ui_locales_supported",
		"authorization_response_iss_parameter_supported", "request_parameter_supported",
		"request_uri_parameter_supported", "claims_parameter_supported"}
	for k := range doc {
		if !slices.Contains(allowed, k) {
			t.Errorf("discovery advertises %s = %v, which nothing serves", k, doc[k])
		}
	}
	for k, want := range map[string]bool{"authorization_response_iss_parameter_supported": true,
		"request_parameter_supported": false, "request_uri_parameter_supported": false, "claims_parameter_supported": false} {
		if got, ok := doc[k].(bool); !ok || got != want {
			t.Errorf("%s = %#v, want %v", k, doc[k], want)
		}
	}
	if ct := hdr.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	if cc := hdr.Get("Cache-Control"); cc != "public, max-age=300" {
		t.Errorf("Cache-Control %q", cc)
	}
	// A browser app of the tenant may read it, another origin may not.
	if _, h := discovery(t, e, "fabrikam", "http://127.0.0.1:9"); h.Get("Access-Control-Allow-Origin") != "http://127.0.0.1:9" {
		t.Errorf("listed origin: Access-Control-Allow-Origin %q", h.Get("Access-Control-Allow-Origin"))
	}
	if _, h := discovery(t, e, "fabrikam", "https://evil.example"); h.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("unlisted origin: Access-Control-Allow-Origin %q", h.Get("Access-Control-Allow-Origin"))
	}

	// Response types and modes: exactly what /authorize accepts
	// (TestAuthorizeRefusesWhatIsNotAdvertised and TestIssInEveryResponseMode
	// try each one and the others).
	if got := strs(t, doc, "response_types_supported"); !sameSet(got, []string{"code"}) {
		t.Errorf("response_types_supported = %v", got)
	}
	if got := strs(t, doc, "response_modes_supported"); !sameSet(got, []string{"query", "fragment", "form_post"}) {
		t.Errorf("response_modes_supported = %v", got)
	}
	if got := strs(t, doc, "code_challenge_methods_supported"); !sameSet(got, []string{"S256"}) {
		t.Errorf("code_challenge_methods_supported = %v", got)
	}
	if got := strs(t, doc, "id_token_signing_alg_values_supported"); !sameSet(got, []string{"ES256"}) {
		t.Errorf("id_token_signing_alg_values_supported = %v", got)
	}
	if got := strs(t, doc, "ui_locales_supported"); !sameSet(got, []string{"en", "fr"}) {
		t.Errorf("ui_locales_supported = %v (TestUILocalesChoosePageLanguage tries them)", got)
	}

	// Grants: each advertised one reaches its grant logic at the token
	// endpoint (an invalid_grant for a made-up code or token, a token for
	// client_credentials); no other ever gives a token. (The library
	// parses a jwt-bearer assertion before it fails for want of client
	// keys: invalid_request rather than unsupported_grant_type.)
	grants := strs(t, doc, "grant_types_supported")
	if !sameSet(grants, []string{"authorization_code", "refresh_token", "client_credentials"}) {
		t.Errorf("grant_types_supported = %v", grants)
	}
	for _, g := range []string{"authorization_code", "refresh_token", "client_credentials", "implicit",
		"urn:ietf:params:oauth:grant-type:jwt-bearer", "urn:ietf:params:oauth:grant-type:device_code",
		"urn:ietf:params:oauth:grant-type:token-exchange", "password"} {
		status, body := formPost(t, e, "/oauth/token", url.Values{"grant_type": {g}, "code": {"x"},
			"refresh_token": {"x"}, "redirect_uri": {rpCallback}, "code_verifier": {strings.Repeat("v", 43)}}, "admin", "admin-secret")
		advertised := slices.Contains(grants, g)
		if advertised && strings.Contains(body, `"unsupported_grant_type"`) {
			t.Errorf("advertised grant %s is unsupported: %d %s", g, status, body)
		}
		if !advertised && (status == http.StatusOK || strings.Contains(body, "access_token")) {
			t.Errorf("grant %s is not advertised but works: %d %s", g, status, body)
		}
	}

	// Token endpoint client authentication: basic and post with a secret
	// (client_credentials of the admin client), none for a public client
	// (its request gets as far as the grant: invalid_grant, not
	// invalid_client).
	tokenAuth := strs(t, doc, "token_endpoint_auth_methods_supported")
	if !sameSet(tokenAuth, []string{"client_secret_basic", "client_secret_post", "none"}) {
		t.Errorf("token_endpoint_auth_methods_supported = %v", tokenAuth)
	}
	// contoso has no public client: no "none" there.
	contoso, _ := discovery(t, e, "contoso", "")
	if got := strs(t, contoso, "token_endpoint_auth_methods_supported"); !sameSet(got, []string{"client_secret_basic", "client_secret_post"}) {
		t.Errorf("contoso token_endpoint_auth_methods_supported = %v", got)
	}
	cc := url.Values{"grant_type": {"client_credentials"}, "scope": {"openid"}}
	if status, body := formPost(t, e, "/oauth/token", cc, "admin", "admin-secret"); status != http.StatusOK {
		t.Errorf("client_secret_basic: %d %s", status, body)
	}
	post := url.Values{"grant_type": {"client_credentials"}, "scope": {"openid"}, "client_id": {"admin"}, "client_secret": {"admin-secret"}}
	if status, body := formPost(t, e, "/oauth/token", post, "", ""); status != http.StatusOK {
		t.Errorf("client_secret_post: %d %s", status, body)
	}
	none := url.Values{"grant_type": {"authorization_code"}, "client_id": {"spa"}, "code": {"x"},
		"redirect_uri": {rpCallback}, "code_verifier": {strings.Repeat("v", 43)}}
	if status, body := formPost(t, e, "/oauth/token", none, "", ""); status != http.StatusBadRequest || !strings.Contains(body, "invalid_grant") {
		t.Errorf("none (public client): %d %s, want invalid_grant", status, body)
	}

	// Revocation: the same three; an unknown token is revoked (200).
	if got := strs(t, doc, "revocation_endpoint_auth_methods_supported"); !sameSet(got, tokenAuth) {
		t.Errorf("revocation_endpoint_auth_methods_supported = %v, want %v", got, tokenAuth)
	}
	for name, c := range map[string]struct {
		form       url.Values
		user, pass string
	}{
		"client_secret_basic": {url.Values{"token": {"x"}}, "portal", "portal-secret"},
		"client_secret_post":  {url.Values{"token": {"x"}, "client_id": {"portal"}, "client_secret": {"portal-secret"}}, "", ""},
		"none":                {url.Values{"token": {"x"}, "client_id": {"spa"}}, "", ""},
	} {
		if status, body := formPost(t, e, "/revoke", c.form, c.user, c.pass); status != http.StatusOK {
			t.Errorf("revocation with %s: %d %s", name, status, body)
		}
	}

	// Introspection: each advertised method authenticates (an unknown
	// token is inactive), and a public client cannot introspect.
	for _, m := range strs(t, doc, "introspection_endpoint_auth_methods_supported") {
		var status int
		var body string
		switch m {
		case "client_secret_basic":
			status, body = formPost(t, e, "/oauth/introspect", url.Values{"token": {"x"}}, "portal", "portal-secret")
		case "client_secret_post":
			status, body = formPost(t, e, "/oauth/introspect", url.Values{"token": {"x"}, "client_id": {"portal"}, "client_secret": {"portal-secret"}}, "", "")
		default:
			t.Errorf("introspection_endpoint_auth_methods_supported lists %s", m)
			continue
		}
		if status != http.StatusOK || !strings.Contains(body, `"active":false`) {
			t.Errorf("introspection with %s: %d %s", m, status, body)
		}
	}
	if status, _ := formPost(t, e, "/oauth/introspect", url.Values{"token": {"x"}, "client_id": {"spa"}}, "", ""); status == http.StatusOK {
		t.Error("a public client (auth method none) could introspect")
	}

	// Endpoints are the tenant's own and answer.
	for _, k := range []string{"authorization_endpoint", "token_endpoint", "userinfo_endpoint", "jwks_uri",
		"end_session_endpoint", "revocation_endpoint", "introspection_endpoint"} {
		if u, _ := doc[k].(string); !strings.HasPrefix(u, iss+"/") {
			t.Errorf("%s = %q, not under %s", k, u, iss)
		}
	}
	if got := strs(t, doc, "scopes_supported"); !sameSet(got, []string{"openid", "profile", "email", "offline_access"}) {
		t.Errorf("scopes_supported = %v", got)
	}

	// Claims: with every scope, the ID token and userinfo together carry
	// exactly claims_supported.
	const ada = "ada@guest.example"
	invite(t, e, "fabrikam", ada, "Ada")
	r := newRP(t, e, "fabrikam", "portal", "portal-secret")
	tok, idt := r.callback(t, e, "fabrikam", signIn(t, e, newBrowser(t), r.authURL(), ada))
	seen := map[string]any{}
	if err := idt.Claims(&seen); err != nil {
		t.Fatal(err)
	}
	ui, err := r.prov.UserInfo(context.Background(), oauth2.StaticTokenSource(tok))
	if err != nil {
		t.Fatal(err)
	}
	if err := ui.Claims(&seen); err != nil {
		t.Fatal(err)
	}
	var got []string
	for k := range seen {
		got = append(got, k)
	}
	if want := strs(t, doc, "claims_supported"); !sameSet(got, want) {
		t.Errorf("claims issued %v, claims_supported %v", got, want)
	}
}

// B6 / issue 6 item 3: ui_locales chooses the sign-in pages' language
// before Accept-Language, on every page of the flow and in the mail; an
// unknown locale falls back to Accept-Language.
func TestUILocalesChoosePageLanguage(t *testing.T) {
	e := newEnv(t, envOptions{})
	const ada = "ada@guest.example"
	invite(t, e, "fabrikam", ada, "Ada")
	lang := func(p page) string { return p.header.Get("Content-Language") }

	q := baseAuthQuery("portal", rpCallback)
	q.Set("ui_locales", "de-CH fr-CA en")
	b := newBrowser(t)
	b.lang = "en-US,en;q=0.9"
	p := b.get(authorizeURL(e, q))
	if !isEmailPage(p) || lang(p) != "fr" || !strings.Contains(p.body, `<html lang="fr">`) {
		t.Fatalf("email page: %d lang %q, want French:\n%.300s", p.status, lang(p), p.body)
	}
	action, csrf := p.form(t, 0)
	p = b.post(action, url.Values{"csrf": {csrf}, "email": {ada}})
	if lang(p) != "fr" {
		t.Fatalf("send page in %q, want fr", lang(p))
	}
	action, csrf = p.form(t, 0)
	p = b.post(action, url.Values{"csrf": {csrf}})
	if !isCodePage(p) || lang(p) != "fr" {
		t.Fatalf("code page: %d in %q, want fr", p.status, lang(p))
	}
	m, err := e.smtp.WaitFor(ada, 10e9)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(m.Subject, "Votre code") {
		t.Fatalf("mail subject %q, want the French mail", m.Subject)
	}
	if wrong := enter(t, b, p, wrongCode("12345678", 0)); lang(wrong) != "fr" {
		t.Fatalf("code page after a wrong code in %q, want fr", lang(wrong))
	}

	// Nothing we speak in ui_locales: the browser's language.
	q.Set("ui_locales", "de ja")
	b2 := newBrowser(t)
	b2.lang = "fr"
	if p := b2.get(authorizeURL(e, q)); lang(p) != "fr" {
		t.Fatalf("unknown ui_locales: page in %q, want the browser's fr", lang(p))
	}
	q.Set("ui_locales", "en")
	if p := b2.get(authorizeURL(e, q)); lang(p) != "en" {
		t.Fatalf("ui_locales=en with a French browser: page in %q, want en", lang(p))
	}
}
