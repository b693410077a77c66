package loadgen

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// mailTimeout is how long a browser waits for its passcode mail before
// the sign-in counts as a lost code.
const mailTimeout = 10 * time.Second

// Tenant is what the tool needs to sign in at one tenant: a confidential
// client (client_secret_basic) and a redirect URI nobody listens on.
type Tenant struct {
	ID, ClientID, ClientSecret, RedirectURI string
}

// StepError is a failed operation, named by the step that failed; the
// step is the error's kind in the report.
type StepError struct {
	Step string
	Err  error
}

func (e *StepError) Error() string { return e.Step + ": " + e.Err.Error() }
func (e *StepError) Unwrap() error { return e.Err }

func stepErr(step string, err error) error { return &StepError{Step: step, Err: err} }

func stepErrf(step, format string, args ...any) error {
	return &StepError{Step: step, Err: fmt.Errorf(format, args...)}
}

// Kind names an error for the report: its step, or "lost code".
func Kind(err error) string {
	var se *StepError
	switch {
	case errors.Is(err, ErrLostCode):
		return "lost code"
	case errors.As(err, &se):
		return se.Step
	}
	return "other"
}

// relyingParty is one tenant's app: discovery done once, the JWKS fetched
// once and cached by go-oidc's remote key set.
type relyingParty struct {
	t        Tenant
	issuer   string
	prov     *gooidc.Provider
	verifier *gooidc.IDTokenVerifier
	oauth    oauth2.Config
	userinfo string
}

func newRelyingParty(ctx context.Context, hc *http.Client, issuer string, t Tenant) (*relyingParty, error) {
	ctx = gooidc.ClientContext(ctx, hc)
	prov, err := gooidc.NewProvider(ctx, issuer)
	if err != nil {
		return nil, fmt.Errorf("discovery of %s: %w", issuer, err)
	}
	var claims struct {
		UserInfo string `json:"userinfo_endpoint"`
	}
	if err := prov.Claims(&claims); err != nil {
		return nil, err
	}
	ep := prov.Endpoint()
	ep.AuthStyle = oauth2.AuthStyleInHeader // client_secret_basic
	return &relyingParty{
		t: t, issuer: issuer, prov: prov, userinfo: claims.UserInfo,
		// The key set outlives ctx: it fetches the JWKS with the
		// client it was made with, once, then caches the keys.
		verifier: prov.VerifierContext(gooidc.ClientContext(context.Background(), hc), &gooidc.Config{ClientID: t.ClientID}),
		oauth: oauth2.Config{ClientID: t.ClientID, ClientSecret: t.ClientSecret, Endpoint: ep, RedirectURL: t.RedirectURI,
			Scopes: []string{gooidc.ScopeOpenID, "email", "profile", gooidc.ScopeOfflineAccess}},
	}, nil
}

// Tokens are what a completed sign-in or refresh gives the app.
type Tokens struct {
	Access, Refresh, Subject string
}

