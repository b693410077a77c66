// Package login serves a tenant's sign-in pages (PRODUCT.md B2, B3, B4):
// email entry, the redemption chain, send code, enter code, single sign-on
// and the signed-out page.
//
// Every page is reached with the OP's authRequestID. GETs only show
// pages; every action is a POST that needs the browser's flow cookie and
// the CSRF token derived from it, and answers 303 (RFC 9700). What the
// guest chose (the address) is kept in a cookie bound to tenant, flow and
// auth request, so moving between pages costs no store round trip.
package login

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"go.uber.org/zap"

	"github.com/guestpass/guestpass/connectors"
	"github.com/guestpass/guestpass/connectors/otp"
	"github.com/guestpass/guestpass/pkg/clientip"
	"github.com/guestpass/guestpass/pkg/guests"
	"github.com/guestpass/guestpass/pkg/mail"
	"github.com/guestpass/guestpass/pkg/metrics"
	"github.com/guestpass/guestpass/pkg/requestid"
	"github.com/guestpass/guestpass/pkg/session"
	"github.com/guestpass/guestpass/pkg/store"
	"github.com/guestpass/guestpass/provider/op"
	"github.com/guestpass/guestpass/provider/pages"
)

// OP is what the pages need of the tenant's OpenID provider.
type OP interface {
	AuthRequest(ctx context.Context, id string) (*op.AuthRequest, error)
	// Complete records who signed in, bound to the browser's flow: only
	// that browser can then collect the code.
	Complete(ctx context.Context, a *op.AuthRequest, ident op.Identity, flow string) error
	CallbackURL(id string) string
	// AuthRequestReadOp is AuthRequest's read, for store.Prefetch.
	AuthRequestReadOp(id string) *store.Op
	Fail(w http.ResponseWriter, r *http.Request, a *op.AuthRequest, err error)
	ClientName(id string) string
}

// Mailer queues mails for asynchronous delivery, one fair queue per
// tenant (mail.Dispatcher).
type Mailer interface {
	// Reserve holds a place in the tenant's queue, or fails at once
	// (mail.ErrQueueFull) so the page can say the code was not sent.
	Reserve(tenant string) (mail.Slot, error)
}

// Deps are the parts the handler is built from.
type Deps struct {
	Tenant Tenant
	OP     OP
	// Store is the request-observing store the other parts share; the
	// handler only uses it to prefetch a step's reads (store.Prefetch).
	Store    store.Store
	Guests   *guests.Repo
	Policies *guests.Policies
	Sessions *session.Manager
	Flows    *session.Flows
	// Devices reads and sets device cookies (a browser's own failure
	// budget for an address it signed in as).
	Devices *session.Devices
	// ClientIP tells the client's address for the limits per client.
	ClientIP clientip.Resolver
	// OTP is the passcode engine; the pages reach it through the chain's
	// code connector and use it here only to prefetch a step's reads.
	OTP *otp.Issuer
	// Chain is the tenant's connectors in order, the passcode last.
	Chain *connectors.Chain
	// BaseURL is the deployment's base URL: upstreams send the browser
	// back to {BaseURL}/{tenant}/login/callback.
	BaseURL string
	Mail    *mail.Renderer
	Mailer  Mailer
	Pages   *pages.Renderer
	Logger  *zap.Logger
	Metrics *metrics.Metrics
	Clock   func() time.Time
}

// Handler serves "/login...", "/apps" and "/logged-out" of one tenant (paths are
// tenant-relative).
type Handler struct {
	d      Deps
	t      Tenant
	policy otp.Policy
	base   string         // "/{tenant}/login"
	routes *http.ServeMux // Routes, for ServeHTTP
	// passcode is the chain's code connector (the email passcode).
	passcode connectors.CodeConnector
}

// New builds the handler.
func New(d Deps) *Handler {
	if d.Clock == nil {
		d.Clock = time.Now
	}
	h := &Handler{d: d, t: d.Tenant, policy: d.Tenant.EmailOTP.Policy, base: "/" + d.Tenant.ID + "/login",
		passcode: codeConnector(d.Chain)}
	h.routes = h.mux()
	return h
}

// ServeHTTP serves Routes at tenant-relative paths; the server mounts
// Routes under "/{tenant}" itself.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.routes.ServeHTTP(w, r) }

// apps lists the tenant's apps that have a home page (B1: an entry point
// guests can bookmark).
func (h *Handler) apps(w http.ResponseWriter, r *http.Request) {
	var list []pages.App
	for _, c := range h.t.Clients {
		if c.HomeURL != "" {
			list = append(list, pages.App{Name: h.d.OP.ClientName(c.ID), URL: c.HomeURL})
		}
	}
	h.render(w, r, pages.PageApps, pages.Data{Apps: list})
}

