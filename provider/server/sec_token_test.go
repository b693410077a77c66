package server_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/guestpass/guestpass/pkg/store/redistest"
)

// Tests of the token side of issue 6 (items 4, 5, 6, 7, 14, 15): the token,
// revocation, introspection and userinfo endpoints over real HTTP.

// call sends one request to an endpoint of a tenant: form (if any) as the
// body, Basic credentials when user is set, extra headers.
func call(t testing.TB, e *env, method, tenant, path string, form url.Values, user, pass string, hdr map[string]string) (*http.Response, string) {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, e.issuer(tenant)+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := (&http.Client{Timeout: 20 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// oauthErr asserts an RFC 6749 §5.2 error answer: status, JSON body with
// exactly error (and error_description), no Go error text, and a
// WWW-Authenticate challenge of scheme on every 401 (or when scheme is
// Bearer, on every answer).
func oauthErr(t testing.TB, what string, resp *http.Response, body string, status int, code, scheme string) {
	t.Helper()
	if resp.StatusCode != status {
		t.Fatalf("%s: status %d, want %d: %s", what, resp.StatusCode, status, body)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("%s: Content-Type %q, want JSON: %s", what, ct, body)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		t.Fatalf("%s: body is not JSON: %s", what, body)
	}
	if m["error"] != code {
		t.Fatalf("%s: error %v, want %s: %s", what, m["error"], code, body)
	}
	for k := range m {
		if k != "error" && k != "error_description" {
			t.Fatalf("%s: unexpected member %q: %s", what, k, body)
		}
	}
	if strings.Contains(body, "ErrorType") || strings.Contains(body, "Parent") || strings.Contains(body, "parent") {
		t.Fatalf("%s: Go error text in the body: %s", what, body)
	}
	wa := resp.Header.Get("WWW-Authenticate")
	if (status == http.StatusUnauthorized || scheme == "Bearer") && !strings.HasPrefix(wa, scheme+" ") {
		t.Fatalf("%s: WWW-Authenticate %q, want a %s challenge", what, wa, scheme)
	}
}

// codeFor signs in (or uses the browser's session) for r and returns the
// code of the redirect to the app.
func codeFor(t testing.TB, e *env, b *browser, r *rp, email string, signedInAlready bool) string {
	t.Helper()
	var p page
	if signedInAlready {
		p = b.get(r.authURL())
	} else {
		p = signIn(t, e, b, r.authURL(), email)
	}
	signedIn(t, p)
	return mustURL(t, p.url).Query().Get("code")
}

// Item 4: a code is spent only by its own authenticated client with the
// right verifier and redirect_uri; every wrong request leaves it for the
// real client, and a failed client authentication is 401 invalid_client.
func TestSecCodeSpentOnlyByItsClient(t *testing.T) {
	e := newEnv(t, envOptions{})
	const ada = "ada@guest.example"
	invite(t, e, "fabrikam", ada, "Ada")
	b := newBrowser(t)
	r := newRP(t, e, "fabrikam", "portal", "portal-secret")
	code := codeFor(t, e, b, r, ada, false)
	form := func(mod func(url.Values)) url.Values {
		f := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {rpCallback}, "code_verifier": {r.verifier}}
		if mod != nil {
			mod(f)
		}
		return f
	}
	wrongVerifier, _ := pkce()

	for _, c := range []struct {
		name       string
		form       url.Values
		user, pass string
		status     int
		code       string
	}{
		{"wrong secret (basic)", form(nil), "portal", "wrong", 401, "invalid_client"},
		{"wrong secret (post)", form(func(f url.Values) { f.Set("client_id", "portal"); f.Set("client_secret", "wrong") }), "", "", 401, "invalid_client"},
		{"no credentials", form(nil), "", "", 401, "invalid_client"},
		{"client_id only", form(func(f url.Values) { f.Set("client_id", "portal") }), "", "", 401, "invalid_client"},
		{"unknown client", form(nil), "nobody", "x", 401, "invalid_client"},
		{"wrong verifier", form(func(f url.Values) { f.Set("code_verifier", wrongVerifier) }), "portal", "portal-secret", 400, "invalid_grant"},
		{"no verifier", form(func(f url.Values) { f.Del("code_verifier") }), "portal", "portal-secret", 400, "invalid_grant"},
		{"wrong redirect_uri", form(func(f url.Values) { f.Set("redirect_uri", rpHome) }), "portal", "portal-secret", 400, "invalid_grant"},
		{"another client", form(nil), "admin", "admin-secret", 400, "invalid_grant"},
		// A code is "request id.secret": the id is no secret (it is in the
		// pages' URLs), so the id with another secret must get nothing.
		{"the code's id, another secret", form(func(f url.Values) { f.Set("code", forged(code)) }), "portal", "portal-secret", 400, "invalid_grant"},
		{"the code's id alone", form(func(f url.Values) { f.Set("code", strings.SplitN(code, ".", 2)[0]) }), "portal", "portal-secret", 400, "invalid_grant"},
	} {
		resp, body := call(t, e, http.MethodPost, "fabrikam", "/oauth/token", c.form, c.user, c.pass, nil)
		oauthErr(t, c.name, resp, body, c.status, c.code, "Basic")
	}
	// The real client still gets its tokens, once.
	if _, err := r.oauth.Exchange(context.Background(), code, oauth2.VerifierOption(r.verifier)); err != nil {
		t.Fatalf("the real client's exchange after the failed ones: %v", err)
	}
	resp, body := call(t, e, http.MethodPost, "fabrikam", "/oauth/token", form(nil), "portal", "portal-secret", nil)
	oauthErr(t, "second exchange", resp, body, 400, "invalid_grant", "Basic")

	// A public client: the verifier is its only proof.
	spa := newRP(t, e, "fabrikam", "spa", "")
	spa.oauth.Endpoint.AuthStyle = oauth2.AuthStyleInParams
	code = codeFor(t, e, b, spa, ada, true)
	for name, f := range map[string]url.Values{
		"spa wrong verifier": {"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {rpCallback},
			"client_id": {"spa"}, "code_verifier": {wrongVerifier}},
		"spa no verifier": {"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {rpCallback}, "client_id": {"spa"}},
	} {
		resp, body := call(t, e, http.MethodPost, "fabrikam", "/oauth/token", f, "", "", nil)
		if resp.StatusCode != 400 {
			t.Fatalf("%s: %d %s", name, resp.StatusCode, body)
		}
	}
	if _, err := spa.oauth.Exchange(context.Background(), code, oauth2.VerifierOption(spa.verifier)); err != nil {
		t.Fatalf("the spa's exchange after the failed ones: %v", err)
	}
}

// forged is code with its secret part replaced by another of the same
// shape (the test fails unless code is "id.secret").
func forged(code string) string {
	id, secret, ok := strings.Cut(code, ".")
	if !ok || strings.Contains(secret, ".") {
		panic("not an id.secret code: " + code)
	}
	return id + "." + strings.Repeat("A", len(secret))
}

// signedInTokens signs ada in with portal and returns the RP and tokens.
func signedInTokens(t *testing.T, e *env) (*rp, *browser, *oauth2.Token) {
	t.Helper()
	const ada = "ada@guest.example"
	invite(t, e, "fabrikam", ada, "Ada")
	b := newBrowser(t)
	r := newRP(t, e, "fabrikam", "portal", "portal-secret")
	tok, _ := r.callback(t, e, "fabrikam", signIn(t, e, b, r.authURL(), ada))
	return r, b, tok
}

// Item 5: every 401 has WWW-Authenticate, every error body is RFC 6749
// JSON, and introspection takes client_secret_post as well as Basic.
func TestSecOAuthErrorsAndChallenges(t *testing.T) {
	e := newEnv(t, envOptions{})
	_, _, tok := signedInTokens(t, e)
	tf := url.Values{"token": {tok.AccessToken}}

	for _, path := range []string{"/oauth/introspect", "/revoke", "/oauth/token"} {
		f := url.Values{"token": {tok.AccessToken}, "grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}}
		resp, body := call(t, e, http.MethodPost, "fabrikam", path, f, "portal", "wrong", nil)
		oauthErr(t, path+" wrong secret", resp, body, 401, "invalid_client", "Basic")
		resp, body = call(t, e, http.MethodPost, "fabrikam", path, f, "", "", nil)
		oauthErr(t, path+" no credentials", resp, body, 401, "invalid_client", "Basic")
	}
	// Introspection: a public client cannot authenticate, so it may not
	// introspect (Keycloak refuses public clients too).
	resp, body := call(t, e, http.MethodPost, "fabrikam", "/oauth/introspect",
		url.Values{"token": {tok.AccessToken}, "client_id": {"spa"}}, "", "", nil)
	oauthErr(t, "introspect by a public client", resp, body, 401, "invalid_client", "Basic")
	// client_secret_post works like client_secret_basic.
	post := url.Values{"token": {tok.AccessToken}, "client_id": {"portal"}, "client_secret": {"portal-secret"}}
	if !introspectActive(t, e, post, "", "") || !introspectActive(t, e, tf, "portal", "portal-secret") {
		t.Fatal("introspection by the token's own client (post or basic) is not active")
	}
	resp, body = call(t, e, http.MethodPost, "fabrikam", "/oauth/introspect", url.Values{"client_id": {"portal"}, "client_secret": {"portal-secret"}}, "", "", nil)
	oauthErr(t, "introspect without token", resp, body, 400, "invalid_request", "Basic")

	// Userinfo: RFC 6750 challenges.
	resp, body = call(t, e, http.MethodGet, "fabrikam", "/userinfo", nil, "", "", nil)
	oauthErr(t, "userinfo without token", resp, body, 401, "invalid_token", "Bearer")
	if wa := resp.Header.Get("WWW-Authenticate"); strings.Contains(wa, "error=") {
		t.Fatalf("userinfo without token: challenge %q names an error (RFC 6750 §3.1)", wa)
	}
	resp, body = call(t, e, http.MethodGet, "fabrikam", "/userinfo", nil, "", "", map[string]string{"Authorization": "Bearer " + tok.AccessToken + "x"})
	oauthErr(t, "userinfo bad token", resp, body, 401, "invalid_token", "Bearer")
	if wa := resp.Header.Get("WWW-Authenticate"); !strings.Contains(wa, `error="invalid_token"`) {
		t.Fatalf("userinfo bad token: challenge %q", wa)
	}
	resp, body = call(t, e, http.MethodGet, "fabrikam", "/userinfo", nil, "", "", map[string]string{"Authorization": "Bearer " + tok.AccessToken})
	if resp.StatusCode != 200 || !strings.Contains(body, `"sub"`) {
		t.Fatalf("userinfo: %d %s", resp.StatusCode, body)
	}
	// Token endpoint errors other than authentication: JSON too.
	resp, body = call(t, e, http.MethodPost, "fabrikam", "/oauth/token", url.Values{"grant_type": {"password"}}, "portal", "portal-secret", nil)
	oauthErr(t, "unsupported grant", resp, body, 400, "unsupported_grant_type", "Basic")
}

func introspectionOf(t testing.TB, e *env, form url.Values, user, pass string) map[string]any {
	t.Helper()
	resp, body := call(t, e, http.MethodPost, "fabrikam", "/oauth/introspect", form, user, pass, nil)
	if resp.StatusCode != 200 {
		t.Fatalf("introspect: %d %s", resp.StatusCode, body)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		t.Fatalf("introspect body: %s", body)
	}
	return m
}

func introspectActive(t testing.TB, e *env, form url.Values, user, pass string) bool {
	t.Helper()
	return introspectionOf(t, e, form, user, pass)["active"] == true
}

// Item 6: a token is active only to its own client; any other client of
// the tenant hears exactly {"active":false}, as for an unknown token.
func TestSecIntrospectionOnlyForItsClient(t *testing.T) {
	e := newEnv(t, envOptions{})
	_, _, tok := signedInTokens(t, e)
	own := introspectionOf(t, e, url.Values{"token": {tok.AccessToken}}, "portal", "portal-secret")
	if own["active"] != true || own["email"] != "ada@guest.example" {
		t.Fatalf("own client: %v", own)
	}
	other := introspectionOf(t, e, url.Values{"token": {tok.AccessToken}}, "admin", "admin-secret")
	if len(other) != 1 || other["active"] != false {
		t.Fatalf("another client learnt %v", other)
	}
	unknown := introspectionOf(t, e, url.Values{"token": {"nope"}}, "admin", "admin-secret")
	if len(unknown) != 1 || unknown["active"] != false {
		t.Fatalf("unknown token: %v", unknown)
	}
	// The admin's own client-credentials token is active to the admin only.
	cc := clientCredentials(t, e, "fabrikam", "admin", "admin-secret")
	if !introspectActive(t, e, url.Values{"token": {cc}}, "admin", "admin-secret") {
		t.Fatal("admin's own token inactive")
	}
	if introspectActive(t, e, url.Values{"token": {cc}}, "portal", "portal-secret") {
		t.Fatal("admin's token active to portal")
	}
}

// Item 7: client_credentials only for admin clients.
func TestSecClientCredentialsNonAdmin(t *testing.T) {
	e := newEnv(t, envOptions{})
	f := url.Values{"grant_type": {"client_credentials"}}
	resp, body := call(t, e, http.MethodPost, "fabrikam", "/oauth/token", f, "portal", "portal-secret", nil)
	oauthErr(t, "non-admin client_credentials", resp, body, 400, "unauthorized_client", "Basic")
	resp, body = call(t, e, http.MethodPost, "fabrikam", "/oauth/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {"spa"}}, "", "", nil)
	oauthErr(t, "public client_credentials", resp, body, 400, "unauthorized_client", "Basic")
	resp, body = call(t, e, http.MethodPost, "fabrikam", "/oauth/token", f, "admin", "wrong", nil)
	oauthErr(t, "admin wrong secret", resp, body, 401, "invalid_client", "Basic")
	resp, body = call(t, e, http.MethodPost, "fabrikam", "/oauth/token", f, "admin", "admin-secret", nil)
	if resp.StatusCode != 200 || strings.Contains(body, "id_token") || strings.Contains(body, "refresh_token") {
		t.Fatalf("admin client_credentials: %d %s", resp.StatusCode, body)
	}
}

// Item 7: revoking another client's token answers like any revocation and
// leaves the token working.
func TestSecRevokeOtherClientsToken(t *testing.T) {
	e := newEnv(t, envOptions{})
	r, _, tok := signedInTokens(t, e)
	for _, tk := range []string{tok.AccessToken, tok.RefreshToken} {
		resp, body := call(t, e, http.MethodPost, "fabrikam", "/revoke", url.Values{"token": {tk}}, "admin", "admin-secret", nil)
		unknownResp, unknownBody := call(t, e, http.MethodPost, "fabrikam", "/revoke", url.Values{"token": {tk + "x"}}, "admin", "admin-secret", nil)
		if resp.StatusCode != 200 || resp.StatusCode != unknownResp.StatusCode || body != unknownBody {
			t.Fatalf("revoking another client's token: %d %q; an unknown one: %d %q", resp.StatusCode, body, unknownResp.StatusCode, unknownBody)
		}
	}
	if !introspectActive(t, e, url.Values{"token": {tok.AccessToken}}, "portal", "portal-secret") {
		t.Fatal("another client revoked portal's access token")
	}
	if _, err := r.oauth.TokenSource(context.Background(), &oauth2.Token{RefreshToken: tok.RefreshToken}).Token(); err != nil {
		t.Fatalf("another client revoked portal's refresh token: %v", err)
	}
}

// jwtHeader decodes the JOSE header of a compact JWT.
func jwtHeader(t testing.TB, tok string) map[string]any {
	t.Helper()
	h, _, _ := strings.Cut(tok, ".")
	b, err := base64.RawURLEncoding.DecodeString(h)
	if err != nil {
		t.Fatalf("not a JWT: %q", tok)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// Item 7: ID tokens only with openid; narrowing scopes on refresh does not
// shrink the grant; access tokens are at+jwt (RFC 9068); access tokens of
// a revoked refresh family stop working at userinfo and introspection.
func TestSecTokenScopesAndTypes(t *testing.T) {
	e := newEnv(t, envOptions{})
	_, b, tok := signedInTokens(t, e)
	ctx := context.Background()
	if typ := jwtHeader(t, tok.AccessToken)["typ"]; typ != "at+jwt" {
		t.Fatalf("access token typ %v, want at+jwt", typ)
	}
	if typ := jwtHeader(t, tok.Extra("id_token").(string))["typ"]; typ == "at+jwt" {
		t.Fatal("ID token typed at+jwt")
	}
	if typ := jwtHeader(t, clientCredentials(t, e, "fabrikam", "admin", "admin-secret"))["typ"]; typ != "at+jwt" {
		t.Fatalf("client-credentials access token typ %v", typ)
	}

	refresh := func(rt, scope string) map[string]any {
		t.Helper()
		f := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}
		if scope != "" {
			f.Set("scope", scope)
		}
		resp, body := call(t, e, http.MethodPost, "fabrikam", "/oauth/token", f, "portal", "portal-secret", nil)
		if resp.StatusCode != 200 {
			t.Fatalf("refresh (scope %q): %d %s", scope, resp.StatusCode, body)
		}
		var m map[string]any
		_ = json.Unmarshal([]byte(body), &m)
		return m
	}
	scopes := func(m map[string]any) []string { s, _ := m["scope"].(string); return strings.Fields(s) }

	// Narrowed: this response is narrowed, and without openid it has no
	// ID token.
	n := refresh(tok.RefreshToken, "email")
	if got := scopes(n); !slices.Equal(got, []string{"email"}) || n["id_token"] != nil {
		t.Fatalf("narrowed refresh: scope %v, id_token %v", got, n["id_token"] != nil)
	}
	if typ := jwtHeader(t, n["access_token"].(string))["typ"]; typ != "at+jwt" {
		t.Fatalf("refreshed access token typ %v", typ)
	}
	// The grant is whole again on the next refresh.
	full := refresh(n["refresh_token"].(string), "")
	for _, s := range []string{"openid", "email", "profile", "offline_access"} {
		if !slices.Contains(scopes(full), s) {
			t.Fatalf("after a narrowed refresh the grant lost %q: %v", s, scopes(full))
		}
	}
	if full["id_token"] == nil {
		t.Fatal("refresh with openid has no ID token")
	}
	again := refresh(full["refresh_token"].(string), "openid profile")
	if again["id_token"] == nil || !slices.Equal(scopes(again), []string{"openid", "profile"}) {
		t.Fatalf("second narrowed refresh: %v", again)
	}

	// A code flow without openid is refused at /authorize (openid is
	// required: TestAuthorizeScopes), so an ID token without openid can
	// only be asked for by narrowing a refresh, as above.
	// No refresh token without offline_access: only an offline grant
	// outlives the session (Entra's rule), so nothing session-bound is
	// left behind at logout.
	plain := newRP(t, e, "fabrikam", "portal", "portal-secret")
	plain.oauth.Scopes = []string{"openid", "email"}
	code := codeFor(t, e, b, plain, "", true)
	pt, err := plain.oauth.Exchange(ctx, code, oauth2.VerifierOption(plain.verifier))
	if err != nil {
		t.Fatal(err)
	}
	if pt.RefreshToken != "" {
		t.Fatal("refresh token without offline_access")
	}

	// Revoking the refresh family ends its access tokens everywhere.
	at := again["access_token"].(string)
	bearer := map[string]string{"Authorization": "Bearer " + at}
	if resp, body := call(t, e, http.MethodGet, "fabrikam", "/userinfo", nil, "", "", bearer); resp.StatusCode != 200 {
		t.Fatalf("userinfo before revocation: %d %s", resp.StatusCode, body)
	}
	revoke(t, e, again["refresh_token"].(string), "refresh_token")
	resp, body := call(t, e, http.MethodGet, "fabrikam", "/userinfo", nil, "", "", bearer)
	oauthErr(t, "userinfo with a revoked family's token", resp, body, 401, "invalid_token", "Bearer")
	for _, a := range []string{at, tok.AccessToken} {
		if introspectActive(t, e, url.Values{"token": {a}}, "portal", "portal-secret") {
			t.Fatal("an access token of a revoked family is active")
		}
	}
}

// Item 14: credentials never in a URL query; the token, revocation and
// introspection endpoints take POST with a form body only.
func TestSecNoCredentialsInQuery(t *testing.T) {
	e := newEnv(t, envOptions{})
	_, _, tok := signedInTokens(t, e)
	for _, c := range []struct{ path, query string }{
		{"/oauth/token", "client_secret=portal-secret"},
		{"/oauth/token", "code=abc"},
		{"/oauth/token", "refresh_token=" + url.QueryEscape(tok.RefreshToken)},
		{"/revoke", "token=" + url.QueryEscape(tok.RefreshToken)},
		{"/oauth/introspect", "token=" + url.QueryEscape(tok.AccessToken)},
		{"/oauth/introspect", "client_secret=portal-secret"},
	} {
		f := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}, "token": {tok.AccessToken}}
		resp, body := call(t, e, http.MethodPost, "fabrikam", c.path+"?"+c.query, f, "portal", "portal-secret", nil)
		oauthErr(t, c.path+"?"+c.query, resp, body, 400, "invalid_request", "Basic")
		// GET with everything in the query is refused too.
		resp, body = call(t, e, http.MethodGet, "fabrikam", c.path+"?"+c.query, nil, "portal", "portal-secret", nil)
		if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "POST" || !strings.Contains(body, `"invalid_request"`) {
			t.Fatalf("GET %s?%s: %d Allow %q %s", c.path, c.query, resp.StatusCode, resp.Header.Get("Allow"), body)
		}
	}
	// The refresh token was never spent by the refused requests.
	f := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}}
	if resp, body := call(t, e, http.MethodPost, "fabrikam", "/oauth/token", f, "portal", "portal-secret", nil); resp.StatusCode != 200 {
		t.Fatalf("refresh after the refused requests: %d %s", resp.StatusCode, body)
	}
	resp, body := call(t, e, http.MethodGet, "fabrikam", "/userinfo?access_token="+url.QueryEscape(tok.AccessToken), nil, "", "", nil)
	oauthErr(t, "userinfo?access_token=", resp, body, 400, "invalid_request", "Bearer")
	if wa := resp.Header.Get("WWW-Authenticate"); !strings.Contains(wa, `error="invalid_request"`) {
		t.Fatalf("userinfo?access_token=: challenge %q", wa)
	}
}

// Item 15: CORS only for listed origins: a tenant whose clients list none
// allows no origin (rs/cors reads an empty list as "all"); a listed one
// is allowed, preflight and actual request.
func TestSecCORSOnlyListedOrigins(t *testing.T) {
	e := newEnv(t, envOptions{})
	acao := func(method, tenant, path, origin string) string {
		t.Helper()
		hdr := map[string]string{"Origin": origin}
		var form url.Values
		if method == http.MethodOptions {
			hdr["Access-Control-Request-Method"] = "POST"
			hdr["Access-Control-Request-Headers"] = "content-type"
		} else {
			form = url.Values{"grant_type": {"authorization_code"}, "code": {"x"}, "client_id": {"spa"}, "redirect_uri": {rpCallback}, "code_verifier": {"v"}}
		}
		resp, _ := call(t, e, method, tenant, path, form, "", "", hdr)
		return resp.Header.Get("Access-Control-Allow-Origin")
	}
	for _, path := range []string{"/oauth/token", "/userinfo", "/revoke", "/oauth/introspect"} {
		for _, m := range []string{http.MethodOptions, http.MethodPost} {
			// contoso's clients list no origin.
			for _, o := range []string{"https://evil.example", "http://127.0.0.1:9"} {
				if a := acao(m, "contoso", path, o); a != "" {
					t.Fatalf("contoso %s %s from %s: Access-Control-Allow-Origin %q", m, path, o, a)
				}
			}
			// fabrikam's spa lists http://127.0.0.1:9.
			if a := acao(m, "fabrikam", path, "http://127.0.0.1:9"); a != "http://127.0.0.1:9" {
				t.Fatalf("fabrikam %s %s from the listed origin: Access-Control-Allow-Origin %q", m, path, a)
			}
			if a := acao(m, "fabrikam", path, "https://evil.example"); a != "" {
				t.Fatalf("fabrikam %s %s from an unlisted origin: Access-Control-Allow-Origin %q", m, path, a)
			}
		}
	}
	// Discovery of a tenant without origins: none either.
	if a := acao(http.MethodOptions, "contoso", "/.well-known/openid-configuration", "https://evil.example"); a != "" {
		t.Fatalf("contoso discovery preflight: %q", a)
	}
}

// Item 4 under concurrency, on Redis: 10 right and 10 wrong exchanges of
// one code at once give exactly one success, and the wrong ones (wrong
// verifier, wrong secret) never win or spoil it.
func TestSecCodeOnceAmongWrongOnesRedis(t *testing.T) {
	e := newEnv(t, envOptions{redis: redistest.Start(t)})
	const ada = "ada@guest.example"
	invite(t, e, "fabrikam", ada, "Ada")
	r := newRP(t, e, "fabrikam", "portal", "portal-secret")
	code := codeFor(t, e, newBrowser(t), r, ada, false)
	wrongVerifier, _ := pkce()
	var (
		wg sync.WaitGroup
		mu sync.Mutex
		ok = map[string]int{}
	)
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {rpCallback}, "code_verifier": {r.verifier}}
			kind, pass := "right", "portal-secret"
			switch i % 4 {
			case 1:
				kind = "wrong verifier"
				f.Set("code_verifier", wrongVerifier)
			case 3:
				kind, pass = "wrong secret", "wrong"
			}
			resp, _ := call(t, e, http.MethodPost, "fabrikam", "/oauth/token", f, "portal", pass, nil)
			if resp.StatusCode == http.StatusOK {
				mu.Lock()
				ok[kind]++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if ok["right"] != 1 || len(ok) != 1 {
		t.Fatalf("successes by kind: %v, want exactly one right one", ok)
	}
}
