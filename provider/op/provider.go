// Package op wires zitadel/oidc's OpenID provider, one per tenant.
//
// Each tenant gets its own op.Provider with a static issuer
// "{baseURL}/{tenant}", mounted under "/{tenant}" by the server. One
// provider per tenant (rather than the library's experimental path-tenant
// mode) gives every tenant its own clients, keys and token crypto key, so
// nothing issued by one tenant can be decoded by another.
package op

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/rs/cors"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/guestpass/guestpass/pkg/clientip"
	"github.com/guestpass/guestpass/pkg/derive"
	"github.com/guestpass/guestpass/pkg/jsonhttp"
	"github.com/guestpass/guestpass/pkg/session"
	"github.com/guestpass/guestpass/pkg/store"
	"github.com/guestpass/guestpass/provider/pages"
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
	Tenant   TenantSettings
	Store    store.Store
	Secret   []byte // the configured code key; sub-keys are derived from it
	Sessions Sessions
	Flows    Flows
	// ErrorPage renders an error page for people (status, message key).
	ErrorPage func(w http.ResponseWriter, r *http.Request, status int, key pages.MessageKey)
	// Pages renders the logout confirmation; its languages are the
	// ui_locales discovery advertises.
	Pages *pages.Renderer
	// KeyRotation is how long each signing key signs (0: DefaultKeyRotation;
	// at least MinKeyRotation).
	KeyRotation time.Duration
	Clock       func() time.Time
	Logger      *slog.Logger
	// ClientIP finds the client's address for AuthorizePerIPPerMinute.
	ClientIP clientip.Resolver
	// AuthorizePerIPPerMinute caps the authorization requests one client
	// IP may make per minute (0: no cap); over it /authorize answers 429
	// and stores nothing.
	AuthorizePerIPPerMinute int
}

// Tenant is one tenant's OpenID provider.
type Tenant struct {
	id       string
	issuer   string
	provider *op.Provider
	storage  *storage
	sessions Sessions
	flows    Flows
	errPage  func(w http.ResponseWriter, r *http.Request, status int, key pages.MessageKey)
	pages    *pages.Renderer
	branding pages.Branding
	handler  http.Handler
	// api serves the token, introspection, revocation and userinfo
	// endpoints (ours, not the library's), behind the same CORS rules.
	api http.Handler
	// discovery serves the document built once in New.
	discovery http.Handler
	// scopes are the scopes the tenant supports (scopes_supported): the
	// only ones a grant may carry (scopes.go).
	scopes []string
	// logoutKey keys the logout confirmation's CSRF tokens.
	logoutKey []byte
	log       *slog.Logger
	// clientIP is the client's address for the /authorize limit.
	clientIP clientip.Resolver
	// starter shows a sign-in's first step in /authorize's answer
	// (SetStarter; nil: a redirect to the client's LoginURL).
	starter Starter
}

// idTokenAlgs are the algorithms the clients' ID tokens are signed with,
// ES256 first; ES256 alone for a tenant without clients.
func idTokenAlgs(clients []Client) []jose.SignatureAlgorithm {
	es, rs := len(clients) == 0, false
	for _, c := range clients {
		if idTokenAlg(c) == jose.RS256 {
			rs = true
		} else {
			es = true
		}
	}
	var algs []jose.SignatureAlgorithm
	if es {
		algs = append(algs, jose.ES256)
	}
	if rs {
		algs = append(algs, jose.RS256)
	}
	return algs
}