func random() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// signIn does what a guest's browser and the app do: authorize with PKCE
// S256, state and nonce; the email page and its form; Send; the code from
// the mail; the code form; the redirect to the app; the code exchange
// (client_secret_basic); the ID token's signature and nonce.
func (rp *relyingParty) signIn(ctx context.Context, b *browser, hc *http.Client, sink *Sink, email string) (Tokens, error) {
	b.reset()
	verifier, state, nonce := oauth2.GenerateVerifier(), random(), random()
	authURL := rp.oauth.AuthCodeURL(state, gooidc.Nonce(nonce), oauth2.S256ChallengeOption(verifier))

	p, err := b.get(authURL)
	if err != nil {
		return Tokens{}, stepErr("authorize", err)
	}
	if p.Status != http.StatusOK || !strings.Contains(p.Body, `name="email"`) {
		return Tokens{}, stepErrf("authorize", "expected the email page, got %d %s", p.Status, p.URL)
	}
	action, csrf, err := p.form(0)
	if err != nil {
		return Tokens{}, stepErr("email page", err)
	}
	if p, err = b.post(action, url.Values{"csrf": {csrf}, "email": {email}}); err != nil {
		return Tokens{}, stepErr("email", err)
	}
	if p.Status != http.StatusOK || !strings.Contains(p.Body, "/login/send") {
		return Tokens{}, stepErrf("email", "expected the send page, got %d %s", p.Status, p.URL)
	}
	if action, csrf, err = p.form(0); err != nil {
		return Tokens{}, stepErr("send page", err)
	}
	sink.Discard(email)
	if p, err = b.post(action, url.Values{"csrf": {csrf}}); err != nil {
		return Tokens{}, stepErr("send", err)
	}
	if p.Status != http.StatusOK || !strings.Contains(p.Body, `autocomplete="one-time-code"`) {
		return Tokens{}, stepErrf("send", "expected the code page, got %d %s", p.Status, p.URL)
	}
	code, err := sink.Wait(ctx, email, mailTimeout)
	if err != nil {
		return Tokens{}, stepErr("mail", err)
	}
	if action, csrf, err = p.form(0); err != nil || !strings.Contains(action, "/login/verify") {
		return Tokens{}, stepErrf("code page", "no verify form (%v): %s", err, action)
	}
	if p, err = b.post(action, url.Values{"csrf": {csrf}, "code": {code}}); err != nil {
		return Tokens{}, stepErr("verify", err)
	}
	if !strings.HasPrefix(p.URL, rp.t.RedirectURI) {
		return Tokens{}, stepErrf("verify", "expected a redirect to the app, got %d %s", p.Status, p.URL)
	}
	u, err := url.Parse(p.URL)
	if err != nil {
		return Tokens{}, stepErr("callback", err)
	}
	q := u.Query()
	// The message names what is wrong, never the code itself.
	switch {
	case q.Get("state") != state:
		return Tokens{}, stepErrf("callback", "state is not the one sent")
	case q.Get("iss") != rp.issuer:
		return Tokens{}, stepErrf("callback", "iss = %q, want %q (RFC 9207)", q.Get("iss"), rp.issuer)
	case q.Get("code") == "":
		return Tokens{}, stepErrf("callback", "no code (error %q)", q.Get("error"))
	}
	tctx := context.WithValue(ctx, oauth2.HTTPClient, hc)
	tok, err := rp.oauth.Exchange(tctx, q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		return Tokens{}, stepErr("token", err)
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := rp.verifier.Verify(ctx, raw)
	if err != nil {
		return Tokens{}, stepErr("id token", err)
	}
	if idt.Nonce != nonce {
		return Tokens{}, stepErrf("id token", "nonce %q, want %q", idt.Nonce, nonce)
	}
	if tok.RefreshToken == "" {
		return Tokens{}, stepErrf("token", "no refresh token for offline_access")
	}
	return Tokens{Access: tok.AccessToken, Refresh: tok.RefreshToken, Subject: idt.Subject}, nil
}

// refresh redeems a refresh token (client_secret_basic) and returns the
// rotated pair.
func (rp *relyingParty) refresh(ctx context.Context, hc *http.Client, t Tokens) (Tokens, error) {
	tctx := context.WithValue(ctx, oauth2.HTTPClient, hc)
	tok, err := rp.oauth.TokenSource(tctx, &oauth2.Token{RefreshToken: t.Refresh}).Token()
	if err != nil {
		return t, stepErr("refresh", err)
	}
	if tok.RefreshToken == "" || tok.RefreshToken == t.Refresh || tok.AccessToken == "" {
		return t, stepErrf("refresh", "refresh token not rotated")
	}
	return Tokens{Access: tok.AccessToken, Refresh: tok.RefreshToken, Subject: t.Subject}, nil
}

// getJSON GETs u (with a bearer token when given) and decodes a 200's JSON.
func getJSON(ctx context.Context, hc *http.Client, u, bearer string, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %d", u, resp.StatusCode)
	}
	return json.Unmarshal(body, out)
}

// discovery fetches the tenant's discovery document and checks its issuer.
func (rp *relyingParty) discovery(ctx context.Context, hc *http.Client) error {
	var d struct {
		Issuer string `json:"issuer"`
	}
	if err := getJSON(ctx, hc, rp.issuer+"/.well-known/openid-configuration", "", &d); err != nil {
		return stepErr("discovery", err)
	}
	if d.Issuer != rp.issuer {
		return stepErrf("discovery", "issuer %q, want %q", d.Issuer, rp.issuer)
	}
	return nil
}

// userInfo asks the userinfo endpoint about the access token's guest.
func (rp *relyingParty) userInfo(ctx context.Context, hc *http.Client, t Tokens) error {
	var ui struct {
		Sub string `json:"sub"`
	}
	if err := getJSON(ctx, hc, rp.userinfo, t.Access, &ui); err != nil {
		return stepErr("userinfo", err)
	}
	if ui.Sub != t.Subject {
		return stepErrf("userinfo", "sub %q, want %q", ui.Sub, t.Subject)
	}
	return nil
}
