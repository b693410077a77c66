// Package oidc wires zitadel/oidc's OpenID provider, one per tenant.
//
// Each tenant gets its own op.Provider with a static issuer
// "{baseURL}/{tenant}", mounted under "/{tenant}" by the server. One
// provider per tenant (rather than the library's experimental path-tenant
// mode) gives every tenant its own clients, keys and token crypto key, so
// nothing issued by one tenant can be decoded by another.
package oidc

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/rs/cors"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
	"golang.org/x/text/language"

	"github.com/guestpass/guestpass/pkg/config"
	"github.com/guestpass/guestpass/pkg/session"
	"github.com/guestpass/guestpass/pkg/store"
)

// Flows reads the browser's sign-in flow id (the flow cookie).
type Flows interface {
	Get(r *http.Request, tenant string) (string, error)
}

// Sessions is what logout needs of the session manager.
type Sessions interface {
	Get(ctx context.Context, r *http.Request, tenant string) (*session.Session, error)
	DeleteByID(ctx context.Context, tenant, id string) error
	ClearCookie(w http.ResponseWriter, tenant string)
}

// Options are the parts a tenant's provider is built from.
type Options struct {
	BaseURL  string
	Tenant   config.Tenant
	Store    store.Store
	Secret   []byte // the configured code key; sub-keys are derived from it
	Sessions Sessions
	Flows    Flows
	// ErrorPage renders an error page for people (status, message key).
	ErrorPage func(w http.ResponseWriter, r *http.Request, status int, key string)
	Clock     func() time.Time
	Logger    *slog.Logger
}

// Tenant is one tenant's OpenID provider.
type Tenant struct {
	id       string
	issuer   string
	provider *op.Provider
	storage  *storage
	sessions Sessions
	flows    Flows
	errPage  func(w http.ResponseWriter, r *http.Request, status int, key string)
	handler  http.Handler
	// api serves the token, introspection, revocation and userinfo
	// endpoints (ours, not the library's), behind the same CORS rules.
	api      http.Handler
	redirect map[string]bool // every redirect URI of the tenant's clients
	log      *slog.Logger
}

// New builds the provider of one tenant.
func New(o Options) (*Tenant, error) {
	if o.Clock == nil {
		o.Clock = time.Now
	}
	t := o.Tenant
	issuer := t.Issuer(o.BaseURL)
	keys, err := newKeyRing(o.Store, t.ID, o.Secret, o.Clock)
	if err != nil {
		return nil, err
	}
	st := &storage{
		tenant:          t.ID,
		st:              o.Store,
		clients:         make(map[string]*client, len(t.Clients)),
		keys:            keys,
		clock:           o.Clock,
		sessionLifetime: t.Session.Lifetime,
	}
	redirect := map[string]bool{}
	var origins []string
	for _, c := range t.Clients {
		st.clients[c.ID] = newClient(t.ID, c)
		for _, u := range c.RedirectURIs {
			redirect[u] = true
		}
		origins = append(origins, c.AllowedOrigins...)
	}
	if o.Sessions != nil {
		st.endSession = func(ctx context.Context, sid string) error { return o.Sessions.DeleteByID(ctx, t.ID, sid) }
	}

	var cryptoKey [32]byte
	copy(cryptoKey[:], derive(o.Secret, "guestpass/op-crypto/"+t.ID))
	cfg := &op.Config{
		CryptoKey:                cryptoKey,
		DefaultLogoutRedirectURI: "/" + t.ID + "/logged-out",
		CodeMethodS256:           true,
		AuthMethodPost:           true,
		GrantTypeRefreshToken:    true,
		SupportedUILocales:       []language.Tag{language.English, language.French},
		SupportedClaims: []string{"sub", "aud", "exp", "iat", "iss", "auth_time", "nonce", "acr", "amr",
			"at_hash", "c_hash", "azp", "email", "email_verified", "name", "tid", "idp", "sid"},
		SupportedScopes: []string{oidc.ScopeOpenID, oidc.ScopeProfile, oidc.ScopeEmail, oidc.ScopeOfflineAccess},
	}
	corsOpts := corsOptions(origins)
	opts := []op.Option{op.WithCORSOptions(corsOpts)}
	if o.Logger != nil {
		opts = append(opts, op.WithLogger(o.Logger))
	}
	if strings.HasPrefix(issuer, "http://") {
		opts = append(opts, op.WithAllowInsecure())
	}
	p, err := op.NewProvider(cfg, st, op.StaticIssuer(issuer), opts...)
	if err != nil {
		return nil, fmt.Errorf("tenant %s: provider: %w", t.ID, err)
	}
	st.decryptCode = p.Crypto().Decrypt
	tn := &Tenant{id: t.ID, issuer: issuer, provider: p, storage: st, sessions: o.Sessions, flows: o.Flows,
		errPage: o.ErrorPage, redirect: redirect, log: o.Logger}
	if tn.log == nil {
		tn.log = slog.New(slog.DiscardHandler)
	}
	tn.api = cors.New(*corsOpts).Handler(http.HandlerFunc(tn.serveAPI))
	tn.handler = tn.wrap(p)
	return tn, nil
}

