// Package oidc is an upstream OpenID provider as a connector (PRODUCT.md
// B2): the generic "oidc" type and its presets "microsoft" and "google",
// which differ only in their defaults (filled from the config) and their
// source. The browser goes to the upstream with the authorization code
// flow (PKCE S256, state, nonce, login_hint) and comes back to the
// tenant's one callback URL; the code is exchanged and the ID token
// verified with coreos/go-oidc.
package oidc

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/guestpass/guestpass/connectors"
)

// The connector types this package opens.
const (
	TypeOIDC      = "oidc"
	TypeMicrosoft = "microsoft"
	TypeGoogle    = "google"
)

// DefaultScopes are asked for when the config lists none.
func DefaultScopes() []string { return []string{gooidc.ScopeOpenID, "email", "profile"} }

// Options are an upstream connector's own settings (Spec.Options).
type Options struct {
	// Issuer is the upstream's issuer URL, exactly as its discovery
	// document states it.
	Issuer       string
	ClientID     string
	ClientSecret string
	// Scopes asked for; empty means DefaultScopes. openid is always
	// asked for.
	Scopes []string
	// AssumeVerified treats an ID token without an email_verified claim
	// as verified. Only for an upstream whose addresses are its sign-in
	// names, verified by construction (Microsoft's consumer-accounts
	// tenant, which never sends the claim); never for a provider where
	// anyone may set the email (nOAuth).
	AssumeVerified bool
}

// Connector is an upstream OpenID provider.
type Connector struct {
	spec    connectors.Spec
	opts    Options
	domains connectors.Domains
	env     connectors.Env
	client  *http.Client
	disc    *cache
}

// New is the factory of the three types: no network I/O, discovery waits
// for the first sign-in.
func New(s connectors.Spec, env connectors.Env) (connectors.Connector, error) {
	opts, err := optionsOf(s)
	if err != nil {
		return nil, err
	}
	client := limitedClient(env.HTTPClient)
	c := &Connector{spec: s, opts: opts, env: env, client: client}
	if c.domains, err = connectors.CanonicalDomains(s.Domains); err != nil {
		return nil, err
	}
	c.disc = newCache(opts.Issuer, client, env.Clock)
	return c, nil
}

func optionsOf(s connectors.Spec) (Options, error) {
	o, err := connectors.OptionsOf[Options](s)
	if err != nil {
		return o, err
	}
	if o.Issuer == "" || o.ClientID == "" {
		return o, errors.New("issuer and clientID are required")
	}
	if u, err := url.Parse(o.Issuer); err != nil || u.Host == "" {
		return o, fmt.Errorf("issuer %q is not an absolute URL", o.Issuer)
	}
	if len(o.Scopes) == 0 {
		o.Scopes = DefaultScopes()
	}
	if !slices.Contains(o.Scopes, gooidc.ScopeOpenID) {
		o.Scopes = append([]string{gooidc.ScopeOpenID}, o.Scopes...)
	}
	return o, nil
}

func (c *Connector) ID() string   { return c.spec.ID }
func (c *Connector) Name() string { return c.spec.Name }

// Source is "microsoft", "google" or "oidc:<id>".
func (c *Connector) Source() connectors.Source { return connectors.SourceOf(c.spec.Type, c.spec.ID) }

// Claims reports whether the address's domain is one of the configured
// domains (a google connector's are gmail.com and googlemail.com only;
// the config refuses others).
func (c *Connector) Claims(canonical string) bool {
	return c.domains.Claims(canonical)
}

// connState is what the callback needs again: the PKCE verifier, the
// nonce, and the redirect_uri the code was issued for (the exchange must
// repeat it exactly). The login pages keep it sealed in the browser's flow
// cookie.
type connState struct {
	Verifier string `json:"v"`
	Nonce    string `json:"n"`
	Redirect string `json:"r"`
}

