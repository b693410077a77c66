// Package login serves a tenant's sign-in pages (PRODUCT.md B2, B3, B4):
// email entry, the redemption chain, send code, enter code, single sign-on
// and the signed-out page.
//
// Every page is reached with the OP's authRequestID. GETs only show
// pages; every action is a POST that needs the browser's flow cookie and
// the CSRF token derived from it, and answers 303 (RFC 9700), or with the
// next page itself where that saves a request and posting again is
// harmless or rate-limited (the email form, Send and Resend: see send).
// What the guest chose (the address) is kept in a cookie bound to tenant,
// flow and auth request, so moving between pages costs no store round
// trip.
package login

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/guestpass/guestpass/connectors"
	"github.com/guestpass/guestpass/connectors/otp"
	"github.com/guestpass/guestpass/pkg/clientip"
	"github.com/guestpass/guestpass/pkg/mail"
	"github.com/guestpass/guestpass/pkg/metrics"
	"github.com/guestpass/guestpass/pkg/requestid"
	"github.com/guestpass/guestpass/pkg/store"
	"github.com/guestpass/guestpass/provider/op"
	"github.com/guestpass/guestpass/provider/pages"
)

// OP is what the pages need of the tenant's OpenID provider.
type OP interface {
	// ReadAuthRequest reads a pending request (op.ErrUnknownRequest when
	// unknown or expired) in a step's batch.
	ReadAuthRequest(id string) *store.Read[*op.AuthRequest]
	// Complete records who signed in, bound to the browser's flow, and
	// mints the code, as ops of the step's last batch; its Answer then
	// sends the browser to the app.
	Complete(a *op.AuthRequest, ident op.Identity, flow string) (*op.Completion, error)
	// TouchAuthRequestOp extends a request's lifetime (a request nobody
	// follows is kept only briefly) as an op of the batch of the step
	// that answers its first page (the email form, a login_hint, a start
	// page opened by its URL); nil when the id cannot name a request.
	TouchAuthRequestOp(id string) *store.Op
	// CallbackURL is where a browser goes back to a request it completed.
	CallbackURL(id string) string
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
	// Store is the store the other parts share; each step sends its
	// batch of reads, and its last writes, to it in one Pipeline.
	Store store.Store
	// Guests, Sessions, Flows and Devices are bound to Tenant.ID
	// (guests.Repo.For, session.Manager.For, ...).
	Guests   Guests
	Sessions Sessions
	Flows    Flows
	// Devices reads and sets device cookies (a browser's own failure
	// budget for an address it signed in as).
	Devices Devices
	// ClientIP tells the client's address for the limits per client.
	ClientIP clientip.Resolver
	// Chain is the tenant's connectors in order, the passcode last: the
	// pages issue and verify codes only through it.
	Chain *connectors.Chain
	// BaseURL is the deployment's base URL: upstreams send the browser
	// back to {BaseURL}/{tenant}/login/callback.
	BaseURL string
	Mail    MailRenderer
	Mailer  Mailer
	Pages   PageRenderer
	Logger  *zap.Logger
	Metrics *metrics.Metrics
	Clock   func() time.Time
	// UpstreamTimeout bounds each call to a connector's backend (LoginURL,
	// HandleCallback, Login); zero is DefaultUpstreamTimeout.
	UpstreamTimeout time.Duration
}

// Handler serves "/login...", "/apps" and "/logged-out" of one tenant: its
// Routes, at tenant-relative paths, which the server mounts under
// "/{tenant}" on its own mux (no mux of its own: a start with a thousand
// tenants would build a thousand for nothing).
type Handler struct {
	d      Deps
	t      Tenant
	policy otp.Policy
	base   string // "/{tenant}/login"
	// passcode is the chain's code connector (the email passcode); nil
	// when the chain has none.
	passcode        Passcode
	upstreamTimeout time.Duration
	// The parts, bound to the tenant (Deps).
	guests   Guests
	sessions Sessions
	flows    Flows
	devices  Devices
}

// Passcode is the chain's code connector as the passcode steps use it
// (otp.Connector): a typed code is verified by an op sent in the step's
// one batch.
type Passcode interface {
	connectors.CodeConnector
	PrepareVerify(req connectors.CodeRequest, code string) (*otp.PendingVerify, error)
}

// The chain's passcode must be a Passcode, or the pages would find none.
var _ Passcode = (*otp.Connector)(nil)

