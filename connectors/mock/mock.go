// Package mock has fake connectors for tests, in the spirit of Dex's
// connector/mock: a password connector with users in memory, and a
// callback connector whose "upstream" sends the browser straight back to
// the callback URL. They let the login pages' branches (password page,
// upstream redirect and callback, sticky sources, refused identities) run
// before any real upstream exists. They are never registered in the
// production binary (server.Builtin); tests register them.
package mock

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sync"

	"github.com/guestpass/guestpass/connectors"
)

// Types under which tests register the mocks.
const (
	TypePassword = "mockPassword"
	TypeCallback = "mockCallback"
)

// claims is a domain list a test may change while a server runs (a domain
// claimed only later, for the sticky-source rules).
type claims struct {
	mu      sync.Mutex
	domains connectors.Domains
}

func (c *claims) Claims(canonical string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.domains.Claims(canonical)
}

// SetDomains replaces the claimed domains.
func (c *claims) SetDomains(domains ...string) {
	c.mu.Lock()
	c.domains = slices.Clone(domains)
	c.mu.Unlock()
}

// faults make a mock's backend fail the way a real one can, for the pages'
// failure answers, and count the calls that reached it.
type faults struct {
	mu    sync.Mutex
	err   error
	hang  bool
	calls int
}

// SetErr makes every later backend call answer err (nil: work again).
func (f *faults) SetErr(err error) {
	f.mu.Lock()
	f.err = err
	f.mu.Unlock()
}

// SetHang makes every later backend call wait until its context ends, as
// an upstream that never answers (false: answer again).
func (f *faults) SetHang(on bool) {
	f.mu.Lock()
	f.hang = on
	f.mu.Unlock()
}

// Calls is how many backend calls (Login, LoginURL, HandleCallback) were
// made.
func (f *faults) Calls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

// ErrNoDeadline: a hanging mock was called without a deadline, which would
// have hung the request for ever; it answers at once so the test fails
// instead of hanging.
var ErrNoDeadline = errors.New("mock: backend called without a deadline")

// enter counts a call and answers the fault set, if any.
func (f *faults) enter(ctx context.Context) error {
	f.mu.Lock()
	f.calls++
	err, hang := f.err, f.hang
	f.mu.Unlock()
	if hang {
		if _, ok := ctx.Deadline(); !ok {
			return ErrNoDeadline
		}
		<-ctx.Done()
		return fmt.Errorf("%w: %w", connectors.ErrUnreachable, ctx.Err())
	}
	return err
}

// base is what both mocks share: id, source, claimed domains and faults.
type base struct {
	claims
	faults
	spec connectors.Spec
}

func (b *base) ID() string                { return b.spec.ID }
func (b *base) Name() string              { return b.spec.Name }
func (b *base) Source() connectors.Source { return connectors.SourceOf(b.spec.Type, b.spec.ID) }

// User is an account of the password mock, or the identity the callback
// mock's upstream vouches for.
type User struct {
	Password string
	// Identity is what a successful sign-in establishes. A zero Email
	// means the address signed in with, verified.
	Identity connectors.Identity
}

// identity fills the defaults of u's identity for canonical.
func (u User) identity(canonical string) connectors.Identity {
	id := u.Identity
	if id.Email == "" {
		id.Email, id.EmailVerified = canonical, true
	}
	if id.UserID == "" {
		id.UserID = "mock|" + canonical
	}
	return id
}

// directory is a user table a test may change.
type directory struct {
	mu    sync.Mutex
	users map[string]User
}

// SetUser adds or replaces the account of a canonical address.
func (d *directory) SetUser(canonical string, u User) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.users == nil {
		d.users = map[string]User{}
	}
	d.users[canonical] = u
}

func (d *directory) user(canonical string) (User, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	u, ok := d.users[canonical]
	return u, ok
}

// Password is a PasswordConnector with users in memory.
type Password struct {
	base
	directory
}

// NewPassword returns a password mock for a spec, claiming its domains.
func NewPassword(s connectors.Spec) *Password {
	p := &Password{base: base{spec: s}}
	p.SetDomains(s.Domains...)
	return p
}

// Login checks the password. An unknown address and a wrong password give
// the same answer (no enumeration).
func (p *Password) Login(ctx context.Context, canonical, password string) (connectors.Identity, bool, error) {
	if err := p.enter(ctx); err != nil {
		return connectors.Identity{}, false, err
	}
	u, ok := p.user(canonical)
	if !ok || subtle.ConstantTimeCompare([]byte(u.Password), []byte(password)) != 1 {
		return connectors.Identity{}, false, nil
	}
	return u.identity(canonical), true, nil
}

// Callback is a CallbackConnector whose upstream answers at once: LoginURL
// is the callback URL itself, carrying the state, the hinted address as
// the "code", and a nonce that HandleCallback checks against the
// per-request connector state it was given back.
type Callback struct {
	base
	directory
}

// NewCallback returns a callback mock for a spec, claiming its domains.
func NewCallback(s connectors.Spec) *Callback {
	c := &Callback{base: base{spec: s}}
	c.SetDomains(s.Domains...)
	return c
}

// LoginURL returns callbackURL?state=…&code=<loginHint>&nonce=…; the nonce
// is also the connector state.
func (c *Callback) LoginURL(ctx context.Context, req connectors.LoginRequest) (string, []byte, error) {
	if err := c.enter(ctx); err != nil {
		return "", nil, err
	}
	u, err := url.Parse(req.CallbackURL)
	if err != nil {
		return "", nil, err
	}
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", nil, err
	}
	nonce := base64.RawURLEncoding.EncodeToString(b)
	q := u.Query()
	q.Set("state", req.State)
	q.Set("code", req.LoginHint)
	q.Set("nonce", nonce)
	u.RawQuery = q.Encode()
	return u.String(), []byte(nonce), nil
}

// ErrNonce: the callback's nonce is not the one LoginURL made for this
// browser's sign-in.
var ErrNonce = errors.New("mock: nonce does not match the sign-in")

// ErrUnknownUser: the "code" names no address (an upstream refusing).
var ErrUnknownUser = errors.New("mock: no such user")

// HandleCallback reads the query (GET) or the form (POST, form_post) and
// vouches for the address in "code": a user set with SetUser gives its
// identity, any other address is vouched for as itself, verified.
func (c *Callback) HandleCallback(ctx context.Context, connState []byte, r *http.Request) (connectors.Identity, error) {
	if err := c.enter(ctx); err != nil {
		return connectors.Identity{}, err
	}
	if err := r.ParseForm(); err != nil {
		return connectors.Identity{}, err
	}
	nonce := r.Form.Get("nonce")
	if len(connState) == 0 || subtle.ConstantTimeCompare(connState, []byte(nonce)) != 1 {
		return connectors.Identity{}, ErrNonce
	}
	addr := r.Form.Get("code")
	if addr == "" {
		return connectors.Identity{}, ErrUnknownUser
	}
	u, _ := c.user(addr)
	return u.identity(addr), nil
}

var (
	_ connectors.PasswordConnector = (*Password)(nil)
	_ connectors.CallbackConnector = (*Callback)(nil)
)