// LoginURL builds the upstream authorization request.
func (c *Connector) LoginURL(ctx context.Context, req connectors.LoginRequest) (string, []byte, error) {
	p, err := c.disc.get(ctx)
	if err != nil {
		return "", nil, err
	}
	nonce, err := randomString()
	if err != nil {
		return "", nil, err
	}
	st := connState{Verifier: oauth2.GenerateVerifier(), Nonce: nonce, Redirect: req.CallbackURL}
	raw, err := json.Marshal(st)
	if err != nil {
		return "", nil, err
	}
	opts := []oauth2.AuthCodeOption{
		oauth2.S256ChallengeOption(st.Verifier),
		oauth2.SetAuthURLParam("nonce", st.Nonce),
	}
	opts = append(opts, requestParams(req)...)
	return c.oauth(p, req.CallbackURL).AuthCodeURL(req.State, opts...), raw, nil
}

// requestParams forwards what the app asked for to the upstream.
func requestParams(req connectors.LoginRequest) []oauth2.AuthCodeOption {
	var opts []oauth2.AuthCodeOption
	if req.LoginHint != "" {
		opts = append(opts, oauth2.SetAuthURLParam("login_hint", req.LoginHint))
	}
	if req.ForceLogin {
		opts = append(opts, oauth2.SetAuthURLParam("prompt", "login"))
	}
	if req.MaxAge != nil {
		opts = append(opts, oauth2.SetAuthURLParam("max_age", strconv.FormatInt(int64(req.MaxAge.Seconds()), 10)))
	}
	if len(req.UILocales) > 0 {
		opts = append(opts, oauth2.SetAuthURLParam("ui_locales", strings.Join(req.UILocales, " ")))
	}
	return opts
}

func (c *Connector) oauth(p *provider, callbackURL string) *oauth2.Config {
	return &oauth2.Config{
		ClientID:     c.opts.ClientID,
		ClientSecret: c.opts.ClientSecret,
		Endpoint:     oauth2.Endpoint{AuthURL: p.AuthURL, TokenURL: p.TokenURL, AuthStyle: p.authStyle()},
		RedirectURL:  callbackURL,
		Scopes:       c.opts.Scopes,
	}
}

// HandleCallback exchanges the code and verifies the ID token.
func (c *Connector) HandleCallback(ctx context.Context, raw []byte, r *http.Request) (connectors.Identity, error) {
	q := r.URL.Query()
	if e := q.Get("error"); e != "" {
		return connectors.Identity{}, fmt.Errorf("upstream answered error %q: %w", truncate(e, 64), connectors.ErrDenied)
	}
	// RFC 9207: an upstream that names itself in the answer must be the
	// one this sign-in went to (no mix-up with another provider).
	if q.Has("iss") && q.Get("iss") != c.opts.Issuer {
		return connectors.Identity{}, fmt.Errorf("callback names another issuer: %w", connectors.ErrBadResponse)
	}
	var st connState
	if err := json.Unmarshal(raw, &st); err != nil || st.Verifier == "" || st.Nonce == "" {
		return connectors.Identity{}, fmt.Errorf("connector state unreadable: %w", connectors.ErrBadResponse)
	}
	code := q.Get("code")
	if code == "" {
		return connectors.Identity{}, fmt.Errorf("callback without a code: %w", connectors.ErrBadResponse)
	}
	p, err := c.disc.get(ctx)
	if err != nil {
		return connectors.Identity{}, err
	}
	ident, err := c.redeem(ctx, p, st.Redirect, code, st)
	if err != nil && !errors.Is(err, errNonce) && !errors.Is(err, errCodeRefused) {
		// The upstream may have rotated its endpoints or keys: look
		// again on the next sign-in. Not for a code it read and refused,
		// nor a nonce from another sign-in: anyone can post those, and
		// each would make every sign-in fetch discovery and keys again.
		c.disc.invalidate(p)
	}
	return ident, err
}

var (
	errNonce = fmt.Errorf("ID token nonce is not this sign-in's: %w", connectors.ErrBadResponse)
	// errCodeRefused: the token endpoint answered an OAuth error for the
	// code (RFC 6749 §5.2), so it is where discovery says.
	errCodeRefused = errors.New("the upstream refused the code")
)

