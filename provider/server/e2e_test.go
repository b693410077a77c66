package server_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/guestpass/guestpass/pkg/config"
	"github.com/guestpass/guestpass/pkg/guests"
	"github.com/guestpass/guestpass/pkg/mail/mailtest"
	"github.com/guestpass/guestpass/pkg/policy"
	"github.com/guestpass/guestpass/pkg/store/redistest"
)

// rp is an independent relying party: coreos/go-oidc and x/oauth2.
type rp struct {
	prov     *gooidc.Provider
	oauth    oauth2.Config
	verifier string
	state    string
	nonce    string
}

func newRP(t testing.TB, e *env, tenant, clientID, secret string) *rp {
	t.Helper()
	prov, err := gooidc.NewProvider(context.Background(), e.issuer(tenant))
	if err != nil {
		t.Fatalf("discovery of %s: %v", tenant, err)
	}
	v, _ := pkce()
	return &rp{prov: prov, verifier: v, state: secret32(), nonce: secret32(), oauth: oauth2.Config{
		ClientID: clientID, ClientSecret: secret, Endpoint: prov.Endpoint(), RedirectURL: rpCallback,
		Scopes: []string{gooidc.ScopeOpenID, "email", "profile", gooidc.ScopeOfflineAccess},
	}}
}

func secret32() string {
	return strings.TrimRight(strings.NewReplacer("+", "-", "/", "_").Replace(secret(24)), "=")
}

func (r *rp) authURL(extra ...oauth2.AuthCodeOption) string {
	opts := append([]oauth2.AuthCodeOption{gooidc.Nonce(r.nonce), oauth2.S256ChallengeOption(r.verifier)}, extra...)
	return r.oauth.AuthCodeURL(r.state, opts...)
}

