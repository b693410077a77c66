// Package redeem serves a tenant's invitation links (PRODUCT.md B5):
// GET /{tenant}/redeem/{token} starts the normal sign-in for the invited
// address, as an authorization request of the tenant's implied redeem
// client (login_hint = the address, prompt=login, so the redemption chain
// picks the method as for any app); the OP sends the browser back to
// /{tenant}/redeem/callback, where the signed-in guest is checked against
// the invitation, the token is used up (once, atomically) and the browser
// goes on to the invitation's redirect URL or the tenant's apps page.
package redeem

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/gorilla/securecookie"
	"go.uber.org/zap"

	"github.com/guestpass/guestpass/pkg/guests"
	"github.com/guestpass/guestpass/pkg/session"
	"github.com/guestpass/guestpass/pkg/store"
	"github.com/guestpass/guestpass/provider/pages"
)

// ClientID is the implied client whose authorization requests redeem
// links start (the "guestpass:" prefix is reserved for implied clients).
const ClientID = "guestpass:redeem"

// cookieName holds the redemption in progress (token and state), sealed.
const cookieName = "guestpass_redeem"

// cookieLifetime bounds a redemption in progress: the passcode's validity
// and some.
const cookieLifetime = time.Hour

// Invitations looks up and uses up redeem tokens (guests.Invitations).
type Invitations interface {
	Lookup(ctx context.Context, tenant, token string) (*guests.Invitation, error)
	Redeem(ctx context.Context, tenant, token string) (*guests.Invitation, error)
}

// Sessions reads the browser's session at the tenant (session.Manager).
type Sessions interface {
	Get(ctx context.Context, r *http.Request, tenant string) (*session.Session, error)
}

// Renderer renders the branded error page (pages.Renderer).
type Renderer interface {
	Render(w http.ResponseWriter, r *http.Request, page string, d pages.Data)
}

// Options build the Handler of one tenant.
type Options struct {
	Tenant   pages.Branding
	Issuer   string
	HashKey  []byte // the cookie keys (session.Options)
	BlockKey []byte
	Secure   bool

	Invitations Invitations
	Sessions    Sessions
	Pages       Renderer
	Logger      *zap.Logger
}

// Handler serves the redeem links of one tenant.
type Handler struct {
	o     Options
	codec *securecookie.SecureCookie
}

// New builds the handler.
func New(o Options) *Handler {
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	c := securecookie.New(o.HashKey, o.BlockKey)
	c.MaxAge(int(cookieLifetime / time.Second))
	return &Handler{o: o, codec: c}
}

// CallbackURL is the implied client's one redirect URI.
func CallbackURL(issuer string) string { return issuer + "/redeem/callback" }

// Routes are the handler's (method, tenant-relative path, handler).
func (h *Handler) Routes() map[string]http.HandlerFunc {
	return map[string]http.HandlerFunc{
		"GET /redeem/callback": h.callback,
		"GET /redeem/{token}":  h.start,
	}
}

// pending is the sealed cookie's content.
type pending struct {
	Token string `json:"t"`
	State string `json:"s"`
}

func (h *Handler) cookiePath() string { return "/" + h.o.Tenant.TenantID + "/redeem" }

// start checks the link and sends the browser to the tenant's authorize
// endpoint. Nothing is used up here: a mail scanner following the link
// spends nothing, and the guest can start again.
func (h *Handler) start(w http.ResponseWriter, r *http.Request) {
	token := r.PathValue("token")
	inv, err := h.o.Invitations.Lookup(r.Context(), h.o.Tenant.TenantID, token)
	if err != nil {
		h.invalid(w, r, err)
		return
	}
	state, challenge := random(), challengeOf(random())
	enc, err := h.codec.Encode(cookieName, pending{Token: token, State: state})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: enc, Path: h.cookiePath(), MaxAge: int(cookieLifetime / time.Second),
		HttpOnly: true, Secure: h.o.Secure, SameSite: http.SameSiteLaxMode})
	q := url.Values{
		"client_id": {ClientID}, "redirect_uri": {CallbackURL(h.o.Issuer)}, "response_type": {"code"},
		"scope": {"openid"}, "state": {state}, "login_hint": {inv.Canonical}, "prompt": {"login"},
		"code_challenge": {challenge}, "code_challenge_method": {"S256"},
	}
	for _, l := range r.URL.Query()["ui_locales"] {
		q.Set("ui_locales", l)
	}
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, "/"+h.o.Tenant.TenantID+"/authorize?"+q.Encode(), http.StatusFound)
}

