package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"github.com/gorilla/securecookie"
	"go.uber.org/zap"
	"golang.org/x/oauth2"
)

// Options configure the app; the flags of main fill them.
type Options struct {
	Issuer        string // the tenant's issuer, e.g. http://localhost:8080/demo
	ClientID      string
	ClientSecret  string
	RedirectURL   string // must be registered for the client, exactly
	PostLogoutURL string // must be registered for the client, exactly
	// HTTPClient talks to the issuer; nil: a client with a 10 s timeout.
	HTTPClient *http.Client
}

const (
	loginCookie   = "example_login"   // state, nonce and PKCE verifier of one sign-in
	sessionCookie = "example_session" // a random id; the tokens stay on the server
	loginTTL      = 10 * time.Minute
	sessionTTL    = 8 * time.Hour
	maxSessions   = 10000
)

// App is the relying party's HTTP handler.
type App struct {
	o       Options
	log     *zap.Logger
	now     func() time.Time
	mux     *http.ServeMux
	cookies *securecookie.SecureCookie
	secure  bool // cookies get Secure when the app itself is served over https

	mu    sync.Mutex
	op    *issuer // discovered lazily, so the app may start before guestpass
	users map[string]*userSession
}

// issuer is what discovery told us about the OP.
type issuer struct {
	prov       *gooidc.Provider
	oauth      oauth2.Config
	verifier   *gooidc.IDTokenVerifier
	endSession string
	issParam   bool // authorization_response_iss_parameter_supported
}

// userSession is one signed-in browser. Only the server holds the tokens.
type userSession struct {
	token    *oauth2.Token
	rawID    string // the ID token, for id_token_hint at logout
	claims   string // pretty-printed
	userinfo string // pretty-printed, or why it failed
	subject  string
	email    string
	notice   string // shown once on the next page
	expires  time.Time
}

// pendingLogin is kept in the login cookie between /login and /callback.
type pendingLogin struct {
	State    string `json:"s"`
	Nonce    string `json:"n"`
	Verifier string `json:"v"`
}

// New builds the app. Discovery happens on first use, not here.
func New(o Options, log *zap.Logger, now func() time.Time) (*App, error) {
	for name, v := range map[string]string{"issuer": o.Issuer, "redirect": o.RedirectURL, "post-logout-redirect": o.PostLogoutURL} {
		u, err := url.Parse(v)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("--%s %q: want an absolute http(s) URL", name, v)
		}
	}
	if o.ClientID == "" {
		return nil, errors.New("--client-id is empty")
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	// Keys live only as long as the process: a restart signs everyone out,
	// which is what an in-memory token store means anyway.
	sc := securecookie.New(securecookie.GenerateRandomKey(32), securecookie.GenerateRandomKey(32))
	sc.MaxAge(int(loginTTL.Seconds()))
	a := &App{
		o: o, log: log, now: now, cookies: sc,
		secure: strings.HasPrefix(o.RedirectURL, "https://"),
		users:  map[string]*userSession{},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", a.home)
	mux.HandleFunc("GET /login", a.login)
	mux.HandleFunc("GET /callback", a.callback)
	// POST only: with SameSite=Lax session cookies another site cannot
	// make a signed-in browser refresh or sign out.
	mux.HandleFunc("POST /refresh", a.refresh)
	mux.HandleFunc("POST /logout", a.logout)
	a.mux = mux
	return a, nil
}

func (a *App) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	// No script, no external asset; the callback URL carries a code, so no
	// Referer leaves the app; pages show personal data, so nothing is cached.
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	a.mux.ServeHTTP(w, r)
}