// callback checks the authorization response and exchanges its code.
func (r *rp) callback(t testing.TB, e *env, tenant string, p page) (*oauth2.Token, *gooidc.IDToken) {
	t.Helper()
	if !strings.HasPrefix(p.url, rpCallback) {
		t.Fatalf("expected a redirect to the app, got %d %s:\n%s", p.status, p.url, p.body)
	}
	q := mustURL(t, p.url).Query()
	if q.Get("state") != r.state {
		t.Fatalf("state = %q", q.Get("state"))
	}
	if q.Get("iss") != e.issuer(tenant) {
		t.Fatalf("iss = %q, want %q (RFC 9207)", q.Get("iss"), e.issuer(tenant))
	}
	tok, err := r.oauth.Exchange(context.Background(), q.Get("code"), oauth2.VerifierOption(r.verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := r.prov.Verifier(&gooidc.Config{ClientID: r.oauth.ClientID}).Verify(context.Background(), raw)
	if err != nil {
		t.Fatalf("id token: %v", err)
	}
	if idt.Nonce != r.nonce {
		t.Fatalf("nonce = %q", idt.Nonce)
	}
	return tok, idt
}

// signIn walks the passcode pages for email, reading the code from the
// mail, and returns the redirect to the app.
func signIn(t testing.TB, e *env, b *browser, authURL, email string) page {
	t.Helper()
	return sendAndEnter(t, e, b, postEmail(t, b, authURL, email), email)
}

func sendAndEnter(t testing.TB, e *env, b *browser, p page, email string) page {
	t.Helper()
	p = sendOn(t, b, p)
	code := waitCode(t, e.smtp, email)
	action, csrf := p.form(t, 0)
	return b.post(action, url.Values{"csrf": {csrf}, "code": {code}})
}

// waitCode waits for the next unread passcode mail to an address.
func waitCode(t testing.TB, s *mailtest.Server, email string) string {
	t.Helper()
	m, err := s.WaitFor(email, 10*time.Second)
	if err != nil {
		t.Fatalf("no mail to %s: %v", email, err)
	}
	code := mailtest.CodeIn(m.Text)
	if code == "" {
		t.Fatalf("no code in mail:\n%s", m.Text)
	}
	return code
}

func invite(t testing.TB, e *env, tenant, email, name string) *guests.Guest {
	t.Helper()
	g, _, err := guests.NewRepo(e.store, e.cfg.Secrets.Code, e.clock.Now).For(tenant).Invite(context.Background(), strings.ToLower(email), email, name)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func TestSignInEndToEndRedis(t *testing.T) {
	testSignIn(t, newEnv(t, envOptions{redis: redistest.Start(t)}))
}

// The same flow against a three-node Redis Cluster: a sign-in's keys
// spread over the nodes (TagKey), and every script's keys share a slot.
func TestSignInEndToEndRedisCluster(t *testing.T) {
	testSignIn(t, newEnv(t, envOptions{cluster: redistest.StartCluster(t)}))
}

func TestSignInEndToEndMemory(t *testing.T) {
	testSignIn(t, newEnv(t, envOptions{}))
}

func testSignIn(t *testing.T, e *env) {
	ctx := context.Background()
	g := invite(t, e, "fabrikam", "ada@guest.example", "Ada Lovelace")
	r := newRP(t, e, "fabrikam", "portal", "portal-secret")
	b := newBrowser(t)
	tok, idt := r.callback(t, e, "fabrikam", signIn(t, e, b, r.authURL(), "ada@guest.example"))

	var claims struct {
		Sub           string   `json:"sub"`
		Email         string   `json:"email"`
		EmailVerified bool     `json:"email_verified"`
		Name          string   `json:"name"`
		TID           string   `json:"tid"`
		IDP           string   `json:"idp"`
		AMR           []string `json:"amr"`
		AuthTime      int64    `json:"auth_time"`
		SID           string   `json:"sid"`
	}
	if err := idt.Claims(&claims); err != nil {
		t.Fatal(err)
	}
	if claims.Sub != g.ID || claims.Email != "ada@guest.example" || !claims.EmailVerified || claims.Name != "Ada Lovelace" ||
		claims.TID != "fabrikam" || claims.IDP != "otp" || len(claims.AMR) == 0 || claims.AuthTime == 0 || claims.SID == "" {
		t.Fatalf("claims = %+v", claims)
	}

	ui, err := r.prov.UserInfo(ctx, oauth2.StaticTokenSource(tok))
	if err != nil {
		t.Fatalf("userinfo: %v", err)
	}
	if ui.Subject != g.ID || ui.Email != "ada@guest.example" {
		t.Fatalf("userinfo = %+v", ui)
	}

	// Refresh rotates; replaying the old refresh token fails and revokes
	// the family, so the newest one dies with it.
	old := &oauth2.Token{RefreshToken: tok.RefreshToken}
	next, err := r.oauth.TokenSource(ctx, old).Token()
	if err != nil {
		t.Fatalf("refresh: %v", err)
	}
	if next.RefreshToken == "" || next.RefreshToken == tok.RefreshToken {
		t.Fatalf("refresh token not rotated")
	}
	if _, err := r.oauth.TokenSource(ctx, old).Token(); err == nil {
		t.Fatalf("reused refresh token accepted")
	}
	if _, err := r.oauth.TokenSource(ctx, &oauth2.Token{RefreshToken: next.RefreshToken}).Token(); err == nil {
		t.Fatalf("family survived a reuse")
	}

	// Single sign-on: a second authorize completes without pages.
	r2 := newRP(t, e, "fabrikam", "portal", "portal-secret")
	p := b.get(r2.authURL())
	_, idt2 := r2.callback(t, e, "fabrikam", p)
	if idt2.Subject != g.ID {
		t.Fatalf("sso subject = %q", idt2.Subject)
	}
	if n := len(e.smtp.Messages()); n != 1 {
		t.Fatalf("%d mails sent, want 1 (SSO must not send)", n)
	}
}

// A completed sign-in is bound to the browser that did it: the code goes
// to the app in the answer to that browser's own verify POST (303, RFC
// 9700 §4.12), and another browser that knows (or planted) the auth
// request id gets no code from /authorize/callback, where a browser goes
// back to a request it completed.
func TestCallbackBoundToBrowser(t *testing.T) {
	e := newEnv(t, envOptions{})
	invite(t, e, "fabrikam", "bound@guest.example", "Bound")
	r := newRP(t, e, "fabrikam", "portal", "portal-secret")
	victim := newBrowser(t)
	p := toCodePage(t, victim, r.authURL(), "bound@guest.example")
	action, csrf := p.form(t, 0)
	res := victim.raw(http.MethodPost, action, url.Values{"csrf": {csrf}, "code": {waitCode(t, e.smtp, "bound@guest.example")}})
	if res.status != http.StatusSeeOther || !strings.HasPrefix(res.header.Get("Location"), rpCallback+"?code=") {
		t.Fatalf("verify: %d %s, want 303 to the app with the code", res.status, res.header.Get("Location"))
	}
	id := mustURL(t, action).Query().Get("authRequestID")
	callback := e.issuer("fabrikam") + "/authorize/callback?id=" + url.QueryEscape(id)

	attacker := newBrowser(t)
	got := attacker.raw(http.MethodGet, callback, nil)
	if got.status < 400 || got.header.Get("Location") != "" {
		t.Fatalf("another browser collected the sign-in: %d %s", got.status, got.header.Get("Location"))
	}
	// The guest's own code still works.
	r.callback(t, e, "fabrikam", page{status: res.status, url: res.header.Get("Location"), header: res.header})
}

// login_hint skips the email step: the send page names the hinted address
// (and nothing is sent before the guest presses Send).
func TestLoginHintSkipsEmailStep(t *testing.T) {
	e := newEnv(t, envOptions{})
	invite(t, e, "fabrikam", "hint@guest.example", "Hint")
	r := newRP(t, e, "fabrikam", "portal", "portal-secret")
	b := newBrowser(t)
	p := b.get(r.authURL(oauth2.SetAuthURLParam("login_hint", "Hint@Guest.Example")))
	// The page shows the address as hinted (domain canonical), never the
	// stored spelling (issue 6 item 11b: that would tell invited apart).
	if p.status != http.StatusOK || !strings.Contains(p.body, "/login/send") || !strings.Contains(p.body, "Hint@guest.example") {
		t.Fatalf("expected the send page for the hinted address, got %d %s:\n%s", p.status, p.url, p.body)
	}
	if n := len(e.smtp.Messages()); n != 0 {
		t.Fatalf("%d mails before Send was pressed", n)
	}
	r.callback(t, e, "fabrikam", sendAndEnter(t, e, b, p, "hint@guest.example"))
}

// Revoking a refresh token (RFC 7009) ends its whole family, and with it
// the family's access tokens (issue 6 item 7); revoking an access token
// ends that token only.
func TestRevokeRefreshToken(t *testing.T) {
	e := newEnv(t, envOptions{})
	invite(t, e, "fabrikam", "revoke@guest.example", "Revoke")
	r := newRP(t, e, "fabrikam", "portal", "portal-secret")
	tok, _ := r.callback(t, e, "fabrikam", signIn(t, e, newBrowser(t), r.authURL(), "revoke@guest.example"))
	ctx := context.Background()
	next, err := r.oauth.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
	if err != nil {
		t.Fatal(err)
	}
	// An access token is active until revoked.
	if !introspect(t, e, "fabrikam", "portal", "portal-secret", next.AccessToken) {
		t.Fatal("fresh access token inactive")
	}
	revoke(t, e, next.AccessToken, "access_token")
	if introspect(t, e, "fabrikam", "portal", "portal-secret", next.AccessToken) {
		t.Fatal("revoked access token still active")
	}
	if !introspect(t, e, "fabrikam", "portal", "portal-secret", tok.AccessToken) {
		t.Fatal("revoking one access token ended another")
	}

	revoke(t, e, next.RefreshToken, "refresh_token")
	if _, err := r.oauth.TokenSource(ctx, &oauth2.Token{RefreshToken: next.RefreshToken}).Token(); err == nil {
		t.Fatal("revoked refresh token still works")
	}
	if introspect(t, e, "fabrikam", "portal", "portal-secret", tok.AccessToken) {
		t.Fatal("an access token of a revoked refresh family is still active")
	}
}

func revoke(t *testing.T, e *env, token, hint string) {
	t.Helper()
	revokeAt(t, e, "fabrikam", "portal", "portal-secret", token, hint)
}

// revokeAt revokes token as client (id and secret) of tenant.
func revokeAt(t testing.TB, e *env, tenant, client, secret, token, hint string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.issuer(tenant)+"/revoke",
		strings.NewReader(url.Values{"token": {token}, "token_type_hint": {hint}}.Encode()))
	req.SetBasicAuth(client, secret)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("revoke %s: %d", hint, resp.StatusCode)
	}
}

// Turning passcodes off also stops single sign-on of passcode guests: a
// page names the remedy, and a silent request hears login_required.
func TestPolicyOffStopsPasscodeSSO(t *testing.T) {
	e := newEnv(t, envOptions{})
	invite(t, e, "fabrikam", "sso@guest.example", "SSO")
	r := newRP(t, e, "fabrikam", "portal", "portal-secret")
	b := newBrowser(t)
	r.callback(t, e, "fabrikam", signIn(t, e, b, r.authURL(), "sso@guest.example"))
	if err := policy.New(e.store).SetEmailOTP(context.Background(), "fabrikam", false); err != nil {
		t.Fatal(err)
	}
	p := b.get(r.authURL())
	if p.status != http.StatusForbidden || strings.HasPrefix(p.url, rpCallback) {
		t.Fatalf("SSO with passcodes off: %d %s", p.status, p.url)
	}
	p = b.get(r.authURL(oauth2.SetAuthURLParam("prompt", "none")))
	if !strings.HasPrefix(p.url, rpCallback) || mustURL(t, p.url).Query().Get("error") != "login_required" {
		t.Fatalf("prompt=none with passcodes off: %d %s\n%s", p.status, p.url, p.body)
	}
}

// Oversized authorization parameters are refused, not stored.
func TestOversizedAuthorizeParameters(t *testing.T) {
	e := newEnv(t, envOptions{})
	r := newRP(t, e, "fabrikam", "portal", "portal-secret")
	for name, opt := range map[string]oauth2.AuthCodeOption{
		"nonce":      oauth2.SetAuthURLParam("nonce", strings.Repeat("n", 5000)),
		"login_hint": oauth2.SetAuthURLParam("login_hint", strings.Repeat("a", 400)+"@guest.example"),
		"state":      oauth2.SetAuthURLParam("state", strings.Repeat("s", 5000)),
	} {
		p := newBrowser(t).get(r.authURL(opt))
		if !strings.HasPrefix(p.url, rpCallback) || mustURL(t, p.url).Query().Get("error") != "invalid_request" {
			t.Errorf("%s: %d %s", name, p.status, p.url)
		}
	}
}

// After a signing key rotation, tokens signed with the old key still
// verify (its public key stays published) and new tokens use the new key.
func TestSigningKeyRotation(t *testing.T) {
	e := newEnv(t, envOptions{})
	invite(t, e, "fabrikam", "rot@guest.example", "Rot")
	r := newRP(t, e, "fabrikam", "portal", "portal-secret")
	tok1, _ := r.callback(t, e, "fabrikam", signIn(t, e, newBrowser(t), r.authURL(), "rot@guest.example"))

	// Past the 30-day rotation the next key is published (issue 11 item 1)
	// but the current one still signs; an hour later the next one signs.
	e.clock.Advance(31 * 24 * time.Hour)
	tok2, _ := r.callback(t, e, "fabrikam", signIn(t, e, newBrowser(t), r.authURL(), "rot@guest.example"))
	e.clock.Advance(2 * time.Hour) // past the pre-publication lead (an hour)
	r3 := newRP(t, e, "fabrikam", "portal", "portal-secret")
	// A fresh relying party (fresh key cache) verifies all three tokens.
	tok3, _ := r3.callback(t, e, "fabrikam", signIn(t, e, newBrowser(t), r3.authURL(), "rot@guest.example"))
	if idTokenKID(t, tok1) != idTokenKID(t, tok2) {
		t.Fatal("a new key signed as soon as it was written, before every replica had it")
	}
	if idTokenKID(t, tok1) == idTokenKID(t, tok3) {
		t.Fatal("no rotation after 31 days and the lead")
	}
	for _, tok := range []*oauth2.Token{tok1, tok2} {
		raw, _ := tok.Extra("id_token").(string)
		if _, err := r3.prov.Verifier(&gooidc.Config{ClientID: "portal"}).Verify(context.Background(), raw); err != nil {
			t.Fatalf("a token signed before the rotation no longer verifies: %v", err)
		}
	}
}

// Mail goes to the address stored for the guest, whatever case the guest
// typed (PRODUCT.md B10).
func TestMailGoesToStoredAddress(t *testing.T) {
	e := newEnv(t, envOptions{})
	const stored = "Grace.Hopper@guest.example"
	invite(t, e, "fabrikam", stored, "Grace")
	r := newRP(t, e, "fabrikam", "portal", "portal-secret")
	b := newBrowser(t)
	p := toCodePage(t, b, r.authURL(), "GRACE.HOPPER@GUEST.EXAMPLE")
	m, err := e.smtp.WaitFor(stored, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if m.To != stored || !strings.Contains(m.Header.Get("To"), stored) {
		t.Fatalf("mail went to %q (header %q), want the stored %q", m.To, m.Header.Get("To"), stored)
	}
	r.callback(t, e, "fabrikam", enter(t, b, p, mailtest.CodeIn(m.Text)))
}

// An authorization code of one tenant is worthless at another, and trying
// it there does not spend it (B1).
func TestAuthorizationCodeBoundToTenant(t *testing.T) {
	e := newEnv(t, envOptions{})
	invite(t, e, "fabrikam", "iso@guest.example", "Iso")
	r := newRP(t, e, "fabrikam", "portal", "portal-secret")
	p := signIn(t, e, newBrowser(t), r.authURL(), "iso@guest.example")
	code := mustURL(t, p.url).Query().Get("code")

	other := newRP(t, e, "contoso", "portal", "contoso-secret")
	if _, err := other.oauth.Exchange(context.Background(), code, oauth2.VerifierOption(r.verifier)); err == nil {
		t.Fatal("fabrikam's code was redeemed at contoso")
	}
	r.callback(t, e, "fabrikam", p)
}

// keys.rotation reaches every tenant's OP: with a two-day period the key
// changes after two days (and the lead), not after the default 30.
func TestConfiguredKeyRotation(t *testing.T) {
	e := newEnv(t, envOptions{configure: func(c *config.Config) { c.Keys.Rotation = 48 * time.Hour }})
	invite(t, e, "fabrikam", "rot@guest.example", "Rot")
	kidOf := func() string {
		r := newRP(t, e, "fabrikam", "portal", "portal-secret")
		tok, _ := r.callback(t, e, "fabrikam", signIn(t, e, newBrowser(t), r.authURL(), "rot@guest.example"))
		return idTokenKID(t, tok)
	}
	first := kidOf()
	e.clock.Advance(48*time.Hour + time.Minute) // past the period: the next key is written
	if kidOf() != first {
		t.Fatal("the next key signed as soon as it was written")
	}
	e.clock.Advance(2 * time.Hour) // past the lead
	if kidOf() == first {
		t.Fatal("keys.rotation of 48h ignored: no new key after 50 hours")
	}
}

// An admin's reset or delete ends single sign-on at once (B5): the live
// session no longer speaks for the guest, so a silent request hears
// login_required and a visible one gets the sign-in page, not a code.
func TestResetAndDeleteEndSingleSignOn(t *testing.T) {
	e := newEnv(t, envOptions{})
	invite(t, e, "fabrikam", "gone@guest.example", "Gone")
	r := newRP(t, e, "fabrikam", "portal", "portal-secret")
	b := newBrowser(t)
	r.callback(t, e, "fabrikam", signIn(t, e, b, r.authURL(), "gone@guest.example"))
	silent := func() string {
		t.Helper()
		p := b.get(r.authURL(oauth2.SetAuthURLParam("prompt", "none")))
		if !strings.HasPrefix(p.url, rpCallback) {
			t.Fatalf("prompt=none did not go back to the app: %d %s", p.status, p.url)
		}
		q := mustURL(t, p.url).Query()
		if q.Get("code") != "" {
			return "code"
		}
		return q.Get("error")
	}
	if got := silent(); got != "code" {
		t.Fatalf("SSO of a live guest: %s", got)
	}
	repo := guests.NewRepo(e.store, e.cfg.Secrets.Code, e.clock.Now).For("fabrikam")
	g, err := repo.Get(context.Background(), "gone@guest.example")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := repo.ResetRedemption(context.Background(), g.ID); err != nil {
		t.Fatal(err)
	}
	if got := silent(); got != "login_required" {
		t.Fatalf("SSO after reset: %s, want login_required", got)
	}
	if p := b.get(r.authURL()); p.status != http.StatusOK || strings.HasPrefix(p.url, rpCallback) {
		t.Fatalf("visible SSO after reset: %d %s", p.status, p.url)
	}
	r.callback(t, e, "fabrikam", signIn(t, e, b, r.authURL(), "gone@guest.example"))
	if got := silent(); got != "code" {
		t.Fatalf("SSO after a fresh sign-in: %s", got)
	}
	if err := repo.Delete(context.Background(), g.ID); err != nil {
		t.Fatal(err)
	}
	if got := silent(); got != "login_required" {
		t.Fatalf("SSO after delete: %s, want login_required", got)
	}
}

// idTokenKID returns the kid of the header of tok's ID token.
func idTokenKID(t *testing.T, tok *oauth2.Token) string {
	t.Helper()
	raw, _ := tok.Extra("id_token").(string)
	kid, _ := jwtHeader(t, raw)["kid"].(string)
	return kid
}
