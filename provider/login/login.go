// Package login serves a tenant's sign-in pages (PRODUCT.md B2, B3, B4):
// email entry, the redemption chain, send code, enter code, single sign-on
// and the signed-out page.
//
// Every page is reached with the OP's authRequestID. GETs only show
// pages; every action is a POST that needs the browser's flow cookie and
// the CSRF token derived from it, and answers 303 (RFC 9700).
package login

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"go.uber.org/zap"

	"github.com/guestpass/guestpass/connectors"
	"github.com/guestpass/guestpass/connectors/otp"
	"github.com/guestpass/guestpass/pkg/canon"
	"github.com/guestpass/guestpass/pkg/config"
	"github.com/guestpass/guestpass/pkg/guests"
	"github.com/guestpass/guestpass/pkg/mail"
	"github.com/guestpass/guestpass/pkg/metrics"
	"github.com/guestpass/guestpass/pkg/session"
	"github.com/guestpass/guestpass/pkg/store"
	"github.com/guestpass/guestpass/provider/oidc"
	"github.com/guestpass/guestpass/provider/pages"
)

// OP is what the pages need of the tenant's OpenID provider.
type OP interface {
	AuthRequest(ctx context.Context, id string) (*oidc.AuthRequest, error)
	// Complete records who signed in, bound to the browser's flow: only
	// that browser can then collect the code.
	Complete(ctx context.Context, a *oidc.AuthRequest, ident oidc.Identity, flow string) error
	CallbackURL(id string) string
	Fail(w http.ResponseWriter, r *http.Request, a *oidc.AuthRequest, err error)
	ClientName(id string) string
}

// Mailer queues a mail for asynchronous delivery.
type Mailer interface {
	Enqueue(m mail.Message) error
}

// Deps are the parts the handler is built from.
type Deps struct {
	Tenant   config.Tenant
	OP       OP
	Store    store.Store
	Guests   *guests.Repo
	Policies *guests.Policies
	Sessions *session.Manager
	Flows    *session.Flows
	OTP      *otp.Issuer
	Chain    *connectors.Chain
	Mail     *mail.Renderer
	Mailer   Mailer
	Pages    *pages.Renderer
	Logger   *zap.Logger
	Metrics  *metrics.Metrics
	Clock    func() time.Time
}

// Handler serves "/login..." and "/logged-out" of one tenant (paths are
// tenant-relative).
type Handler struct {
	d      Deps
	t      config.Tenant
	policy otp.Policy
	base   string // "/{tenant}/login"
}

// New builds the handler.
func New(d Deps) *Handler {
	if d.Clock == nil {
		d.Clock = time.Now
	}
	return &Handler{d: d, t: d.Tenant, policy: otp.PolicyFrom(d.Tenant.EmailOTP), base: "/" + d.Tenant.ID + "/login"}
}

// signin is the state of one flow's sign-in for one auth request: which
// address the guest chose, and whether that address may sign in.
type signin struct {
	Canonical string `json:"c"`
	Email     string `json:"e"` // where mail goes: the stored address
	Name      string `json:"n,omitempty"`
	Allowed   bool   `json:"a"`
}

const signinTTL = time.Hour

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/login":
		h.only(w, r, http.MethodGet, h.start)
	case "/login/email":
		h.only(w, r, http.MethodPost, h.submitEmail)
	case "/login/send":
		if r.Method == http.MethodPost {
			h.send(w, r)
			return
		}
		h.only(w, r, http.MethodGet, h.sendPage)
	case "/login/code":
		h.only(w, r, http.MethodGet, h.codePage)
	case "/login/verify":
		h.only(w, r, http.MethodPost, h.verify)
	case "/login/resend":
		h.only(w, r, http.MethodPost, h.send)
	case "/logged-out":
		h.only(w, r, http.MethodGet, func(w http.ResponseWriter, r *http.Request) {
			h.render(w, r, pages.PageSignedOut, pages.Data{Message: "signed_out"})
		})
	default:
		h.errorPage(w, r, http.StatusNotFound, "invalid_request")
	}
}

func (h *Handler) only(w http.ResponseWriter, r *http.Request, method string, f http.HandlerFunc) {
	if r.Method != method && !(method == http.MethodGet && r.Method == http.MethodHead) {
		w.Header().Set("Allow", method)
		h.errorPage(w, r, http.StatusMethodNotAllowed, "invalid_request")
		return
	}
	f(w, r)
}