// ServeHTTP serves the OP endpoints; the request path is relative to the
// tenant ("/authorize", "/oauth/token", ...).
func (t *Tenant) ServeHTTP(w http.ResponseWriter, r *http.Request) { t.handler.ServeHTTP(w, r) }

// AuthRequest returns a pending authorization request of this tenant.
func (t *Tenant) AuthRequest(ctx context.Context, id string) (*AuthRequest, error) {
	a, err := t.storage.authRequest(ctx, id)
	if err != nil {
		var nf errNotFound
		if errors.As(err, &nf) {
			return nil, ErrUnknownRequest
		}
		return nil, err
	}
	return a, nil
}

// ErrUnknownRequest means the auth request is unknown or expired.
var ErrUnknownRequest = errors.New("unknown or expired sign-in request")

// AuthRequestReadOp is the read AuthRequest does, for store.Prefetch.
func (t *Tenant) AuthRequestReadOp(id string) *store.Op {
	return store.GetOp(t.storage.k("authreq", id))
}

// Complete records who signed in, bound to the browser's sign-in flow;
// that browser then goes to CallbackURL.
func (t *Tenant) Complete(ctx context.Context, a *AuthRequest, ident Identity, flow string) error {
	if flow == "" {
		return errors.New("complete: no flow to bind the sign-in to")
	}
	err := t.storage.completeAuthRequest(ctx, a, ident, flow)
	var nf errNotFound
	if errors.As(err, &nf) {
		return ErrUnknownRequest
	}
	return err
}

// CallbackURL is where the browser goes after Complete: the library then
// issues the code and redirects to the app.
func (t *Tenant) CallbackURL(id string) string {
	return "/" + t.id + "/authorize/callback?id=" + url.QueryEscape(id)
}

// Fail answers the app with an OAuth error (e.g. login_required for
// prompt=none), by redirect to its redirect URI.
func (t *Tenant) Fail(w http.ResponseWriter, r *http.Request, a *AuthRequest, err error) {
	// Through issWriter: this answer leaves from the login pages, not from
	// /authorize, and RFC 9207 wants iss on error responses too.
	op.AuthRequestError(t.withIss(w), r, a, err, t.provider)
}

// ClientName returns the configured name of a client (for pages and mails).
func (t *Tenant) ClientName(id string) string {
	if c, ok := t.storage.clients[id]; ok {
		if c.cfg.Name != "" {
			return c.cfg.Name
		}
		return c.cfg.ID
	}
	return ""
}

