package login

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"

	"github.com/guestpass/guestpass/connectors"
	"github.com/guestpass/guestpass/pkg/canon"
	"github.com/guestpass/guestpass/pkg/guests"
	"github.com/guestpass/guestpass/pkg/session"
	"github.com/guestpass/guestpass/pkg/store"
	"github.com/guestpass/guestpass/provider/op"
	"github.com/guestpass/guestpass/provider/pages"
)

// signin is the state of one flow's sign-in for one auth request: which
// address the guest chose, and whether that address may sign in. It lives
// in a cookie sealed to tenant, flow and auth request (session.Flows.SetState).
//
// Sealing hides the content, not its length, so nothing in it may depend on
// whether the address is a known guest's (no enumeration, B4): it holds no
// stored spelling and no name (send and verify read the guest in the round
// trip they make anyway), and Allowed is of fixed width. For two addresses
// of one length the cookie has one length.
type signin struct {
	ClientID  string `json:"cl"`
	Canonical string `json:"c"`
	// Typed is what the pages show: the address as the guest typed it
	// (its domain in canonical form), whether or not it is a known
	// guest's, so the pages cannot tell the two apart (never the stored
	// spelling, which only an invited address has). Mail to an invited
	// guest goes to the stored address instead (B10).
	Typed   string `json:"t"`
	Allowed flag   `json:"a"`
	// Sent is set once the send step issued a code for this sign-in: a
	// repeated Send (a reload of its answer, a double submission, Back
	// then Send) then only shows the code page (see send). Of fixed width
	// and set for every address alike, like Allowed.
	Sent flag `json:"s"`
	// Lang is the page language the app asked for (ui_locales), "" for
	// the browser's: the pages after the email step do not read the
	// auth request.
	Lang string `json:"l,omitempty"`
}

// shown is the address the pages show.
func (s *signin) shown() string { return s.Typed }

// Start is the first step of a sign-in in /authorize's own answer
// (op.Starter): the batch that stores the request also reads what the
// step needs (the browser's session, the chain's switches).
func (h *Handler) Start(w http.ResponseWriter, r *http.Request, acc *op.Accepted) {
	sess, on := h.sessions.Read(r), h.readToggles()
	err := store.Batch(r.Context(), h.d.Store, append(append(acc.Ops, on.Ops()...), sess.Op())...)
	if !acc.Saved(w, r, err) {
		return
	}
	step, err := startResults(acc.Req, nil, sess, on)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.begin(w, r, step, false)
}

