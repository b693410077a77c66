package login

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/guestpass/guestpass/connectors"
	"github.com/guestpass/guestpass/pkg/canon"
	"github.com/guestpass/guestpass/pkg/guests"
	"github.com/guestpass/guestpass/pkg/requestid"
	"github.com/guestpass/guestpass/provider/op"
	"github.com/guestpass/guestpass/provider/pages"
)

// The pages of the connectors other than the passcode: the password page
// (PasswordConnector) and the round trip through an upstream provider
// (CallbackConnector) that ends at {baseURL}/{tenant}/login/callback.

// connStep is the chosen connector's part of one sign-in, kept beside the
// signin state in its own sealed cookie (bound to tenant, flow and auth
// request): which connector, and for an upstream round trip the state's
// one-time secret and the connector's own state (PKCE verifier, nonce).
type connStep struct {
	Connector string `json:"k"`
	Secret    string `json:"s,omitempty"`
	Conn      []byte `json:"c,omitempty"`
}

// stepKey names the step cookie of an auth request.
func stepKey(authReq string) string { return "connector|" + authReq }

// codeConnector is the chain's code connector: the passcode (nil: none).
func codeConnector(c *connectors.Chain) Passcode {
	if c == nil {
		return nil
	}
	k, _ := c.BySource(connectors.SourceOTP).(Passcode)
	return k
}

