package login

import (
	"context"
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
	"github.com/guestpass/guestpass/pkg/store"
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
	// Canonical is the address the connector was chosen for: a step
	// cookie left from an earlier choice in this flow must not apply the
	// connector to the address chosen since.
	Canonical string `json:"a"`
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
	var sendPage bool // the answer is the send page itself (below)
	switch k := conn.(type) {
	case connectors.CodeConnector:
		sendPage = true
	case connectors.PasswordConnector:
		next, step = h.url("/password", a.ID), connStep{Connector: k.ID(), Canonical: st.Canonical}
	case connectors.CallbackConnector:
		var err error
		if next, step, err = h.upstream(r, a, st, k); err != nil {
			h.upstreamFailed(w, r, a.ID, k, err)
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
	if sendPage {
		// The send page itself, not a redirect to it: showing it reads
		// nothing (the choice is in the cookie set above), and the
		// redirect cost every sign-in a request. Posting the email form
		// again is harmless (it only reads), so no Post/Redirect/Get.
		h.render(w, r, pages.PageSend, h.signinData(a.ID, flow, st))
		return
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
	var to string
	var connState []byte
	err := h.callUpstream(r.Context(), k, func(ctx context.Context) (err error) {
		to, connState, err = k.LoginURL(ctx, connectors.LoginRequest{
			CallbackURL: h.callbackURL(), State: state, LoginHint: st.Canonical,
			ForceLogin: a.HasPrompt("login") || (a.MaxAge != nil && *a.MaxAge == 0), MaxAge: maxAge(a), UILocales: a.UILocales,
		})
		return err
	})
	if err != nil {
		return "", connStep{}, err
	}
	return to, connStep{Connector: k.ID(), Canonical: st.Canonical, Secret: secret, Conn: connState}, nil
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

// callbackPost turns an upstream's form_post answer into the GET the
// callback serves: a cross-site POST arrives without the SameSite=Lax flow
// cookies, a top-level GET navigation carries them. It reads no cookie,
// sets none and checks nothing; the GET does all of that.
func (h *Handler) callbackPost(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxCallbackForm)
	if err := r.ParseForm(); err != nil {
		h.errorPage(w, r, http.StatusBadRequest, pages.MsgInvalidRequest)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, h.base+"/callback?"+r.Form.Encode(), http.StatusSeeOther)
}

// maxCallbackForm bounds a form_post answer (an ID token, a code, a state).
const maxCallbackForm = 64 << 10

// callback is where an upstream sends the browser back (GET; a form_post
// answer arrives here through callbackPost).
func (h *Handler) callback(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	connID, authReq, secret, ok := parseState(q.Get("state"))
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
	if err := h.flows.SetState(w, flow, stepKey(authReq), connStep{Connector: connID, Canonical: step.Canonical}); err != nil {
		h.fail(w, r, err)
		return
	}
	st, ok := h.current(w, r, authReq, flow)
	if !ok {
		return
	}
	if step.Canonical != st.Canonical {
		// A step of an earlier choice in this flow: the guest chose
		// another address since.
		h.errorPage(w, r, http.StatusBadRequest, pages.MsgInvalidRequest)
		return
	}
	k, ok := h.d.Chain.ByID(connID).(connectors.CallbackConnector)
	if !ok {
		// Removed from the config while the guest was away.
		h.errorPage(w, r, http.StatusForbidden, pages.MsgNoMethod)
		return
	}
	var ident connectors.Identity
	err = h.callUpstream(r.Context(), k, func(ctx context.Context) (err error) {
		ident, err = k.HandleCallback(ctx, step.Conn, r)
		return err
	})
	if err != nil {
		h.upstreamFailed(w, r, authReq, k, err)
		return
	}
	// The request, the guest, the chain's switches and the guest the
	// upstream subject belongs to in one round trip, once the upstream
	// has answered (the subject is known only then; the state's one-time
	// secret already tied the answer to this browser).
	cs, err := h.loadConnector(r.Context(), authReq, st.Canonical, nil, h.guests.ReadSubject(k.Source().String(), ident.UserID))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	a := cs.req
	if !h.checkRequest(w, r, a, cs.reqErr, false) || !h.stillChosen(w, r, st, cs, k) {
		return
	}
	h.finish(w, r, a, flow, st, cs, k, ident, connectors.AMRFederated)
}

// stillChosen re-runs the chain for the address with the guest and the
// switches the step read: the connector of the step cookie must still be
// the one the chain picks (the guest may have been bound to another
// source, or the connector may no longer claim the address). Otherwise
// it answers the no-method page and reports false.
func (h *Handler) stillChosen(w http.ResponseWriter, r *http.Request, st *signin, cs connectorStep, k connectors.Connector) bool {
	source := ""
	if cs.guest.Guest != nil {
		source = cs.guest.Guest.Source
	}
	m, err := h.d.Chain.ResolveWith(r.Context(), st.Canonical, connectors.Source(source), cs.on)
	if err != nil {
		h.fail(w, r, err)
		return false
	}
	if m.Kind != connectors.KindConnector || m.Connector.ID() != k.ID() {
		h.errorPage(w, r, http.StatusForbidden, pages.MsgNoMethod)
		return false
	}
	return true
}

// passwordPage shows the password form of the flow's chosen address.
func (h *Handler) passwordPage(w http.ResponseWriter, r *http.Request) {
	authReq, flow, st, ok := h.currentPage(w, r)
	if !ok {
		return
	}
	if _, ok := h.passwordConnector(w, r, authReq, flow, st); !ok {
		return
	}
	h.render(w, r, pages.PagePassword, h.passwordData(authReq, flow, st))
}

func (h *Handler) passwordData(authReq, flow string, st *signin) pages.Data {
	d := h.signinData(authReq, flow, st)
	d.Actions.Password = h.url("/password", authReq)
	return d
}

// passwordConnector is the flow's chosen password connector for the flow's
// current address; without one (or with a step of an earlier address) the
// guest starts over at the email page.
func (h *Handler) passwordConnector(w http.ResponseWriter, r *http.Request, authReq, flow string, st *signin) (connectors.PasswordConnector, bool) {
	var step connStep
	if err := h.flows.State(r, flow, stepKey(authReq), &step); err == nil && step.Canonical == st.Canonical {
		if k, ok := h.d.Chain.ByID(step.Connector).(connectors.PasswordConnector); ok {
			return k, true
		}
	}
	http.Redirect(w, r, h.url("", authReq), http.StatusSeeOther)
	return nil, false
}

// submitPassword checks the password form. A wrong password and an unknown
// account get the same page (no enumeration), and so does an address over
// its attempt budget (see attempts.go).
func (h *Handler) submitPassword(w http.ResponseWriter, r *http.Request) {
	authReq, flow, st, ok := h.postStep(w, r)
	if !ok {
		return
	}
	k, ok := h.passwordConnector(w, r, authReq, flow, st)
	if !ok {
		return
	}
	d := h.passwordData(authReq, flow, st)
	password := r.PostFormValue("password")
	if password == "" {
		d.Status, d.FieldError = http.StatusBadRequest, pages.MsgPasswordRequired
		h.render(w, r, pages.PagePassword, d)
		return
	}
	// The request, the guest, the switches and this attempt, counted, in
	// one round trip, before the password is checked.
	device := h.devices.ID(r, st.Canonical)
	cs, err := h.loadConnector(r.Context(), authReq, st.Canonical, countAttempt(h.t.ID, h.guests.AddressID(st.Canonical), device), nil)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	a := cs.req
	if !h.checkRequest(w, r, a, cs.reqErr, false) || !h.stillChosen(w, r, st, cs, k) {
		return
	}
	if cs.attempts > int64(h.policy.MaxFailuresPerHour) {
		// The connector is not asked: the same answer for every address.
		h.d.Metrics.PasswordLockouts.Inc()
		d.Status, d.FieldError = http.StatusTooManyRequests, pages.MsgPasswordLocked
		h.render(w, r, pages.PagePassword, d)
		return
	}
	var ident connectors.Identity
	var valid bool
	err = h.callUpstream(r.Context(), k, func(ctx context.Context) (err error) {
		ident, valid, err = k.Login(ctx, st.Canonical, password)
		return err
	})
	if err != nil {
		h.upstreamFailed(w, r, a.ID, k, err)
		return
	}
	if !valid {
		d.Status, d.FieldError = http.StatusBadRequest, pages.MsgPasswordInvalid
		h.render(w, r, pages.PagePassword, d)
		return
	}
	if cs.guest.Guest == nil {
		// No guest at this address: the subject may be a known guest's
		// whose address changed in the directory. Known only after
		// Login, so one read of its own, on a member's first sign-in.
		rd := h.guests.ReadSubject(k.Source().String(), ident.UserID)
		if err := store.Batch(r.Context(), h.d.Store, rd.Op()); err == nil {
			cs.subjectAt, err = rd.Result()
		}
		if err != nil {
			h.fail(w, r, err)
			return
		}
	}
	h.finish(w, r, a, flow, st, cs, k, ident, connectors.AMRPassword)
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
// page and nothing recorded. cs is what the step read: the guest at the
// address and the address the identity's subject is known at.
func (h *Handler) finish(w http.ResponseWriter, r *http.Request, a *op.AuthRequest, flow string, st *signin,
	cs connectorStep, k connectors.Connector, ident connectors.Identity, amr string) {
	if key, err := accept(ident, st.Canonical); err != nil {
		h.d.Logger.Info("connector identity refused", requestid.Field(r.Context()),
			zap.String("connector", k.ID()), zap.String("reason", string(key)))
		d := h.signinData(a.ID, flow, st)
		d.Status, d.Message = http.StatusForbidden, key
		h.render(w, r, pages.PageError, d)
		return
	}
	// The person's address changed upstream: the guest they were is found
	// by the subject (only when no guest holds the new address).
	moveFrom := ""
	if cs.guest.Guest == nil && cs.subjectAt != "" && cs.subjectAt != st.Canonical {
		moveFrom = cs.subjectAt
	}
	// Organisational accounts (a password connector: directory, LDAP) are
	// members of the tenant and need no invitation (B5); anyone else
	// signing in through an upstream needs one, or self-service sign-up,
	// or to be a guest already under an earlier address. Said only now,
	// after the upstream vouched for the person, so the redirect itself
	// tells nobody whether an address is invited.
	_, member := k.(connectors.PasswordConnector)
	if !member && !bool(st.Allowed) && moveFrom == "" {
		h.errorPage(w, r, http.StatusForbidden, pages.MsgNoMethod)
		return
	}
	if member {
		// As after a passcode: this browser keeps a failure budget of its
		// own for the address, out of a stranger's reach.
		if err := h.devices.Set(w, st.Canonical); err != nil {
			h.d.Logger.Warn("device cookie not set", requestid.Field(r.Context()), zap.Error(err))
		}
	}
	if moveFrom != "" {
		h.moveAndSignIn(w, r, a, flow, st, moveFrom, k, ident, amr, member)
		return
	}
	h.signIn(w, r, a, flow, st, cs.guest, k.Source(), ident, amr)
}

// moveAndSignIn signs in the guest found by subject at the address from
// under its new address. A hint gone stale (that guest no longer carries
// the subject) or an address taken meanwhile falls back to the ordinary
// sign-in at the new address, under its rules.
func (h *Handler) moveAndSignIn(w http.ResponseWriter, r *http.Request, a *op.AuthRequest, flow string, st *signin,
	from string, k connectors.Connector, ident connectors.Identity, amr string, member bool) {
	source := k.Source()
	g, err := h.guests.MoveSignIn(r.Context(), from, st.Canonical,
		guests.SignIn{Email: st.Typed, Source: source.String(), DisplayName: ident.Name, Subject: ident.UserID})
	if errors.Is(err, guests.ErrNotFound) || errors.Is(err, guests.ErrAddressTaken) {
		if !member && !bool(st.Allowed) {
			h.errorPage(w, r, http.StatusForbidden, pages.MsgNoMethod)
			return
		}
		h.signIn(w, r, a, flow, st, guests.Record{}, source, ident, amr)
		return
	}
	if !h.recorded(w, r, st, source, err) {
		return
	}
	h.d.Logger.Info("guest address changed at the source", requestid.Field(r.Context()),
		zap.String("source", source.String()), zap.String("guest", g.ID))
	h.startSession(w, r, a, flow, g, source, ident, amr)
}

// upstreamFailed answers a connector whose backend failed or refused with
// a page naming the organisation (Connector.Name) and, when it could not be
// reached, a link to try the sign-in of the same request again; the
// details go to the log only.
func (h *Handler) upstreamFailed(w http.ResponseWriter, r *http.Request, authReq string, k connectors.Connector, err error) {
	outcome := upstreamOutcome(err)
	// The error is an upstream's or a library's text and may quote the
	// address it failed on (an LDAP filter, a DN): masked here, whatever
	// logger this is.
	h.d.Logger.Warn("connector failed", requestid.Field(r.Context()), zap.String("connector", k.ID()),
		zap.String("outcome", outcome), zap.String("error", canon.MaskAddresses(err.Error())))
	d := pages.Data{Extra: map[string]string{"name": k.Name()}}
	switch outcome {
	case outcomeUnreachable:
		d.Status, d.Message = http.StatusServiceUnavailable, pages.MsgUpstreamUnreachable
		d.Actions.Retry = h.url("", authReq)
	case outcomeDenied:
		d.Status, d.Message = http.StatusForbidden, pages.MsgUpstreamDenied
		d.Actions.Retry = h.url("", authReq)
	default:
		d.Status, d.Message = http.StatusBadGateway, pages.MsgUpstreamBadResponse
	}
	h.render(w, r, pages.PageError, d)
}
