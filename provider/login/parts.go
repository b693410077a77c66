package login

import (
	"context"
	"net/http"
	"time"

	"github.com/guestpass/guestpass/pkg/guests"
	"github.com/guestpass/guestpass/pkg/mail"
	"github.com/guestpass/guestpass/pkg/session"
	"github.com/guestpass/guestpass/pkg/store"
	"github.com/guestpass/guestpass/provider/pages"
)

// The interfaces below are what the pages use of each part, already bound
// to the handler's tenant (guests.TenantRepo, session.TenantSessions, ...):
// the handler can then be built, and tested, from any parts that keep
// these promises, and reading them tells which calls the pages make.

// Guests is the tenant's guests as the pages read and record them
// (guests.TenantRepo).
type Guests interface {
	// Read is a guest (Record.Guest nil: none) as a read of a step's batch.
	Read(canonical string) *store.Read[guests.Record]
	// ReadSubject is the address a source's subject belongs to ("" none),
	// as a read of a step's batch.
	ReadSubject(source, subject string) *store.Read[string]
	// RecordSignInFrom records a sign-in starting from the record the
	// step read.
	RecordSignInFrom(ctx context.Context, rec guests.Record, canonical string, s guests.SignIn) (*guests.Guest, error)
	// MoveSignIn records a sign-in of the guest at from under canonical
	// (the upstream's address changed).
	MoveSignIn(ctx context.Context, from, canonical string, s guests.SignIn) (*guests.Guest, error)
	// AddressID names canonical in key names (a keyed hash): Redis key
	// names show in monitoring, slow logs and backups.
	AddressID(canonical string) string
}

// Sessions is the tenant's sessions as the pages start and end them
// (session.TenantSessions).
type Sessions interface {
	Read(r *http.Request) *store.Read[*session.Session]
	Prepare(s session.Session, lifetime time.Duration) (*session.Session, error)
	SaveOp(s *session.Session) *store.Op
	EndOp(r *http.Request) *store.Op
	SetCookie(w http.ResponseWriter, s *session.Session) error
}

// Flows is the browser's flow cookie, its CSRF tokens and the sealed
// state of its sign-in (session.TenantFlows).
type Flows interface {
	Ensure(w http.ResponseWriter, r *http.Request) (string, error)
	Get(r *http.Request) (string, error)
	CSRFToken(flow string) string
	CheckCSRF(flow, token string) bool
	SetState(w http.ResponseWriter, flow, key string, v any) error
	State(r *http.Request, flow, key string, v any) error
}

// Devices is the browser's device cookies (session.TenantDevices).
type Devices interface {
	ID(r *http.Request, address string) string
	Set(w http.ResponseWriter, address string) error
}

// MailRenderer renders the passcode mail (mail.Renderer).
type MailRenderer interface {
	Code(m mail.CodeMail) (mail.Message, error)
}

// PageRenderer renders the pages and picks their language (pages.Renderer).
type PageRenderer interface {
	Render(w http.ResponseWriter, r *http.Request, page string, d pages.Data)
	NegotiateUI(uiLocales []string, acceptLanguage string) string
	UILanguage(uiLocales []string) string
}

// The real parts keep the promises.
var (
	_ Guests       = (*guests.TenantRepo)(nil)
	_ Sessions     = (*session.TenantSessions)(nil)
	_ Flows        = (*session.TenantFlows)(nil)
	_ Devices      = (*session.TenantDevices)(nil)
	_ MailRenderer = (*mail.Renderer)(nil)
	_ PageRenderer = (*pages.Renderer)(nil)
)