// New builds the handler.
func New(d Deps) *Handler {
	if d.Clock == nil {
		d.Clock = time.Now
	}
	id := d.Tenant.ID
	h := &Handler{d: d, t: d.Tenant, policy: d.Tenant.EmailOTP.Policy, base: "/" + id + "/login",
		passcode: codeConnector(d.Chain), guests: d.Guests, sessions: d.Sessions,
		flows: d.Flows, devices: d.Devices}
	h.upstreamTimeout = d.UpstreamTimeout
	if h.upstreamTimeout <= 0 {
		h.upstreamTimeout = DefaultUpstreamTimeout
	}
	return h
}

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

// checkRequest answers for a request that could not be read (err, from
// the step's batch) or is already signed in (unless allowDone: the verify
// form answers that itself); it reports whether the caller may go on.
func (h *Handler) checkRequest(w http.ResponseWriter, r *http.Request, a *op.AuthRequest, err error, allowDone bool) bool {
	if errors.Is(err, op.ErrUnknownRequest) {
		h.errorPage(w, r, http.StatusBadRequest, pages.MsgExpiredRequest)
		return false
	}
	if err != nil {
		h.fail(w, r, err)
		return false
	}
	if a.Done() && !allowDone {
		http.Redirect(w, r, h.d.OP.CallbackURL(a.ID), http.StatusSeeOther)
		return false
	}
	return true
}

// checkPost checks a form POST: the flow cookie and the CSRF token. On
// failure it has already answered, and nothing was changed.
func (h *Handler) checkPost(w http.ResponseWriter, r *http.Request) (string, bool) {
	if err := r.ParseForm(); err != nil {
		h.errorPage(w, r, http.StatusBadRequest, pages.MsgInvalidRequest)
		return "", false
	}
	flow, err := h.flows.Get(r)
	if err != nil || !h.flows.CheckCSRF(flow, r.PostFormValue("csrf")) {
		h.errorPage(w, r, http.StatusForbidden, pages.MsgCSRF)
		return "", false
	}
	return flow, true
}

func (h *Handler) url(suffix, authReq string) string {
	return h.base + suffix + "?authRequestID=" + url.QueryEscape(authReq)
}

// actions are the passcode pages' URLs for authReq, each what url makes
// (Restart with "&restart=1"), cut from one string: every page of a
// sign-in carries the five, and one allocation builds them instead of
// nine.
func (h *Handler) actions(authReq string) pages.Actions {
	const param = "?authRequestID="
	q := url.QueryEscape(authReq)
	parts := [...]struct{ suffix, tail string }{{"/email", ""}, {"/send", ""}, {"/verify", ""}, {"/resend", ""}, {"", "&restart=1"}}
	n := 0
	for _, p := range parts {
		n += len(h.base) + len(p.suffix) + len(param) + len(q) + len(p.tail)
	}
	var b strings.Builder
	b.Grow(n)
	var ends [len(parts)]int
	for i, p := range parts {
		b.WriteString(h.base)
		b.WriteString(p.suffix)
		b.WriteString(param)
		b.WriteString(q)
		b.WriteString(p.tail)
		ends[i] = b.Len()
	}
	all := b.String()
	return pages.Actions{
		Email:   all[:ends[0]],
		Send:    all[ends[0]:ends[1]],
		Verify:  all[ends[1]:ends[2]],
		Resend:  all[ends[2]:ends[3]],
		Restart: all[ends[3]:ends[4]],
	}
}

// signinData is data for the pages after the email step: the address the
// guest typed and the language the app asked for, from the sealed cookie.
func (h *Handler) signinData(authReq, flow string, st *signin) pages.Data {
	d := h.data(authReq, st.ClientID, flow, st.shown())
	d.Lang = st.Lang
	return d
}

// data is what every sign-in page shows for auth request authReq.
func (h *Handler) data(authReq, clientID, flow, email string) pages.Data {
	return pages.Data{
		Tenant:  h.t.Branding,
		AppName: h.d.OP.ClientName(clientID),
		CSRF:    h.flows.CSRFToken(flow),
		Email:   email,
		// The pages are cached with the id as a placeholder (pages/cache.go).
		RequestID: authReq,
		Actions:   h.actions(authReq),
		Extra:     map[string]string{"minutes": strconv.Itoa(int(h.policy.CodeTTL.Minutes()))},
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
	if store.Down(err) {
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