// start is the first step of a sign-in for a stored request named in the
// URL: a guest starting over ("Use another email"), a link, or an OP
// without a Starter.
func (h *Handler) start(w http.ResponseWriter, r *http.Request) {
	step, err := h.loadStart(r.Context(), r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if !h.checkRequest(w, r, step.req, step.reqErr, false) {
		return
	}
	h.begin(w, r, step, r.URL.Query().Get("restart") != "")
}

// begin is the first step: single sign-on, prompt handling, login_hint
// (unless the guest starts over), or the email page.
func (h *Handler) begin(w http.ResponseWriter, r *http.Request, step startStep, restart bool) {
	a := step.req
	if step.sess != nil && h.sessionSatisfies(a, step.sess) {
		bound, err := h.stillBound(r.Context(), step.sess)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		if bound {
			h.singleSignOn(w, r, a, step.sess, step.on)
			return
		}
		// Deleted or reset since the session began: the session no
		// longer speaks for a guest, a fresh sign-in decides.
	}
	if a.HasPrompt("none") {
		// No page and no mail: the app asked for a silent answer.
		h.d.OP.Fail(w, r, a, loginRequired())
		return
	}
	flow, err := h.flows.Ensure(w, r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if a.LoginHint != "" && !restart {
		if addr, err := canon.Email(a.LoginHint); err == nil {
			// A hinted address skips the email step but still shows the
			// send page: nothing is sent on a GET.
			h.continueHinted(w, r, a, flow, addr)
			return
		}
	}
	d := h.data(a.ID, a.ClientID, flow, "")
	d.Lang = h.d.Pages.UILanguage(a.UILocales)
	h.render(w, r, pages.PageEmail, d)
}

// singleSignOn completes a request from a live session, unless the
// session's connector was turned off (passcodes, B5; on was read with the
// session).
func (h *Handler) singleSignOn(w http.ResponseWriter, r *http.Request, a *op.AuthRequest, sess *session.Session, on connectors.Toggles) {
	if k := h.d.Chain.BySource(connectors.Source(sess.Source)); k != nil {
		ok, err := on.Enabled(r.Context(), k)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		if !ok {
			if a.HasPrompt("none") {
				// No page for a silent request: the app hears login_required.
				h.d.OP.Fail(w, r, a, loginRequired())
			} else {
				h.errorPage(w, r, http.StatusForbidden, pages.MsgOTPDisabled)
			}
			return
		}
	}
	flow, err := h.flows.Ensure(w, r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.complete(w, r, a, sess, flow)
}

// stillBound reports whether the session's guest still exists with the
// session's id and source. An admin's delete or reset (B5) must end single
// sign-on at once, not when the session expires: tokens are built from the
// session, so without this a deleted guest would keep signing in with the
// old sub and a reset otp guest would stay on otp. It costs the single
// sign-on path one round trip: the session names the address only once it
// is read, so the guest cannot join the start step's batch.
func (h *Handler) stillBound(ctx context.Context, sess *session.Session) (bool, error) {
	addr, err := canon.Email(sess.Email)
	if err != nil {
		return false, nil
	}
	rd := h.guests.Read(addr.Canonical)
	if err := store.Batch(ctx, h.d.Store, rd.Op()); err != nil {
		return false, err
	}
	rec, err := rd.Result()
	if err != nil {
		return false, err
	}
	g := rec.Guest
	return g != nil && g.ID == sess.GuestID && g.Source == sess.Source, nil
}

// sessionSatisfies applies prompt=login, max_age, id_token_hint and
// login_hint.
func (h *Handler) sessionSatisfies(a *op.AuthRequest, s *session.Session) bool {
	if a.HasPrompt("login") || a.HasPrompt("select_account") {
		return false
	}
	if h.d.Chain == nil || h.d.Chain.BySource(connectors.Source(s.Source)) == nil {
		// The session's connector was removed from the config: no silent
		// single sign-on on its word; a new sign-in decides (with
		// prompt=none, login_required).
		return false
	}
	if a.HintSubject != "" && a.HintSubject != s.GuestID {
		// The app believes someone else is signed in: never answer it
		// with this session's guest (a new sign-in, or login_required).
		return false
	}
	if a.MaxAge != nil && h.d.Clock().Sub(s.AuthTime) > time.Duration(*a.MaxAge)*time.Second {
		return false
	}
	if a.LoginHint != "" {
		if addr, err := canon.Email(a.LoginHint); err == nil {
			if c, err := canon.Email(s.Email); err == nil && c.Canonical != addr.Canonical {
				return false
			}
		}
	}
	return true
}

func (h *Handler) submitEmail(w http.ResponseWriter, r *http.Request) {
	flow, ok := h.checkPost(w, r)
	if !ok {
		return
	}
	typed := r.PostFormValue("email")
	addr, err := canon.Email(typed)
	// Every read of this step (request, guest, policy) in one round trip.
	step, lerr := h.loadEmail(r.Context(), r, addr.Canonical)
	if lerr != nil {
		h.fail(w, r, lerr)
		return
	}
	a := step.req
	if !h.checkRequest(w, r, a, step.reqErr, false) {
		return
	}
	if err != nil {
		// Give back what was typed (bounded) so the guest can correct it.
		d := h.data(a.ID, a.ClientID, flow, truncate(typed, 320))
		d.Lang = h.d.Pages.UILanguage(a.UILocales)
		d.Status = http.StatusBadRequest
		d.FieldError = pages.MsgEmailInvalid
		if typed == "" {
			d.FieldError = pages.MsgEmailRequired
		}
		h.render(w, r, pages.PageEmail, d)
		return
	}
	h.chooseAndContinue(w, r, a, flow, addr, step.guest, step.on)
}

// continueHinted is chooseAndContinue for a login_hint: the start page
// read neither the hinted guest nor (without a session) needed to, so
// this costs one round trip of its own.
func (h *Handler) continueHinted(w http.ResponseWriter, r *http.Request, a *op.AuthRequest, flow string, addr canon.Address) {
	g, on := h.guests.Read(addr.Canonical), h.readToggles()
	// The hint answers the email page on the guest's behalf: the request
	// gets a sign-in's lifetime here, as the email form gives it, so an
	// upstream it goes straight to has the time of a sign-in.
	touch := h.d.OP.TouchAuthRequestOp(a.ID)
	err := store.Batch(r.Context(), h.d.Store, append(on.Ops(), g.Op(), touch)...)
	var rec guests.Record
	var toggles connectors.Toggles
	if err == nil {
		rec, err = g.Result()
	}
	if err == nil {
		toggles, err = on.Result()
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.chooseAndContinue(w, r, a, flow, addr, rec, toggles)
}

var (
	errNoMethod    = errors.New("no sign-in method")
	errOTPDisabled = errors.New("passcodes are disabled")
)

// chooseAndContinue runs the redemption chain for an address, keeps the
// choice for this flow and goes on to the chosen connector's first page.
func (h *Handler) chooseAndContinue(w http.ResponseWriter, r *http.Request, a *op.AuthRequest, flow string, addr canon.Address, g guests.Record, on connectors.Toggles) {
	st, conn, err := h.choose(r.Context(), a, addr, g.Guest, on)
	switch {
	case errors.Is(err, errOTPDisabled):
		h.errorPage(w, r, http.StatusForbidden, pages.MsgOTPDisabled)
		return
	case errors.Is(err, errNoMethod):
		h.errorPage(w, r, http.StatusForbidden, pages.MsgNoMethod)
		return
	case err != nil:
		h.fail(w, r, err)
		return
	}
	h.continueWith(w, r, a, flow, st, conn)
}

// choose picks the method for an address (B2) from the values its step
// read: the guest (nil: none) and the chain's switches. Addresses that
// may not sign in go down the same path as invited ones (no enumeration):
// only Allowed differs, and it never shows.
func (h *Handler) choose(ctx context.Context, a *op.AuthRequest, addr canon.Address, g *guests.Guest, on connectors.Toggles) (*signin, connectors.Connector, error) {
	source := ""
	st := &signin{ClientID: a.ClientID, Canonical: addr.Canonical, Typed: addr.Display,
		Allowed: flag(h.t.SelfServiceSignUp), Lang: h.d.Pages.UILanguage(a.UILocales)}
	if g != nil {
		source, st.Allowed = g.Source, true
	}
	m, err := h.d.Chain.ResolveWith(ctx, addr.Canonical, connectors.Source(source), on)
	switch {
	case err != nil:
		return nil, nil, err
	case m.Kind == connectors.KindDisabled:
		return nil, nil, errOTPDisabled
	case m.Kind != connectors.KindConnector:
		return nil, nil, errNoMethod
	}
	return st, m.Connector, nil
}

// current reads the flow's chosen address for an auth request; without
// one the guest starts over at the email page.
func (h *Handler) current(w http.ResponseWriter, r *http.Request, authReq, flow string) (*signin, bool) {
	var st signin
	if err := h.flows.State(r, flow, authReq, &st); err != nil {
		http.Redirect(w, r, h.url("", authReq), http.StatusSeeOther)
		return nil, false
	}
	return &st, true
}

// currentPage reads, for a GET of a page after the email step, the auth
// request, the flow cookie and the flow's chosen address; without the
// cookie or the address the guest starts over at the email page.
func (h *Handler) currentPage(w http.ResponseWriter, r *http.Request) (authReq, flow string, st *signin, ok bool) {
	authReq = requestID(r)
	flow, err := h.flows.Get(r)
	if err != nil {
		http.Redirect(w, r, h.url("", authReq), http.StatusSeeOther)
		return "", "", nil, false
	}
	st, ok = h.current(w, r, authReq, flow)
	return authReq, flow, st, ok
}

// loginRequired is the answer to prompt=none without a usable session.
func loginRequired() error {
	return oidc.ErrLoginRequired().WithDescription("the user must sign in")
}