// callback finishes a redemption: the browser's session must be the
// invited guest's, then the token is used up and the browser goes on.
// The authorization code is never exchanged (the session is the proof);
// it expires unused.
func (h *Handler) callback(w http.ResponseWriter, r *http.Request) {
	var p pending
	c, err := r.Cookie(cookieName)
	if err == nil {
		err = h.codec.Decode(cookieName, c.Value, &p)
	}
	q := r.URL.Query()
	if err != nil || p.State == "" || subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(p.State)) != 1 {
		h.o.Pages.Render(w, r, pages.PageError, pages.Data{Status: http.StatusBadRequest, Message: pages.MsgInvalidLink, Tenant: h.o.Tenant})
		return
	}
	if q.Get("code") == "" {
		// The sign-in was refused or abandoned (an error answer).
		h.o.Pages.Render(w, r, pages.PageError, pages.Data{Status: http.StatusForbidden, Message: pages.MsgInvalidLink, Tenant: h.o.Tenant})
		return
	}
	ctx := r.Context()
	inv, err := h.o.Invitations.Lookup(ctx, h.o.Tenant.TenantID, p.Token)
	if err != nil {
		h.invalid(w, r, err)
		return
	}
	s, err := h.o.Sessions.Get(ctx, r, h.o.Tenant.TenantID)
	if err != nil && !errors.Is(err, session.ErrNoSession) {
		h.fail(w, r, err)
		return
	}
	if s == nil || s.GuestID != inv.GuestID {
		h.o.Pages.Render(w, r, pages.PageError, pages.Data{Status: http.StatusForbidden, Message: pages.MsgInvitationOtherUser, Tenant: h.o.Tenant})
		return
	}
	if inv, err = h.o.Invitations.Redeem(ctx, h.o.Tenant.TenantID, p.Token); err != nil {
		h.invalid(w, r, err)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: "", Path: h.cookiePath(), MaxAge: -1,
		HttpOnly: true, Secure: h.o.Secure, SameSite: http.SameSiteLaxMode})
	h.o.Logger.Info("invitation redeemed", zap.String("tenant", h.o.Tenant.TenantID), zap.String("guest", inv.GuestID))
	to := inv.RedirectURL
	if to == "" {
		to = "/" + h.o.Tenant.TenantID + "/apps"
	}
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, to, http.StatusSeeOther)
}

// invalid answers a link that cannot be used: one page and one status
// (410) for unknown, used, expired and superseded links.
func (h *Handler) invalid(w http.ResponseWriter, r *http.Request, err error) {
	if !errors.Is(err, guests.ErrInvitationInvalid) {
		h.fail(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	h.o.Pages.Render(w, r, pages.PageError, pages.Data{Status: http.StatusGone, Message: pages.MsgInvitationInvalid, Tenant: h.o.Tenant})
}

func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	h.o.Logger.Error("redeem", zap.String("tenant", h.o.Tenant.TenantID), zap.Error(err))
	status := http.StatusInternalServerError
	if store.Down(err) {
		status = http.StatusServiceUnavailable
		w.Header().Set("Retry-After", "5")
	}
	h.o.Pages.Render(w, r, pages.PageError, pages.Data{Status: status, Message: pages.MsgUnavailable, Tenant: h.o.Tenant})
}

func random() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func challengeOf(verifier string) string {
	s := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(s[:])
}
