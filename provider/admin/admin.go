// Package admin serves a tenant's admin API under /{tenant}/admin/v1/
// (PRODUCT.md B5, "Admin API contract"): invitations, guests and the
// passcode policy, for bearer access tokens that the tenant's OP issued
// through client_credentials to an admin client. Every change writes one
// audit log line naming the client, the action and the guest id (never an
// address).
package admin

import (
	"context"
	"net/http"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/guestpass/guestpass/pkg/guests"
	"github.com/guestpass/guestpass/pkg/mail"
	"github.com/guestpass/guestpass/pkg/store"
)

// MaxBodyBytes caps a request body: the largest valid one (an invitation)
// is well under 1 KiB.
const MaxBodyBytes = 64 << 10

// Verifier checks a bearer token (op.Tenant.VerifyAdminToken): the client
// id, or ErrTokenInvalid / ErrNotAdmin as given in Options, or another
// error for a store failure.
type Verifier interface {
	VerifyAdminToken(ctx context.Context, raw string) (clientID string, scopes []string, err error)
}

// Guests is what the API does with guest records (guests.TenantRepo).
type Guests interface {
	GetByID(ctx context.Context, id string) (*guests.Guest, error)
	Invite(ctx context.Context, canonical, email, displayName string) (*guests.Guest, bool, error)
	Page(ctx context.Context, f guests.Filter, size int, cursor string) ([]*guests.Guest, string, error)
	Delete(ctx context.Context, id string) error
	ResetRedemption(ctx context.Context, id string) (*guests.Guest, error)
}

// Invitations issues and voids redeem tokens (guests.Invitations).
type Invitations interface {
	Issue(ctx context.Context, tenant string, g *guests.Guest, redirectURL string, ttl time.Duration) (string, error)
	Void(ctx context.Context, tenant, guestID string) error
}

// Policies reads and writes the stored policy overrides (policy.Policies).
type Policies interface {
	EmailOTPOverride(ctx context.Context, tenant string) (enabled, set bool, err error)
	SetEmailOTP(ctx context.Context, tenant string, enabled bool) error
	ClearEmailOTP(ctx context.Context, tenant string) error
}

// MailRenderer renders the invitation mail (mail.Renderer).
type MailRenderer interface {
	Invite(m mail.InviteMail) (mail.Message, error)
}

// Mailer holds a place in the tenant's mail queue (mail.Dispatcher).
type Mailer interface {
	Reserve(tenant string) (mail.Slot, error)
}

// Options build a Handler for one tenant.
type Options struct {
	Tenant      string
	DisplayName string
	AccentColor string
	// Issuer is the tenant's issuer URL; redeem links and the
	// WWW-Authenticate realm are built from it.
	Issuer string
	// InvitationTTL is how long a redeem link is valid.
	InvitationTTL time.Duration
	// EmailOTPDefault is the YAML's emailOTP.enabled.
	EmailOTPDefault bool
	// InviterNames are the admin clients' configured names by client id:
	// the invitation mail says who invited the guest (DisplayName, the
	// organisation, for a client without a name).
	InviterNames map[string]string

	Verifier    Verifier
	Guests      Guests
	Invitations Invitations
	Policies    Policies
	Mail        MailRenderer
	Mailer      Mailer
	// ErrTokenInvalid and ErrNotAdmin are the Verifier's two refusals
	// (the op package's), told apart for 401 and 403.
	ErrTokenInvalid, ErrNotAdmin error
	Logger                       *zap.Logger
}

// Handler serves the admin API of one tenant; paths are relative to
// /{tenant}/admin/v1.
type Handler struct {
	o   Options
	mux *http.ServeMux
}

// New builds the handler.
func New(o Options) *Handler {
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	h := &Handler{o: o, mux: http.NewServeMux()}
	h.route("/invitations", methods{http.MethodPost: h.invite})
	h.route("/guests", methods{http.MethodGet: h.list})
	h.route("/guests/{id}", methods{http.MethodGet: h.get, http.MethodDelete: h.delete})
	h.route("/guests/{id}/reset", methods{http.MethodPost: h.reset})
	h.route("/policy", methods{http.MethodGet: h.getPolicy, http.MethodPut: h.setPolicy, http.MethodDelete: h.clearPolicy})
	h.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "not_found", "no such admin API path")
	})
	return h
}

// call is one authorised request: the admin client's id.
type call struct {
	client string
	// requestID ties the audit line to the request's other log lines.
	requestID string
}

type endpoint func(w http.ResponseWriter, r *http.Request, c call)

type methods map[string]endpoint

// route registers path for its methods: the token is checked before
// anything else (a 405 must not tell an anonymous caller more than a 401),
// and another method gets 405 with Allow.
func (h *Handler) route(path string, m methods) {
	allow := allowHeader(m)
	h.mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
		c, ok := h.authorise(w, r)
		if !ok {
			return
		}
		fn := m[r.Method]
		if fn == nil {
			w.Header().Set("Allow", allow)
			writeError(w, http.StatusMethodNotAllowed, "method_not_allowed", r.Method+" is not allowed here; use "+allow)
			return
		}
		fn(w, r, c)
	})
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	h.mux.ServeHTTP(w, r)
}

// storeFailed answers an error that is not the caller's.
func (h *Handler) storeFailed(w http.ResponseWriter, r *http.Request, what string, err error) {
	h.o.Logger.Error("admin API: "+what, zap.String("tenant", h.o.Tenant), zap.Error(err))
	if isUnavailable(err) {
		w.Header().Set("Retry-After", "5")
		writeError(w, http.StatusServiceUnavailable, "temporarily_unavailable", "the store is unavailable; try again")
		return
	}
	writeError(w, http.StatusInternalServerError, "server_error", "internal error")
}

// audit writes the one line every change leaves: who, what, which guest.
func (h *Handler) audit(c call, action, guestID string, fields ...zap.Field) {
	fs := append([]zap.Field{zap.String("tenant", h.o.Tenant), zap.String("client", c.client),
		zap.String("action", action), zap.String("request_id", c.requestID)}, fields...)
	if guestID != "" {
		fs = append(fs, zap.String("guest", guestID))
	}
	h.o.Logger.Info("admin audit", fs...)
}

func isUnavailable(err error) bool { return store.Down(err) }

// allowHeader lists m's methods in a stable order for Allow.
func allowHeader(m methods) string {
	var out []string
	for _, name := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete} {
		if m[name] != nil {
			out = append(out, name)
		}
	}
	return strings.Join(out, ", ")
}