// request loads the auth request named in the query; on failure it has
// already answered.
func (h *Handler) request(w http.ResponseWriter, r *http.Request) (*oidc.AuthRequest, bool) {
	return h.loadRequest(w, r, false)
}

// loadRequest is request; with allowDone a completed request is returned
// rather than answered with a redirect to the callback.
func (h *Handler) loadRequest(w http.ResponseWriter, r *http.Request, allowDone bool) (*oidc.AuthRequest, bool) {
	id := r.URL.Query().Get("authRequestID")
	a, err := h.d.OP.AuthRequest(r.Context(), id)
	if errors.Is(err, oidc.ErrUnknownRequest) {
		h.errorPage(w, r, http.StatusBadRequest, "expired_request")
		return nil, false
	}
	if err != nil {
		h.fail(w, r, err)
		return nil, false
	}
	if a.Done() && !allowDone {
		// Already signed in for this request: continue to the app.
		http.Redirect(w, r, h.d.OP.CallbackURL(a.ID), http.StatusSeeOther)
		return nil, false
	}
	return a, true
}

// start is where the OP sends the browser: single sign-on, prompt
// handling, login_hint, or the email page.
func (h *Handler) start(w http.ResponseWriter, r *http.Request) {
	a, ok := h.request(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	sess, err := h.d.Sessions.Get(ctx, r, h.t.ID)
	if err != nil && !errors.Is(err, session.ErrNoSession) {
		h.fail(w, r, err)
		return
	}
	if sess != nil && h.sessionSatisfies(a, sess) {
		if sess.Source == connectors.SourceOTP {
			on, err := h.otpEnabled(ctx)
			if err != nil {
				h.fail(w, r, err)
				return
			}
			if !on {
				h.errorPage(w, r, http.StatusForbidden, "otp_disabled")
				return
			}
		}
		flow, err := h.d.Flows.Ensure(w, r, h.t.ID)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		h.complete(w, r, a, sess, flow)
		return
	}
	if a.HasPrompt("none") {
		// No page and no mail: the app asked for a silent answer.
		h.d.OP.Fail(w, r, a, oidcLoginRequired())
		return
	}
	flow, err := h.d.Flows.Ensure(w, r, h.t.ID)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if a.LoginHint != "" && r.URL.Query().Get("restart") == "" {
		if addr, err := canon.Email(a.LoginHint); err == nil {
			// A hinted address skips the email step but still shows the
			// send page: nothing is sent on a GET.
			if err := h.choose(ctx, flow, a, addr); err != nil {
				h.afterChooseError(w, r, a, flow, addr.Display, err)
				return
			}
			http.Redirect(w, r, h.url("/send", a.ID), http.StatusSeeOther)
			return
		}
	}
	h.render(w, r, pages.PageEmail, h.data(a, flow, ""))
}

// sessionSatisfies applies prompt=login, max_age and login_hint.
func (h *Handler) sessionSatisfies(a *oidc.AuthRequest, s *session.Session) bool {
	if a.HasPrompt("login") || a.HasPrompt("select_account") {
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
	a, flow, ok := h.post(w, r)
	if !ok {
		return
	}
	typed := r.PostFormValue("email")
	addr, err := canon.Email(typed)
	if err != nil {
		// Give back what was typed (bounded) so the guest can correct it.
		d := h.data(a, flow, truncate(typed, 320))
		d.Status = http.StatusBadRequest
		d.FieldError = "email_invalid"
		if typed == "" {
			d.FieldError = "email_required"
		}
		h.render(w, r, pages.PageEmail, d)
		return
	}
	if err := h.choose(r.Context(), flow, a, addr); err != nil {
		h.afterChooseError(w, r, a, flow, addr.Display, err)
		return
	}
	http.Redirect(w, r, h.url("/send", a.ID), http.StatusSeeOther)
}

var (
	errNoMethod    = errors.New("no sign-in method")
	errOTPDisabled = errors.New("passcodes are disabled")
)

// choose runs the redemption chain for an address and remembers the
// choice for this flow. Addresses that may not sign in go down the same
// path as invited ones (no enumeration): only Allowed differs.
func (h *Handler) choose(ctx context.Context, flow string, a *oidc.AuthRequest, addr canon.Address) error {
	g, err := h.d.Guests.Get(ctx, h.t.ID, addr.Canonical)
	if err != nil && !errors.Is(err, guests.ErrNotFound) {
		return err
	}
	source := ""
	st := signin{Canonical: addr.Canonical, Email: addr.Display, Allowed: h.t.SelfServiceSignUp}
	if g != nil {
		source, st.Email, st.Name, st.Allowed = g.Source, g.Email, g.DisplayName, true
	}
	on, err := h.otpEnabled(ctx)
	if err != nil {
		return err
	}
	m := h.d.Chain.Resolve(addr.Canonical, source, on)
	switch m.Kind {
	case connectors.KindOTP:
	case connectors.KindOTPDisabled:
		return errOTPDisabled
	default:
		// Other connector kinds arrive with their own issue; until then
		// an address they claim has no usable method here.
		return errNoMethod
	}
	b, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("encode sign-in: %w", err)
	}
	return h.d.Store.Set(ctx, h.signinKey(flow, a.ID), b, signinTTL)
}

func (h *Handler) afterChooseError(w http.ResponseWriter, r *http.Request, a *oidc.AuthRequest, flow, email string, err error) {
	switch {
	case errors.Is(err, errOTPDisabled):
		h.errorPage(w, r, http.StatusForbidden, "otp_disabled")
	case errors.Is(err, errNoMethod):
		h.errorPage(w, r, http.StatusForbidden, "no_method")
	default:
		h.fail(w, r, err)
	}
}

func (h *Handler) signinKey(flow, authReq string) string {
	f := sha256.Sum256([]byte(flow))
	return store.Key(h.t.ID, "signin", hex.EncodeToString(f[:16]), authReq)
}

// current loads the flow's chosen address; without one the guest starts over.
func (h *Handler) current(w http.ResponseWriter, r *http.Request, a *oidc.AuthRequest, flow string) (*signin, bool) {
	b, err := h.d.Store.Get(r.Context(), h.signinKey(flow, a.ID))
	if errors.Is(err, store.ErrNotFound) {
		http.Redirect(w, r, h.url("", a.ID), http.StatusSeeOther)
		return nil, false
	}
	if err != nil {
		h.fail(w, r, err)
		return nil, false
	}
	var st signin
	if err := json.Unmarshal(b, &st); err != nil {
		h.fail(w, r, fmt.Errorf("decode sign-in: %w", err))
		return nil, false
	}
	return &st, true
}

func (h *Handler) sendPage(w http.ResponseWriter, r *http.Request) {
	a, ok := h.request(w, r)
	if !ok {
		return
	}
	flow, err := h.d.Flows.Get(r, h.t.ID)
	if err != nil {
		http.Redirect(w, r, h.url("", a.ID), http.StatusSeeOther)
		return
	}
	st, ok := h.current(w, r, a, flow)
	if !ok {
		return
	}
	h.render(w, r, pages.PageSend, h.data(a, flow, st.Email))
}

// send issues a code (first send and resend). A code is issued for every
// address, invited or not, so that both cost the same and hit the same
// limits; only an address that may sign in is mailed.
func (h *Handler) send(w http.ResponseWriter, r *http.Request) {
	a, flow, ok := h.post(w, r)
	if !ok {
		return
	}
	st, ok := h.current(w, r, a, flow)
	if !ok {
		return
	}
	ctx := r.Context()
	on, err := h.otpEnabled(ctx)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if !on {
		h.errorPage(w, r, http.StatusForbidden, "otp_disabled")
		return
	}
	code, err := h.d.OTP.Issue(ctx, h.policy, h.t.ID, challenge(flow, a.ID), st.Canonical)
	if retry, ok := otp.RetryAfter(err); ok {
		h.d.Metrics.RateLimited.WithLabelValues("cooldown").Inc()
		d := h.data(a, flow, st.Email)
		d.Status, d.Message = http.StatusTooManyRequests, "cooldown"
		d.Extra["retryAfter"] = strconv.Itoa(int(retry.Round(time.Second).Seconds()))
		w.Header().Set("Retry-After", d.Extra["retryAfter"])
		h.render(w, r, pages.PageCode, d)
		return
	}
	if errors.Is(err, otp.ErrTooManyCodes) {
		h.d.Metrics.RateLimited.WithLabelValues("hourly_cap").Inc()
		d := h.data(a, flow, st.Email)
		d.Status, d.Message = http.StatusTooManyRequests, "too_many_codes"
		h.render(w, r, pages.PageCode, d)
		return
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if st.Allowed {
		h.mailCode(r, a, st, code)
	}
	http.Redirect(w, r, h.url("/code", a.ID), http.StatusSeeOther)
}

func (h *Handler) mailCode(r *http.Request, a *oidc.AuthRequest, st *signin, code string) {
	m, err := h.d.Mail.Code(mail.CodeMail{
		Lang:        h.d.Pages.Negotiate(r.Header.Get("Accept-Language")),
		To:          st.Email,
		TenantName:  h.t.DisplayName,
		AppName:     h.d.OP.ClientName(a.ClientID),
		Code:        code,
		AccentColor: h.t.Branding.AccentColor,
		Validity:    h.policy.CodeTTL,
	})
	if err == nil {
		err = h.d.Mailer.Enqueue(m)
	}
	if err != nil {
		// The page stays the same: the guest can resend.
		h.d.Logger.Warn("passcode mail not queued", zap.String("to", canon.MaskEmail(st.Email)), zap.Error(err))
	}
}

func (h *Handler) codePage(w http.ResponseWriter, r *http.Request) {
	a, ok := h.request(w, r)
	if !ok {
		return
	}
	flow, err := h.d.Flows.Get(r, h.t.ID)
	if err != nil {
		http.Redirect(w, r, h.url("", a.ID), http.StatusSeeOther)
		return
	}
	st, ok := h.current(w, r, a, flow)
	if !ok {
		return
	}
	h.render(w, r, pages.PageCode, h.data(a, flow, st.Email))
}

func (h *Handler) verify(w http.ResponseWriter, r *http.Request) {
	a, flow, ok := h.postRequest(w, r, true)
	if !ok {
		return
	}
	st, ok := h.current(w, r, a, flow)
	if !ok {
		return
	}
	ctx := r.Context()
	d := h.data(a, flow, st.Email)
	if a.Done() {
		// A code was already accepted for this request (a replay, or a
		// submission racing the winning one): the answer of a used code,
		// never a second trip to the app (B3: exactly one success).
		d.Status, d.FieldError = http.StatusBadRequest, "code_invalid"
		h.render(w, r, pages.PageCode, d)
		return
	}
	code, err := canon.Code(r.PostFormValue("code"))
	if err != nil {
		d.Status, d.FieldError = http.StatusBadRequest, "code_format"
		h.render(w, r, pages.PageCode, d)
		return
	}
	on, err := h.otpEnabled(ctx)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if !on {
		h.errorPage(w, r, http.StatusForbidden, "otp_disabled")
		return
	}
	err = h.d.OTP.Verify(ctx, h.policy, h.t.ID, challenge(flow, a.ID), st.Canonical, code)
	if err == nil && !st.Allowed {
		// Unreachable but by a lucky guess: such an address was never
		// mailed. It gets the answer of a wrong code.
		err = otp.ErrInvalid
	}
	h.d.Metrics.Verifications.WithLabelValues(otp.Outcome(err)).Inc()
	switch {
	case errors.Is(err, otp.ErrLocked):
		h.d.Metrics.Lockouts.Inc()
		d.Status, d.FieldError = http.StatusTooManyRequests, "locked"
		h.render(w, r, pages.PageCode, d)
		return
	case errors.Is(err, otp.ErrInvalid):
		d.Status, d.FieldError = http.StatusBadRequest, "code_invalid"
		h.render(w, r, pages.PageCode, d)
		return
	case err != nil:
		h.fail(w, r, err)
		return
	}
	g, err := h.d.Guests.RecordSignIn(ctx, h.t.ID, st.Canonical, st.Email, connectors.SourceOTP, st.Name)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	// The sign-in record is left to expire (signinTTL): a submission racing
	// this one must still find it and get the used-code answer above
	// rather than a restart that leads to the callback.
	// A fresh session id on every sign-in (no fixation); the old session
	// of this browser, if any, is ended.
	if old, err := h.d.Sessions.Get(ctx, r, h.t.ID); err == nil && old != nil {
		_ = h.d.Sessions.DeleteByID(ctx, h.t.ID, old.ID)
	}
	sess, err := h.d.Sessions.Create(ctx, w, h.t.ID, session.Session{
		GuestID: g.ID, Email: g.Email, Name: g.DisplayName, Source: connectors.SourceOTP,
		AMR: []string{"otp"}, AuthTime: h.d.Clock().UTC(),
	}, h.t.Session.Lifetime)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.d.Metrics.SignIns.WithLabelValues(connectors.SourceOTP).Inc()
	h.complete(w, r, a, sess, flow)
}

// complete hands the identity to the OP and sends the browser on to it.
func (h *Handler) complete(w http.ResponseWriter, r *http.Request, a *oidc.AuthRequest, s *session.Session, flow string) {
	err := h.d.OP.Complete(r.Context(), a, oidc.Identity{
		Subject: s.GuestID, Email: s.Email, Name: s.Name, Source: s.Source,
		AMR: s.AMR, AuthTime: s.AuthTime, SessionID: PublicSessionID(s.ID),
	}, flow)
	if errors.Is(err, oidc.ErrUnknownRequest) {
		h.errorPage(w, r, http.StatusBadRequest, "expired_request")
		return
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	http.Redirect(w, r, h.d.OP.CallbackURL(a.ID), http.StatusSeeOther)
}

// PublicSessionID is the sid claim: derived from the session id, so the
// app can tell sessions apart without holding the secret id itself.
func PublicSessionID(id string) string {
	s := sha256.Sum256([]byte("sid|" + id))
	return hex.EncodeToString(s[:16])
}

func challenge(flow, authReq string) string { return flow + "|" + authReq }

// post checks a form POST: the auth request, the flow cookie and the CSRF
// token. On failure it has already answered, and nothing was changed.
func (h *Handler) post(w http.ResponseWriter, r *http.Request) (*oidc.AuthRequest, string, bool) {
	return h.postRequest(w, r, false)
}

// postRequest is post; allowDone as in loadRequest.
func (h *Handler) postRequest(w http.ResponseWriter, r *http.Request, allowDone bool) (*oidc.AuthRequest, string, bool) {
	if err := r.ParseForm(); err != nil {
		h.errorPage(w, r, http.StatusBadRequest, "invalid_request")
		return nil, "", false
	}
	a, ok := h.loadRequest(w, r, allowDone)
	if !ok {
		return nil, "", false
	}
	flow, err := h.d.Flows.Get(r, h.t.ID)
	if err != nil || !h.d.Flows.CheckCSRF(h.t.ID, flow, r.PostFormValue("csrf")) {
		h.errorPage(w, r, http.StatusForbidden, "csrf")
		return nil, "", false
	}
	return a, flow, true
}

func (h *Handler) otpEnabled(ctx context.Context) (bool, error) {
	return h.d.Policies.EmailOTPEnabled(ctx, h.t.ID, h.t.EmailOTP.Enabled)
}

func (h *Handler) url(suffix, authReq string) string {
	return h.base + suffix + "?authRequestID=" + url.QueryEscape(authReq)
}

func (h *Handler) branding() pages.Branding {
	return pages.Branding{TenantID: h.t.ID, DisplayName: h.t.DisplayName,
		LogoURL: h.t.Branding.LogoURL, AccentColor: h.t.Branding.AccentColor}
}

func (h *Handler) data(a *oidc.AuthRequest, flow, email string) pages.Data {
	return pages.Data{
		Tenant:  h.branding(),
		AppName: h.d.OP.ClientName(a.ClientID),
		CSRF:    h.d.Flows.CSRFToken(h.t.ID, flow),
		Email:   email,
		Actions: map[string]string{
			"email":   h.url("/email", a.ID),
			"send":    h.url("/send", a.ID),
			"verify":  h.url("/verify", a.ID),
			"resend":  h.url("/resend", a.ID),
			"restart": h.url("", a.ID) + "&restart=1",
		},
		Extra: map[string]string{"minutes": strconv.Itoa(int(h.policy.CodeTTL.Minutes()))},
	}
}

func (h *Handler) render(w http.ResponseWriter, r *http.Request, page string, d pages.Data) {
	if d.Tenant.TenantID == "" {
		d.Tenant = h.branding()
	}
	h.d.Pages.Render(w, r, page, d)
}

func (h *Handler) errorPage(w http.ResponseWriter, r *http.Request, status int, key string) {
	h.render(w, r, pages.PageError, pages.Data{Status: status, Message: key})
}

// fail answers an unexpected error: 503 when the store is unreachable
// (the guest can retry), 500 otherwise; the details go to the log only.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, store.ErrUnavailable) || errors.Is(err, context.DeadlineExceeded) {
		h.d.Logger.Warn("store unavailable", zap.Error(err))
		w.Header().Set("Retry-After", "5")
		h.errorPage(w, r, http.StatusServiceUnavailable, "unavailable")
		return
	}
	h.d.Logger.Error("sign-in failed", zap.Error(err))
	h.errorPage(w, r, http.StatusInternalServerError, "unavailable")
}

// truncate bounds a value echoed back into a page.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