func (c *Connector) redeem(ctx context.Context, p *provider, callbackURL, code string, st connState) (connectors.Identity, error) {
	hctx := context.WithValue(ctx, oauth2.HTTPClient, c.client)
	tok, err := c.oauth(p, callbackURL).Exchange(hctx, code, oauth2.VerifierOption(st.Verifier))
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) && re.ErrorCode != "" && re.Response != nil && re.Response.StatusCode < 500 {
			return connectors.Identity{}, fmt.Errorf("%w: %w", errCodeRefused, classify("code exchange", err))
		}
		return connectors.Identity{}, classify("code exchange", err)
	}
	rawID, _ := tok.Extra("id_token").(string)
	if rawID == "" {
		return connectors.Identity{}, fmt.Errorf("token response without an ID token: %w", connectors.ErrBadResponse)
	}
	idt, err := p.verifier(c.opts.ClientID, c.env.Clock).Verify(gooidc.ClientContext(ctx, c.client), rawID)
	if err != nil {
		return connectors.Identity{}, fmt.Errorf("ID token: %v: %w", err, connectors.ErrBadResponse)
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(st.Nonce)) != 1 {
		return connectors.Identity{}, errNonce
	}
	var cl claims
	if err := idt.Claims(&cl); err != nil {
		return connectors.Identity{}, fmt.Errorf("ID token claims: %v: %w", err, connectors.ErrBadResponse)
	}
	if cl.Email == "" && p.UserInfoURL != "" {
		if cl, err = c.userInfo(ctx, p, tok, idt.Subject, cl); err != nil {
			return connectors.Identity{}, err
		}
	}
	return c.identity(idt.Subject, cl), nil
}

// claims are the ID token's (or userinfo's) claims guestpass uses.
type claims struct {
	Subject       string    `json:"sub"`
	Email         string    `json:"email"`
	EmailVerified *flexBool `json:"email_verified"`
	Name          string    `json:"name"`
	AuthTime      int64     `json:"auth_time"`
}

// flexBool reads email_verified as a JSON boolean or the string "true" /
// "false" (some providers send strings).
type flexBool bool

func (b *flexBool) UnmarshalJSON(p []byte) error {
	s := strings.Trim(string(p), `"`)
	v, err := strconv.ParseBool(s)
	if err != nil {
		return fmt.Errorf("email_verified %s is not a boolean", p)
	}
	*b = flexBool(v)
	return nil
}

func (c *Connector) identity(sub string, cl claims) connectors.Identity {
	verified := c.opts.AssumeVerified
	if cl.EmailVerified != nil {
		verified = bool(*cl.EmailVerified)
	}
	id := connectors.Identity{UserID: sub, Email: cl.Email, EmailVerified: verified && cl.Email != "", Name: cl.Name}
	if cl.AuthTime > 0 {
		id.AuthTime = time.Unix(cl.AuthTime, 0)
	}
	return id
}

// userInfo asks the userinfo endpoint for the email the ID token lacks;
// its sub must be the ID token's (OpenID Connect Core 5.3.2).
func (c *Connector) userInfo(ctx context.Context, p *provider, tok *oauth2.Token, sub string, cl claims) (claims, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.UserInfoURL, nil)
	if err != nil {
		return cl, fmt.Errorf("userinfo: %v: %w", err, connectors.ErrBadResponse)
	}
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	var ui claims
	if err := c.getJSON(req, &ui); err != nil {
		return cl, fmt.Errorf("userinfo: %w", err)
	}
	if ui.Subject != sub {
		return cl, fmt.Errorf("userinfo is about another subject: %w", connectors.ErrBadResponse)
	}
	cl.Email, cl.EmailVerified = ui.Email, ui.EmailVerified
	if cl.Name == "" {
		cl.Name = ui.Name
	}
	return cl, nil
}

func randomString() (string, error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

var (
	_ connectors.CallbackConnector = (*Connector)(nil)
)