// issuer discovers the OP once; a failure is retried on the next request.
func (a *App) issuer(ctx context.Context) (*issuer, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.op != nil {
		return a.op, nil
	}
	// go-oidc keeps this context for fetching keys later, so it must not be
	// the request's; the HTTP client's timeout bounds each call.
	pctx := gooidc.ClientContext(context.WithoutCancel(ctx), a.o.HTTPClient)
	prov, err := gooidc.NewProvider(pctx, a.o.Issuer)
	if err != nil {
		return nil, fmt.Errorf("discovery of %s: %w", a.o.Issuer, err)
	}
	var meta struct {
		EndSession string `json:"end_session_endpoint"`
		IssParam   bool   `json:"authorization_response_iss_parameter_supported"`
	}
	if err := prov.Claims(&meta); err != nil {
		return nil, fmt.Errorf("discovery of %s: %w", a.o.Issuer, err)
	}
	a.op = &issuer{
		prov: prov,
		oauth: oauth2.Config{
			ClientID: a.o.ClientID, ClientSecret: a.o.ClientSecret, Endpoint: prov.Endpoint(),
			RedirectURL: a.o.RedirectURL,
			Scopes:      []string{gooidc.ScopeOpenID, "email", "profile", gooidc.ScopeOfflineAccess},
		},
		verifier:   prov.Verifier(&gooidc.Config{ClientID: a.o.ClientID, Now: a.now}),
		endSession: meta.EndSession,
		issParam:   meta.IssParam,
	}
	return a.op, nil
}

// clientCtx makes oauth2 and go-oidc calls use the app's HTTP client.
func (a *App) clientCtx(ctx context.Context) context.Context {
	return gooidc.ClientContext(ctx, a.o.HTTPClient)
}

func (a *App) home(w http.ResponseWriter, r *http.Request) {
	_, s := a.session(r)
	if s == nil {
		a.render(w, http.StatusOK, "home", homeData{Issuer: a.o.Issuer})
		return
	}
	a.mu.Lock()
	d := signedInData{Issuer: a.o.Issuer, Subject: s.subject, Email: s.email, Claims: s.claims, UserInfo: s.userinfo,
		Notice: s.notice, AccessExpiry: s.token.Expiry, HasRefresh: s.token.RefreshToken != ""}
	s.notice = ""
	a.mu.Unlock()
	a.render(w, http.StatusOK, "signedin", d)
}

// login starts a sign-in: fresh state, nonce and PKCE verifier, kept in a
// short-lived HttpOnly cookie, then off to the issuer.
func (a *App) login(w http.ResponseWriter, r *http.Request) {
	op, err := a.issuer(r.Context())
	if err != nil {
		a.fail(w, http.StatusBadGateway, "The identity provider is not reachable", err)
		return
	}
	p := pendingLogin{State: randomString(), Nonce: randomString(), Verifier: oauth2.GenerateVerifier()}
	v, err := a.cookies.Encode(loginCookie, p)
	if err != nil {
		a.fail(w, http.StatusInternalServerError, "Could not start the sign-in", err)
		return
	}
	http.SetCookie(w, &http.Cookie{
		Name: loginCookie, Value: v, Path: "/", MaxAge: int(loginTTL.Seconds()),
		HttpOnly: true, Secure: a.secure,
		// Lax: the issuer's redirect back is a top-level GET from another site.
		SameSite: http.SameSiteLaxMode,
	})
	http.Redirect(w, r, op.oauth.AuthCodeURL(p.State, gooidc.Nonce(p.Nonce), oauth2.S256ChallengeOption(p.Verifier)), http.StatusFound)
}