// continueWith keeps the chosen address for this flow and goes on to the
// connector's first page: send code, password, or the upstream.
func (h *Handler) continueWith(w http.ResponseWriter, r *http.Request, a *op.AuthRequest, flow string, st *signin, conn connectors.Connector) {
	var next string
	var step connStep
	switch k := conn.(type) {
	case connectors.CodeConnector:
		next = h.url("/send", a.ID)
	case connectors.PasswordConnector:
		next, step = h.url("/password", a.ID), connStep{Connector: k.ID()}
	case connectors.CallbackConnector:
		var err error
		if next, step, err = h.upstream(r, a, st, k); err != nil {
			h.upstreamFailed(w, r, k, err)
			return
		}
	default:
		h.errorPage(w, r, http.StatusForbidden, pages.MsgNoMethod)
		return
	}
	if err := h.flows.SetState(w, flow, a.ID, st); err != nil {
		h.fail(w, r, err)
		return
	}
	if step.Connector != "" {
		if err := h.flows.SetState(w, flow, stepKey(a.ID), step); err != nil {
			h.fail(w, r, err)
			return
		}
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// upstream asks a callback connector where to send the browser. The state
// names the connector and the auth request, and carries a one-time secret
// that only this browser's step cookie knows: a state from another browser,
// a tampered one or a replayed one finds no match.
func (h *Handler) upstream(r *http.Request, a *op.AuthRequest, st *signin, k connectors.CallbackConnector) (string, connStep, error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", connStep{}, fmt.Errorf("upstream state: %w", err)
	}
	secret := base64.RawURLEncoding.EncodeToString(b)
	state := k.ID() + "." + a.ID + "." + secret
	to, connState, err := k.LoginURL(r.Context(), connectors.LoginRequest{
		CallbackURL: h.callbackURL(), State: state, LoginHint: st.Canonical,
		ForceLogin: a.HasPrompt("login") || (a.MaxAge != nil && *a.MaxAge == 0), MaxAge: maxAge(a), UILocales: a.UILocales,
	})
	if err != nil {
		return "", connStep{}, err
	}
	return to, connStep{Connector: k.ID(), Secret: secret, Conn: connState}, nil
}

// maxAge is the app's max_age as a duration, nil when it sent none.
func maxAge(a *op.AuthRequest) *time.Duration {
	if a.MaxAge == nil {
		return nil
	}
	d := time.Duration(*a.MaxAge) * time.Second
	return &d
}

// callbackURL is the one redirect URI of the tenant at every upstream.
func (h *Handler) callbackURL() string {
	return strings.TrimSuffix(h.d.BaseURL, "/") + h.base + "/callback"
}

// parseState splits "<connector>.<auth request>.<secret>". Connector ids
// are slugs, auth request ids UUIDs and the secret base64url: none holds
// a dot.
func parseState(s string) (connector, authReq, secret string, ok bool) {
	parts := strings.Split(s, ".")
	if len(parts) != 3 || parts[0] == "" || parts[1] == "" || parts[2] == "" {
		return "", "", "", false
	}
	return parts[0], parts[1], parts[2], true
}

// callback is where an upstream sends the browser back (GET, or POST for
// form_post).
func (h *Handler) callback(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		h.errorPage(w, r, http.StatusBadRequest, pages.MsgInvalidRequest)
		return
	}
	connID, authReq, secret, ok := parseState(r.Form.Get("state"))
	if !ok {
		h.errorPage(w, r, http.StatusBadRequest, pages.MsgInvalidRequest)
		return
	}
	flow, err := h.flows.Get(r)
	if err != nil {
		h.errorPage(w, r, http.StatusForbidden, pages.MsgCSRF)
		return
	}
	var step connStep
	err = h.flows.State(r, flow, stepKey(authReq), &step)
	if err != nil || step.Connector != connID || step.Secret == "" ||
		subtle.ConstantTimeCompare([]byte(step.Secret), []byte(secret)) != 1 {
		h.errorPage(w, r, http.StatusBadRequest, pages.MsgInvalidRequest)
		return
	}
	// One use: the secret is forgotten before anything else happens, so
	// the same answer cannot be played twice in this browser.
	if err := h.flows.SetState(w, flow, stepKey(authReq), connStep{Connector: connID}); err != nil {
		h.fail(w, r, err)
		return
	}
	st, ok := h.current(w, r, authReq, flow)
	if !ok {
		return
	}
	k, ok := h.d.Chain.ByID(connID).(connectors.CallbackConnector)
	if !ok {
		// Removed from the config while the guest was away.
		h.errorPage(w, r, http.StatusForbidden, pages.MsgNoMethod)
		return
	}
	// The request and the guest in one round trip, before the upstream
	// is asked.
	cs, err := h.loadConnector(r.Context(), authReq, st.Canonical)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	a := cs.req
	if !h.checkRequest(w, r, a, cs.reqErr, false) {
		return
	}
	ident, err := k.HandleCallback(r.Context(), step.Conn, r)
	if err != nil {
		h.upstreamFailed(w, r, k, err)
		return
	}
	h.finish(w, r, a, flow, st, cs.guest, k, ident, connectors.AMRFederated)
}

// passwordPage shows the password form of the flow's chosen address.
func (h *Handler) passwordPage(w http.ResponseWriter, r *http.Request) {
	authReq := r.URL.Query().Get("authRequestID")
	flow, err := h.flows.Get(r)
	if err != nil {
		http.Redirect(w, r, h.url("", authReq), http.StatusSeeOther)
		return
	}
	st, ok := h.current(w, r, authReq, flow)
	if !ok {
		return
	}
	if _, ok := h.passwordConnector(w, r, authReq, flow); !ok {
		return
	}
	h.render(w, r, pages.PagePassword, h.passwordData(authReq, flow, st))
}

func (h *Handler) passwordData(authReq, flow string, st *signin) pages.Data {
	d := h.signinData(authReq, flow, st)
	d.Actions.Password = h.url("/password", authReq)
	return d
}

// passwordConnector is the flow's chosen password connector; without one
// the guest starts over at the email page.
func (h *Handler) passwordConnector(w http.ResponseWriter, r *http.Request, authReq, flow string) (connectors.PasswordConnector, bool) {
	var step connStep
	if err := h.flows.State(r, flow, stepKey(authReq), &step); err == nil {
		if k, ok := h.d.Chain.ByID(step.Connector).(connectors.PasswordConnector); ok {
			return k, true
		}
	}
	http.Redirect(w, r, h.url("", authReq), http.StatusSeeOther)
	return nil, false
}