// loadRequest loads the auth request named in the query; on failure it
// has already answered. A request that is already signed in continues to
// the app unless allowDone (the verify form answers it itself).
func (h *Handler) loadRequest(w http.ResponseWriter, r *http.Request, allowDone bool) (*op.AuthRequest, bool) {
	return h.loadRequestID(w, r, r.URL.Query().Get("authRequestID"), allowDone)
}

// loadRequestID is loadRequest for an id found elsewhere (the upstream
// callback's state).
func (h *Handler) loadRequestID(w http.ResponseWriter, r *http.Request, id string, allowDone bool) (*op.AuthRequest, bool) {
	a, err := h.d.OP.AuthRequest(r.Context(), id)
	if errors.Is(err, op.ErrUnknownRequest) {
		h.errorPage(w, r, http.StatusBadRequest, pages.MsgExpiredRequest)
		return nil, false
	}
	if err != nil {
		h.fail(w, r, err)
		return nil, false
	}
	if a.Done() && !allowDone {
		http.Redirect(w, r, h.d.OP.CallbackURL(a.ID), http.StatusSeeOther)
		return nil, false
	}
	return a, true
}

// checkPost checks a form POST: the flow cookie and the CSRF token. On
// failure it has already answered, and nothing was changed.
func (h *Handler) checkPost(w http.ResponseWriter, r *http.Request) (string, bool) {
	if err := r.ParseForm(); err != nil {
		h.errorPage(w, r, http.StatusBadRequest, pages.MsgInvalidRequest)
		return "", false
	}
	flow, err := h.d.Flows.Get(r, h.t.ID)
	if err != nil || !h.d.Flows.CheckCSRF(h.t.ID, flow, r.PostFormValue("csrf")) {
		h.errorPage(w, r, http.StatusForbidden, pages.MsgCSRF)
		return "", false
	}
	return flow, true
}

// otpEnabled reads the tenant's passcode policy: the stored override (B5:
// every replica sees a change at once) or the YAML default.
func (h *Handler) otpEnabled(ctx context.Context) (bool, error) {
	return h.d.Policies.EmailOTPEnabled(ctx, h.t.ID, h.t.EmailOTP.Enabled)
}

// requireOTP answers with the otp_disabled page (or a 503) unless
// passcodes are on; it reports whether the caller may go on.
func (h *Handler) requireOTP(w http.ResponseWriter, r *http.Request) bool {
	on, err := h.otpEnabled(r.Context())
	if err != nil {
		h.fail(w, r, err)
		return false
	}
	if !on {
		h.errorPage(w, r, http.StatusForbidden, pages.MsgOTPDisabled)
	}
	return on
}

func (h *Handler) url(suffix, authReq string) string {
	return h.base + suffix + "?authRequestID=" + url.QueryEscape(authReq)
}

// data is what every sign-in page shows for auth request authReq.
// signinData is data for the pages after the email step: the address the
// guest typed and the language the app asked for, from the sealed cookie.
func (h *Handler) signinData(authReq, flow string, st *signin) pages.Data {
	d := h.data(authReq, st.ClientID, flow, st.shown())
	d.Lang = st.Lang
	return d
}

func (h *Handler) data(authReq, clientID, flow, email string) pages.Data {
	return pages.Data{
		Tenant:  h.t.Branding,
		AppName: h.d.OP.ClientName(clientID),
		CSRF:    h.d.Flows.CSRFToken(h.t.ID, flow),
		Email:   email,
		Actions: pages.Actions{
			Email:   h.url("/email", authReq),
			Send:    h.url("/send", authReq),
			Verify:  h.url("/verify", authReq),
			Resend:  h.url("/resend", authReq),
			Restart: h.url("", authReq) + "&restart=1",
		},
		Extra: map[string]string{"minutes": strconv.Itoa(int(h.policy.CodeTTL.Minutes()))},
	}
}

func (h *Handler) render(w http.ResponseWriter, r *http.Request, page string, d pages.Data) {
	if d.Tenant.TenantID == "" {
		d.Tenant = h.t.Branding
	}
	h.d.Pages.Render(w, r, page, d)
}

func (h *Handler) errorPage(w http.ResponseWriter, r *http.Request, status int, key pages.MessageKey) {
	h.render(w, r, pages.PageError, pages.Data{Status: status, Message: key})
}

// fail answers an unexpected error: 503 when the store is unreachable
// (the guest can retry), 500 otherwise; the details go to the log only.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, store.ErrUnavailable) || errors.Is(err, context.DeadlineExceeded) {
		h.d.Logger.Warn("store unavailable", requestid.Field(r.Context()), zap.Error(err))
		w.Header().Set("Retry-After", "5")
		h.errorPage(w, r, http.StatusServiceUnavailable, pages.MsgUnavailable)
		return
	}
	h.d.Logger.Error("sign-in failed", requestid.Field(r.Context()), zap.Error(err))
	h.errorPage(w, r, http.StatusInternalServerError, pages.MsgUnavailable)
}

// truncate bounds a value echoed back into a page.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