func (a *App) callback(w http.ResponseWriter, r *http.Request) {
	op, err := a.issuer(r.Context())
	if err != nil {
		a.fail(w, http.StatusBadGateway, "The identity provider is not reachable", err)
		return
	}
	var p pendingLogin
	c, err := r.Cookie(loginCookie)
	if err == nil {
		err = a.cookies.Decode(loginCookie, c.Value, &p)
	}
	// The login cookie is single use, whatever happens next.
	http.SetCookie(w, &http.Cookie{Name: loginCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: a.secure, SameSite: http.SameSiteLaxMode})
	if err != nil {
		a.fail(w, http.StatusBadRequest, "No sign-in in progress (its cookie is missing or expired). Start again.", err)
		return
	}
	q := r.URL.Query()
	if subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(p.State)) != 1 {
		a.fail(w, http.StatusBadRequest, "The state does not match this browser's sign-in", nil)
		return
	}
	// RFC 9207: the response must come from the issuer we sent the browser
	// to (mix-up attacks).
	if iss, ok := q["iss"]; ok || op.issParam {
		if len(iss) != 1 || iss[0] != a.o.Issuer {
			a.fail(w, http.StatusBadRequest, "The response names another issuer", fmt.Errorf("iss %q, want %q", q.Get("iss"), a.o.Issuer))
			return
		}
	}
	if e := q.Get("error"); e != "" {
		a.fail(w, http.StatusBadRequest, "The identity provider answered: "+e+" "+q.Get("error_description"), nil)
		return
	}
	ctx, cancel := context.WithTimeout(a.clientCtx(r.Context()), 15*time.Second)
	defer cancel()
	tok, err := op.oauth.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(p.Verifier))
	if err != nil {
		a.fail(w, http.StatusBadGateway, "The code exchange failed", err)
		return
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		a.fail(w, http.StatusBadGateway, "The token response has no ID token", nil)
		return
	}
	idt, err := op.verifier.Verify(ctx, raw)
	if err != nil {
		a.fail(w, http.StatusBadGateway, "The ID token is not valid", err)
		return
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(p.Nonce)) != 1 {
		a.fail(w, http.StatusBadRequest, "The ID token's nonce does not match this sign-in", nil)
		return
	}
	s := &userSession{token: tok, rawID: raw, expires: a.now().Add(sessionTTL), notice: "Signed in."}
	if err := s.setIDToken(idt); err != nil {
		a.fail(w, http.StatusBadGateway, "The ID token's claims are not readable", err)
		return
	}
	s.userinfo = a.userinfo(ctx, op, tok)
	id := a.store(s)
	http.SetCookie(w, &http.Cookie{
		Name: sessionCookie, Value: id, Path: "/", MaxAge: int(sessionTTL.Seconds()),
		HttpOnly: true, Secure: a.secure, SameSite: http.SameSiteLaxMode,
	})
	a.log.Info("signed in", zap.String("sub", idt.Subject))
	// Post/redirect/get: a reload of the page must not replay the code.
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// refresh trades the refresh token for new tokens and shows the new claims.
func (a *App) refresh(w http.ResponseWriter, r *http.Request) {
	_, s := a.session(r)
	if s == nil {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	op, err := a.issuer(r.Context())
	if err != nil {
		a.fail(w, http.StatusBadGateway, "The identity provider is not reachable", err)
		return
	}
	a.mu.Lock()
	rt := s.token.RefreshToken
	a.mu.Unlock()
	if rt == "" {
		a.fail(w, http.StatusBadRequest, "This sign-in has no refresh token (offline_access was not granted)", nil)
		return
	}
	ctx, cancel := context.WithTimeout(a.clientCtx(r.Context()), 15*time.Second)
	defer cancel()
	// Only the refresh token: an expired access token makes oauth2 refresh.
	tok, err := op.oauth.TokenSource(ctx, &oauth2.Token{RefreshToken: rt}).Token()
	if err != nil {
		a.fail(w, http.StatusBadGateway, "The refresh failed; sign in again", err)
		return
	}
	var idt *gooidc.IDToken
	raw, _ := tok.Extra("id_token").(string)
	if raw != "" {
		if idt, err = op.verifier.Verify(ctx, raw); err != nil {
			a.fail(w, http.StatusBadGateway, "The refreshed ID token is not valid", err)
			return
		}
	}
	info := a.userinfo(ctx, op, tok)
	a.mu.Lock()
	if idt != nil && idt.Subject != s.subject {
		a.mu.Unlock()
		a.fail(w, http.StatusBadGateway, "The refreshed ID token is for another subject", nil)
		return
	}
	if tok.RefreshToken == "" {
		tok.RefreshToken = rt // RFC 6749 6: the old one stays valid when none is returned
	}
	s.token, s.userinfo = tok, info
	s.notice = "Tokens refreshed at " + a.now().Format(time.TimeOnly) + "."
	if idt != nil {
		s.rawID = raw
		if err := s.setIDToken(idt); err != nil {
			s.notice = "Tokens refreshed, but the new ID token's claims are not readable."
		}
	} else {
		s.notice += " No new ID token was issued; the claims are those of sign-in."
	}
	a.mu.Unlock()
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// logout forgets the tokens here and ends the session at the issuer.
func (a *App) logout(w http.ResponseWriter, r *http.Request) {
	id, s := a.session(r)
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: a.secure, SameSite: http.SameSiteLaxMode})
	if s == nil {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	a.mu.Lock()
	delete(a.users, id)
	raw := s.rawID
	a.mu.Unlock()
	op, err := a.issuer(r.Context())
	if err != nil || op.endSession == "" {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	u, err := url.Parse(op.endSession)
	if err != nil {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	q := u.Query()
	q.Set("id_token_hint", raw)
	q.Set("client_id", a.o.ClientID)
	q.Set("post_logout_redirect_uri", a.o.PostLogoutURL)
	u.RawQuery = q.Encode()
	http.Redirect(w, r, u.String(), http.StatusSeeOther)
}

// userinfo fetches the userinfo; a failure is shown, not fatal.
func (a *App) userinfo(ctx context.Context, op *issuer, tok *oauth2.Token) string {
	ui, err := op.prov.UserInfo(ctx, oauth2.StaticTokenSource(tok))
	if err != nil {
		return "userinfo failed: " + err.Error()
	}
	var m map[string]any
	if err := ui.Claims(&m); err != nil {
		return "userinfo not readable: " + err.Error()
	}
	return pretty(m)
}

func (s *userSession) setIDToken(idt *gooidc.IDToken) error {
	var m map[string]any
	if err := idt.Claims(&m); err != nil {
		return err
	}
	s.claims, s.subject = pretty(m), idt.Subject
	if e, ok := m["email"].(string); ok {
		s.email = e
	}
	return nil
}

// session returns the browser's live session, if any.
func (a *App) session(r *http.Request) (string, *userSession) {
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return "", nil
	}
	id := sessionKey(c.Value)
	a.mu.Lock()
	defer a.mu.Unlock()
	s := a.users[id]
	if s == nil {
		return "", nil
	}
	if a.now().After(s.expires) {
		delete(a.users, id)
		return "", nil
	}
	return id, s
}

// store keeps a new session and returns the cookie value. The map is
// keyed by a hash of the cookie, so a dump of memory holds no live cookie.
func (a *App) store(s *userSession) string {
	v := randomString()
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.now()
	for k, u := range a.users {
		if now.After(u.expires) {
			delete(a.users, k)
		}
	}
	if len(a.users) >= maxSessions {
		// An example app, not a server: drop the oldest rather than grow.
		var oldest string
		for k, u := range a.users {
			if oldest == "" || u.expires.Before(a.users[oldest].expires) {
				oldest = k
			}
		}
		delete(a.users, oldest)
	}
	a.users[sessionKey(v)] = s
	return v
}

func sessionKey(cookie string) string {
	h := sha256.Sum256([]byte(cookie))
	return base64.RawURLEncoding.EncodeToString(h[:])
}

func randomString() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return base64.RawURLEncoding.EncodeToString(b)
}

func pretty(v any) string {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err.Error()
	}
	return string(b)
}

// fail shows an error page; the detail goes to the log, and to the page
// too, since this is a developer's tool.
func (a *App) fail(w http.ResponseWriter, status int, msg string, err error) {
	d := errorData{Issuer: a.o.Issuer, Message: msg}
	if err != nil {
		d.Detail = err.Error()
		a.log.Warn(msg, zap.Error(err))
	} else {
		a.log.Warn(msg)
	}
	a.render(w, status, "error", d)
}