// submitPassword checks the password form. A wrong password and an unknown
// account get the same page (no enumeration).
func (h *Handler) submitPassword(w http.ResponseWriter, r *http.Request) {
	authReq, flow, st, ok := h.postStep(w, r)
	if !ok {
		return
	}
	k, ok := h.passwordConnector(w, r, authReq, flow)
	if !ok {
		return
	}
	// The request and the guest in one round trip, before the password
	// is checked.
	cs, err := h.loadConnector(r.Context(), authReq, st.Canonical)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	a := cs.req
	if !h.checkRequest(w, r, a, cs.reqErr, false) {
		return
	}
	d := h.passwordData(authReq, flow, st)
	password := r.PostFormValue("password")
	if password == "" {
		d.Status, d.FieldError = http.StatusBadRequest, "password_required"
		h.render(w, r, pages.PagePassword, d)
		return
	}
	ident, valid, err := k.Login(r.Context(), st.Canonical, password)
	if err != nil {
		h.upstreamFailed(w, r, k, err)
		return
	}
	if !valid {
		d.Status, d.FieldError = http.StatusBadRequest, "password_invalid"
		h.render(w, r, pages.PagePassword, d)
		return
	}
	h.finish(w, r, a, flow, st, cs.guest, k, ident, connectors.AMRPassword)
}

// errIdentity: a connector's identity that may not sign in as the address.
var errIdentity = errors.New("identity refused")

// accept checks a connector's identity against the address the guest is
// signing in as (B2): the same address canonically, and verified upstream.
// The answer is the page's message key.
func accept(ident connectors.Identity, canonical string) (pages.MessageKey, error) {
	got, err := canon.Email(ident.Email)
	if err != nil || got.Canonical != canonical {
		return pages.MsgUpstreamMismatch, errIdentity
	}
	if !ident.EmailVerified {
		return pages.MsgUpstreamUnverified, errIdentity
	}
	return "", nil
}

// finish signs in with a connector's identity, or refuses it with an error
// page and nothing recorded. rec is the guest as the step read it.
func (h *Handler) finish(w http.ResponseWriter, r *http.Request, a *op.AuthRequest, flow string, st *signin,
	rec guests.Record, k connectors.Connector, ident connectors.Identity, amr string) {
	if key, err := accept(ident, st.Canonical); err != nil {
		h.d.Logger.Info("connector identity refused", requestid.Field(r.Context()),
			zap.String("connector", k.ID()), zap.String("reason", string(key)))
		d := h.signinData(a.ID, flow, st)
		d.Status, d.Message = http.StatusForbidden, key
		h.render(w, r, pages.PageError, d)
		return
	}
	// Organisational accounts (a password connector: directory, LDAP) are
	// members of the tenant and need no invitation (B5); anyone else
	// signing in through an upstream needs one, or self-service sign-up.
	// Said only now, after the upstream vouched for the person, so the
	// redirect itself tells nobody whether an address is invited.
	if _, member := k.(connectors.PasswordConnector); !member && !bool(st.Allowed) {
		h.errorPage(w, r, http.StatusForbidden, pages.MsgNoMethod)
		return
	}
	h.signIn(w, r, a, flow, st, rec, k.Source(), ident, amr)
}

// upstreamFailed answers a connector whose backend failed or refused: a
// page saying sign-in with that account did not work; details to the log.
func (h *Handler) upstreamFailed(w http.ResponseWriter, r *http.Request, k connectors.Connector, err error) {
	h.d.Logger.Warn("connector failed", requestid.Field(r.Context()), zap.String("connector", k.ID()), zap.Error(err))
	h.errorPage(w, r, http.StatusBadGateway, pages.MsgUpstreamFailed)
}