// wrap adds what the library leaves out: no-store on token responses,
// cache lifetimes on discovery and keys, RFC 9207 iss on every
// authorization response, and session deletion on logout. The token,
// introspection, revocation and userinfo endpoints are ours (api).
func (t *Tenant) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/oauth/token", "/oauth/introspect", "/userinfo", "/revoke":
			w.Header().Set("Cache-Control", "no-store")
			w.Header().Set("Pragma", "no-cache")
			t.api.ServeHTTP(w, r)
			return
		case "/.well-known/openid-configuration":
			w.Header().Set("Cache-Control", "public, max-age=300")
			serveDiscovery(next, w, r)
			return
		case "/keys":
			w.Header().Set("Cache-Control", "public, max-age=300")
		case "/end_session":
			r, st := t.withSession(r)
			next.ServeHTTP(&logoutWriter{ResponseWriter: w, t: t, state: st}, r)
			return
		case "/authorize/callback":
			r, ok := t.checkCallback(w, r)
			if !ok {
				return
			}
			next.ServeHTTP(t.withIss(w), r)
			return
		case "/authorize":
			if !t.checkAuthorize(w, r) {
				return
			}
			next.ServeHTTP(t.withIss(w), r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// withSession puts the browser's session id into the context of a logout
// request; TerminateSessionFromRequest deletes it once the library has
// validated the request and marks the state done, and only then is the
// cookie cleared on the redirect: a refused logout (say, an unlisted
// post_logout_redirect_uri) changes nothing.
func (t *Tenant) withSession(r *http.Request) (*http.Request, *logoutState) {
	if t.sessions == nil {
		return r, nil
	}
	s, err := t.sessions.Get(r.Context(), r, t.id)
	if err != nil || s == nil {
		return r, nil
	}
	st := &logoutState{sid: s.ID}
	return r.WithContext(context.WithValue(r.Context(), sessionIDKey{}, st)), st
}

// logoutState is shared between a logout request's context (where
// TerminateSessionFromRequest finds the session) and its response writer.
type logoutState struct {
	sid  string
	done atomic.Bool
}

// logoutWriter clears the session cookie on the response of a logout that
// the library accepted.
type logoutWriter struct {
	http.ResponseWriter
	t     *Tenant
	state *logoutState
	wrote bool
}

func (w *logoutWriter) WriteHeader(code int) {
	if !w.wrote && w.state != nil && w.state.done.Load() {
		w.t.sessions.ClearCookie(w.ResponseWriter, w.t.id)
	}
	w.wrote = true
	w.ResponseWriter.WriteHeader(code)
}

func (w *logoutWriter) Write(b []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

// withIss wraps w so that redirects back to an app carry iss.
func (t *Tenant) withIss(w http.ResponseWriter) http.ResponseWriter {
	return &issWriter{ResponseWriter: w, issuer: t.issuer, redirect: t.redirect}
}

// issWriter adds iss (RFC 9207) to redirects that go back to an app.
type issWriter struct {
	http.ResponseWriter
	issuer   string
	redirect map[string]bool
}

func (w *issWriter) WriteHeader(code int) {
	if code >= 300 && code < 400 {
		if loc := w.Header().Get("Location"); loc != "" {
			w.Header().Set("Location", addIss(loc, w.issuer, w.redirect))
		}
	}
	w.ResponseWriter.WriteHeader(code)
}

func addIss(loc, issuer string, redirect map[string]bool) string {
	u, err := url.Parse(loc)
	if err != nil {
		return loc
	}
	base := *u
	base.RawQuery, base.Fragment = "", ""
	if !redirect[base.String()] {
		return loc
	}
	q := u.Query()
	if q.Get("code") == "" && q.Get("error") == "" || q.Has("iss") {
		return loc
	}
	q.Set("iss", issuer)
	u.RawQuery = q.Encode()
	return u.String()
}

// checkCallback lets only the browser that signed in collect the code: a
// completed auth request is bound to that browser's flow cookie, so a
// request id lured out of a guest is worthless elsewhere. The loaded
// request is handed to the library through the context (no second read).
func (t *Tenant) checkCallback(w http.ResponseWriter, r *http.Request) (*http.Request, bool) {
	a, err := t.storage.authRequest(r.Context(), r.URL.Query().Get("id"))
	if err != nil {
		// Unknown ids and store errors: the library answers them.
		return r, true
	}
	if !a.Done() {
		return r, true
	}
	flow, ferr := "", error(nil)
	if t.flows != nil {
		flow, ferr = t.flows.Get(r, t.id)
	}
	if ferr != nil || flow == "" || subtle.ConstantTimeCompare([]byte(flowBinding(flow)), []byte(a.Binding)) != 1 {
		t.errorPage(w, r, http.StatusForbidden, "expired_request")
		return r, false
	}
	return r.WithContext(context.WithValue(r.Context(), preloadedKey{}, a)), true
}

func (t *Tenant) errorPage(w http.ResponseWriter, r *http.Request, status int, key string) {
	if t.errPage != nil {
		t.errPage(w, r, status, key)
		return
	}
	http.Error(w, key, status)
}
