// Package connectors decides how a guest is authenticated (PRODUCT.md B2):
// the contract a connector implements, the sources recorded on guests, the
// Chain that picks one connector for an address, and the Registry that
// opens a tenant's connectors from its configuration.
//
// As in Dex (connector/connector.go), a connector implements only what it
// can do, and the login pages discover its capabilities with a type
// switch: a password page for a PasswordConnector, a redirect to the
// upstream and back for a CallbackConnector, and the send-code and
// enter-code pages for a CodeConnector (the email passcode, the chain's
// last member).
package connectors

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/guestpass/guestpass/pkg/store"
)

// Connector is one configured way to authenticate.
type Connector interface {
	// ID is the configured id, unique in a tenant; it names the connector
	// in the upstream callback's state.
	ID() string
	// Name is the configured display name ("Fabrikam accounts"): the
	// pages name it, e.g. when it could not be reached.
	Name() string
	// Source is what is recorded on a guest who signs in through it.
	Source() Source
	// Claims reports whether this connector authenticates the canonical
	// address (PRODUCT.md B2 step 3: by its domains).
	Claims(canonical string) bool
}

// Identity is what a connector established about the person.
type Identity struct {
	// UserID is the subject at the upstream (stable across email changes
	// there); the address itself for connectors that have no other.
	UserID string
	// Email is the address the upstream vouches for. It must equal the
	// address the guest is signing in as, canonically, and EmailVerified
	// must be true, or the sign-in is refused (B2).
	Email         string
	EmailVerified bool
	// Name is the display name, "" when the upstream has none.
	Name string
	// AuthTime is when the person last authenticated at the upstream (its
	// ID token's auth_time); zero means now, at this sign-in.
	AuthTime time.Time
}

// Errors a connector returns, wrapped with %w, so that the login pages can
// answer each kind and count it (errors.Is):
var (
	// ErrUnreachable: the backend (LDAP server, upstream provider) did not
	// answer in time or at all. The page names the organisation that
	// could not be reached and offers a retry.
	ErrUnreachable = errors.New("connector: backend unreachable")
	// ErrDenied: the person declined or the upstream refused the sign-in
	// (an OAuth error=access_denied, a disabled account).
	ErrDenied = errors.New("connector: sign-in denied upstream")
	// ErrBadResponse: the backend answered something that cannot be
	// trusted or used (a token that fails verification, a nonce or state
	// that does not match, a malformed answer).
	ErrBadResponse = errors.New("connector: bad answer from backend")
)

// AMR values (RFC 8176) the login pages record for each capability.
const (
	AMRPassword  = "pwd" // a PasswordConnector
	AMRFederated = "fed" // a CallbackConnector
	AMRPasscode  = "otp" // a CodeConnector
)

// PasswordConnector checks a password typed on guestpass's own password
// page (directory, LDAP).
type PasswordConnector interface {
	Connector
	// Login checks password for the canonical address. A wrong password
	// and an unknown user both answer validPassword false with a nil
	// error, and take the same time (an unknown user is checked against a
	// dummy hash), so the page cannot tell them apart (no enumeration);
	// err is for an unreachable or misbehaving backend only (ErrUnreachable,
	// ErrBadResponse). The login pages count attempts before calling it
	// (the passcode's discipline) and bound ctx with a deadline.
	Login(ctx context.Context, canonical, password string) (ident Identity, validPassword bool, err error)
}

// CallbackConnector sends the browser to an upstream provider, which sends
// it back to the tenant's one callback URL.
type CallbackConnector interface {
	Connector
	// LoginURL is where to send the browser (see LoginRequest). connState
	// is what the connector needs again on the callback (a PKCE verifier,
	// a nonce): the login pages keep it in a sealed cookie bound to the
	// browser's flow and give it back to HandleCallback. Discovery, if
	// any, is cached; ctx carries a deadline.
	LoginURL(ctx context.Context, req LoginRequest) (url string, connState []byte, err error)
	// HandleCallback completes the sign-in from the upstream's answer at
	// the tenant's callback URL: r's query (GET). The login pages turn a
	// form_post answer into that GET first (a cross-site POST carries no
	// SameSite=Lax cookie), so connectors ask for response_mode=query or
	// the default. An error=... answer from the upstream is ErrDenied.
	HandleCallback(ctx context.Context, connState []byte, r *http.Request) (Identity, error)
}

// LoginRequest is what a CallbackConnector needs to build the upstream
// authorization request.
type LoginRequest struct {
	// CallbackURL is the tenant's one redirect URI,
	// {baseURL}/{tenant}/login/callback.
	CallbackURL string
	// State must come back unchanged on the callback; it names the
	// connector and is bound to the browser's flow by the login pages.
	State string
	// LoginHint is the address the guest is signing in as (forward it as
	// login_hint).
	LoginHint string
	// ForceLogin asks the upstream to authenticate the person again
	// (prompt=login; the app asked for prompt=login or max_age=0).
	ForceLogin bool
	// MaxAge, when not nil, is the app's max_age: forward it.
	MaxAge *time.Duration
	// UILocales are the app's ui_locales, to forward.
	UILocales []string
}

// CodeConnector proves control of the address with a code sent to it (the
// email one-time passcode). Issuing is split in two so that the login pages
// can run the issue in one store round trip together with their own reads:
// PrepareCode draws the code and returns its pending store work. Checking a
// typed code is the kind's own op in the enter-code step's batch
// (otp.Connector.PrepareVerify, which login.Passcode requires), so the
// contract has no one-call verification that the pages would not use.
type CodeConnector interface {
	Connector
	PrepareCode(req CodeRequest) (PendingCode, error)
}

// PendingCode is a code drawn but not yet stored: Op is the store work (run
// once, alone or in a pipeline), Result the code once it has run, or why
// none was issued (a cooldown, a cap, the store's error).
type PendingCode interface {
	Op() *store.Op
	Result() (code string, err error)
}

// CodeRequest names one code: the address, and what it is bound to.
type CodeRequest struct {
	// Canonical is the canonical address the code is for.
	Canonical string
	// Challenge binds the code to one sign-in of one browser.
	Challenge string
	// Flow is the browser's flow id and ClientIP the client's key, for
	// the limits beyond one address.
	Flow, ClientIP string
	// Device is the browser's device id for this address ("" for none):
	// its own failure budget.
	Device string
}

// Toggled is implemented by connectors that can be turned off at run time
// (the passcode, by the tenant's policy). A disabled connector claims no
// new address, and a guest bound to it hears that it is off.
type Toggled interface {
	Enabled(ctx context.Context) (bool, error)
}

// BatchToggled is a Toggled connector whose switch a login step can read
// in its one batch of reads (Chain.ReadToggles) instead of a round trip
// of its own.
type BatchToggled interface {
	Toggled
	ReadEnabled() *store.Read[bool]
}

// DomainOf returns the domain of a canonical address.
func DomainOf(canonical string) string {
	if i := strings.LastIndexByte(canonical, '@'); i >= 0 {
		return canonical[i+1:]
	}
	return ""
}

// OptionsOf is a factory's s.Options as a T, given as a T or a *T (a nil
// *T is the zero T). Any other type is an error that names both types.
func OptionsOf[T any](s Spec) (T, error) {
	var o T
	switch v := s.Options.(type) {
	case T:
		o = v
	case *T:
		if v != nil {
			o = *v
		}
	default:
		return o, fmt.Errorf("options of type %T, want %T", s.Options, o)
	}
	return o, nil
}