// New builds the provider of one tenant.
func New(o Options) (*Tenant, error) {
	if o.Clock == nil {
		o.Clock = time.Now
	}
	t := o.Tenant
	issuer := strings.TrimRight(o.BaseURL, "/") + "/" + t.ID
	keys, err := newKeyRing(jose.ES256, o.Store, t.ID, o.Secret, o.Clock, o.KeyRotation)
	if err != nil {
		return nil, err
	}
	// Every tenant has RSA keys, whether a client gets RS256 ID tokens
	// now or not: they are made and rotated ahead like the EC keys, so a
	// client switched to RS256 by a (rolling) reload finds its key
	// published on every replica, and one switched back leaves the key
	// its tokens were signed with published as long as rotation keeps it.
	rsaKeys, err := newKeyRing(jose.RS256, o.Store, t.ID, o.Secret, o.Clock, o.KeyRotation)
	if err != nil {
		return nil, err
	}
	st := &storage{
		tenant:          t.ID,
		st:              o.Store,
		clients:         make(map[string]*client, len(t.Clients)),
		keys:            keys,
		rsaKeys:         rsaKeys,
		idTokenAlgs:     idTokenAlgs(t.Clients),
		clock:           o.Clock,
		sessionLifetime: t.SessionLifetime,
		authorizePerIP:  o.AuthorizePerIPPerMinute,
	}
	var origins []string
	facts := discoveryFacts{}
	for _, c := range t.Clients {
		st.clients[c.ID] = newClient(t.ID, c)
		origins = append(origins, c.AllowedOrigins...)
		facts.anyAdmin = facts.anyAdmin || c.Admin
		facts.anyPublic = facts.anyPublic || c.Secret == ""
	}

	var cryptoKey [32]byte
	copy(cryptoKey[:], derive.Key(o.Secret, "guestpass/op-crypto/"+t.ID))
	cfg := &op.Config{
		CryptoKey:                cryptoKey,
		DefaultLogoutRedirectURI: "/" + t.ID + "/logged-out",
		CodeMethodS256:           true,
		AuthMethodPost:           true,
		GrantTypeRefreshToken:    true,
		// The claims our ID tokens and userinfo carry (discovery's
		// claims_supported; TestDiscoveryMatchesEndpoints compares).
		SupportedClaims: []string{"sub", "aud", "exp", "iat", "iss", "auth_time", "nonce", "amr",
			"at_hash", "c_hash", "azp", "client_id", "email", "email_verified", "name", "preferred_username", "tid", "idp", "sid"},
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
	if o.Pages != nil {
		facts.uiLocales = o.Pages.Languages()
	}
	facts.claims, facts.scopes = cfg.SupportedClaims, cfg.SupportedScopes
	doc, err := buildDiscovery(p, st, issuer, facts)
	if err != nil {
		return nil, fmt.Errorf("tenant %s: %w", t.ID, err)
	}
	tn := &Tenant{id: t.ID, issuer: issuer, provider: p, storage: st, sessions: o.Sessions, flows: o.Flows,
		errPage: o.ErrorPage, pages: o.Pages, branding: t.Branding, log: o.Logger, scopes: cfg.SupportedScopes,
		logoutKey: derive.Key(o.Secret, "guestpass/logout-csrf/"+t.ID), clientIP: o.ClientIP}
	if tn.log == nil {
		tn.log = slog.New(slog.DiscardHandler)
	}
	tn.api = cors.New(*corsOpts).Handler(http.HandlerFunc(tn.serveAPI))
	tn.discovery = cors.New(*corsOpts).Handler(discoveryHandler(doc))
	tn.handler = tn.wrap(p)
	return tn, nil
}

// ServeHTTP serves the OP endpoints; the request path is relative to the
// tenant ("/authorize", "/oauth/token", ...).
func (t *Tenant) ServeHTTP(w http.ResponseWriter, r *http.Request) { t.handler.ServeHTTP(w, r) }

// ErrUnknownRequest means the auth request is unknown or expired.
var ErrUnknownRequest = errors.New("unknown or expired sign-in request")

// ReadAuthRequest is AuthRequest as a read of a step's batch.
func (t *Tenant) ReadAuthRequest(id string) *store.Read[*AuthRequest] {
	if !validRequestID(id) {
		return store.NewRead(nil, func(*store.Op) (*AuthRequest, error) { return nil, ErrUnknownRequest })
	}
	return store.NewRead(store.GetOp(t.storage.k("authreq", id)), func(op *store.Op) (*AuthRequest, error) {
		a, err := t.storage.decodeAuthRequest(op.Val, op.Err)
		var nf errNotFound
		if errors.As(err, &nf) {
			return nil, ErrUnknownRequest
		}
		return a, err
	})
}

// Completion is a finished sign-in: the writes of the step's last batch
// (the completed request, bound to the browser's flow, and its code) and,
// once they are stored, the answer to the app.
type Completion struct {
	// Ops go in the step's last batch (with the new session).
	Ops  []*store.Op
	t    *Tenant
	a    *AuthRequest
	code string
}

// Complete records who signed in and mints the request's code, as ops of
// the step's last batch. The code reaches only the browser that signed
// in: it is in the answer to that browser's own POST (flow cookie and
// CSRF token checked), with no hop through /authorize/callback (which
// cost a request and two round trips). ErrUnknownRequest when the
// request expired.
func (t *Tenant) Complete(a *AuthRequest, ident Identity, flow string) (*Completion, error) {
	if flow == "" {
		return nil, errors.New("complete: no flow to bind the sign-in to")
	}
	done, err := t.storage.completeAuthRequestOp(a, ident, flow)
	var nf errNotFound
	if errors.As(err, &nf) {
		return nil, ErrUnknownRequest
	}
	if err != nil {
		return nil, err
	}
	code, err := newCode(a.ID)
	if err != nil {
		return nil, fmt.Errorf("complete: %w", err)
	}
	return &Completion{Ops: []*store.Op{done, t.storage.saveAuthCodeOp(a, code)}, t: t, a: a, code: code}, nil
}

// Answer sends the browser to the app with the code, in the request's
// response mode, with iss (RFC 9207). Call it once Ops are stored.
func (c *Completion) Answer(w http.ResponseWriter, r *http.Request) {
	c.t.reply(w, r, replyFor(c.a), url.Values{"code": {c.code}})
}

// CallbackURL is where a browser goes back to a request it completed
// before (a page reloaded after sign-in): /authorize/callback mints a new
// code for the same browser only.
func (t *Tenant) CallbackURL(id string) string {
	return "/" + t.id + "/authorize/callback?id=" + url.QueryEscape(id)
}

// Fail answers the app with an OAuth error (e.g. login_required for
// prompt=none) at its redirect URI, in the request's response mode.
func (t *Tenant) Fail(w http.ResponseWriter, r *http.Request, a *AuthRequest, err error) {
	// This answer leaves from the login pages, not from /authorize: it
	// too goes in the request's response mode, with iss (RFC 9207).
	t.authError(w, r, replyFor(a), err)
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

// wrap serves what discovery advertises and nothing else: our discovery
// document, our authorize and callback (iss in every authorization
// response, branded error pages, bounded requests), our logout (asks the
// guest unless the app names the session), our token, introspection,
// revocation and userinfo (api), and the library's keys with a cache
// lifetime. Every other path is a 404.
func (t *Tenant) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/oauth/token", "/oauth/introspect", "/userinfo", "/revoke":
			w.Header().Set("Cache-Control", "no-store")
			w.Header().Set("Pragma", "no-cache")
			t.api.ServeHTTP(w, r)
			return
		case "/.well-known/openid-configuration":
			t.discovery.ServeHTTP(w, r)
			return
		case "/keys":
			if !t.keysReachable(w, r) {
				return
			}
			// Never longer than a new key is published before it signs
			// (publishLead), so a cached JWKS always holds the signing key.
			w.Header().Set("Cache-Control", jwksCacheControl)
			next.ServeHTTP(w, r)
			return
		case "/end_session":
			t.endSession(w, r)
			return
		case "/authorize/callback":
			t.callback(w, r)
			return
		case "/authorize":
			if !t.checkAuthorize(w, r) {
				return
			}
			t.authorize(w, r)
			return
		}
		// The library's other routes (device_authorization, healthz,
		// ready, its own copies of the endpoints above) are not ours to
		// offer: unadvertised, and some tell whether a client exists.
		t.notFound(w, r)
	})
}

func (t *Tenant) errorPage(w http.ResponseWriter, r *http.Request, status int, key pages.MessageKey) {
	if t.errPage != nil {
		t.errPage(w, r, status, key)
		return
	}
	http.Error(w, string(key), status)
}

// notFound is the answer to any path the tenant does not serve, the same
// for unknown paths and for library routes we do not offer: the branded
// page for people, JSON for programs (as the server's own 404s).
func (t *Tenant) notFound(w http.ResponseWriter, r *http.Request) {
	if strings.Contains(r.Header.Get("Accept"), "text/html") {
		t.errorPage(w, r, http.StatusNotFound, pages.MsgNotFound)
		return
	}
	jsonhttp.Write(w, http.StatusNotFound, map[string]string{"error": "not_found", "error_description": "no such endpoint"})
}
