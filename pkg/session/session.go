// Package session keeps sign-in sessions (PRODUCT.md B4) and the browser's
// sign-in flow cookie that passcodes and CSRF tokens bind to (B3, B10).
//
// A session is a record in the store at store.TagKey(tenant, id, "session")
// whose TTL is the tenant's session lifetime, set once at creation and never
// extended (absolute lifetime). The browser holds only the id, in a cookie
// signed and encrypted with gorilla/securecookie under a name that includes
// the tenant, so a cookie minted for one tenant does not even decode at
// another.
package session

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/gorilla/securecookie"

	"github.com/guestpass/guestpass/pkg/store"
)

// CookieName is the session cookie's name.
const CookieName = "guestpass_session"

var (
	// ErrNoSession: no cookie, an undecodable or foreign cookie, no record,
	// or a record past its lifetime. The caller starts a sign-in.
	ErrNoSession = errors.New("session: no session")
	// ErrConfig: the cookie keys are unusable (see Options.Validate).
	ErrConfig = errors.New("session: bad cookie keys")
)

// idBytes is the entropy of session and flow ids.
const idBytes = 32

// Session is one signed-in browser at one tenant.
type Session struct {
	ID      string `json:"id"`
	Tenant  string `json:"tenant"`
	GuestID string `json:"guestID"`
	Email   string `json:"email"`
	// EmailVerified is the connector's word on Email, carried into the
	// tokens of single sign-on.
	EmailVerified bool      `json:"ev,omitempty"`
	Name          string    `json:"name,omitempty"`
	Source        string    `json:"source"`
	AMR           []string  `json:"amr,omitempty"`
	AuthTime      time.Time `json:"authTime"`
	// ExpiresAt is creation + lifetime; it never moves.
	ExpiresAt time.Time `json:"expiresAt"`
}

// Options configure cookies.
type Options struct {
	// HashKey signs cookies (HMAC-SHA256) and keys the CSRF tokens; at
	// least 32 bytes.
	HashKey []byte
	// BlockKey encrypts cookies (AES); 16, 24 or 32 bytes.
	BlockKey []byte
	// Secure marks cookies Secure (the base URL is https).
	Secure bool
	// Clock is the time source (time.Now when nil).
	Clock func() time.Time
}

// Validate reports unusable keys, so that wiring can refuse to start rather
// than fail on the first request.
func (o Options) Validate() error {
	if len(o.HashKey) < 32 {
		return fmt.Errorf("%w: the cookie hash key must be at least 32 bytes, got %d", ErrConfig, len(o.HashKey))
	}
	switch len(o.BlockKey) {
	case 16, 24, 32:
	default:
		return fmt.Errorf("%w: the cookie block key must be 16, 24 or 32 bytes, got %d", ErrConfig, len(o.BlockKey))
	}
	return nil
}

func (o Options) clock() func() time.Time {
	if o.Clock == nil {
		return time.Now
	}
	return o.Clock
}

// newCodec builds the securecookie codec. Its own age check uses the wall
// clock and cannot be injected, so it is switched off: sessions expire with
// their store record and ExpiresAt, flows carry their own issue time, both
// judged by the injected clock.
func newCodec(o Options) (*securecookie.SecureCookie, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	c := securecookie.New(o.HashKey, o.BlockKey)
	c.MaxAge(0)
	c.SetSerializer(securecookie.NopEncoder{})
	return c, nil
}

// newID returns 32 random bytes, base64url without padding.
func newID() (string, error) {
	var b [idBytes]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("session: random id: %w", err)
	}
	// Encoded in an array: the string is the one allocation.
	var s [idLen]byte
	base64.RawURLEncoding.Encode(s[:], b[:])
	return string(s[:]), nil
}

// idLen is the length of an id: idBytes in unpadded base64.
const idLen = (idBytes*8 + 5) / 6

// validID reports whether s has the shape newID produces, so that garbage
// never reaches a store key.
func validID(s string) bool {
	if len(s) == idLen { // every id newID makes: decoded into an array
		var b [idBytes]byte
		n, err := base64.RawURLEncoding.Decode(b[:], []byte(s))
		return err == nil && n == idBytes
	}
	// Longer strings may still decode to idBytes (the decoder skips CR
	// and LF); they are judged as they always were.
	b, err := base64.RawURLEncoding.DecodeString(s)
	return err == nil && len(b) == idBytes
}

// cookiePath scopes a cookie to its tenant (B4: per-tenant cookies).
func cookiePath(tenant string) string { return "/" + tenant }

// Manager creates, reads and deletes sessions.
type Manager struct {
	st     store.Store
	codec  *securecookie.SecureCookie
	err    error // from the keys; returned by every call
	secure bool
	clock  func() time.Time
}

// NewManager builds a Manager. Unusable keys do not panic here; every call
// then returns an error wrapping ErrConfig (call Options.Validate at start).
func NewManager(st store.Store, o Options) *Manager {
	codec, err := newCodec(o)
	return &Manager{st: st, codec: codec, err: err, secure: o.Secure, clock: o.clock()}
}

// recordKey is where session id lives, tagged by the id: a tenant's
// sessions spread over a Cluster.
func recordKey(tenant, id string) string { return store.TagKey(tenant, id, "session") }

// codecName binds the cookie to its tenant: securecookie MACs the name, so
// a value minted for tenant A fails verification at tenant B.
func codecName(tenant string) string { return CookieName + "|" + tenant }

// ErrCollision: a new session's id was already taken. 256 random bits do
// not collide; a store that says otherwise is broken, and the sign-in
// fails rather than overwrite another browser's session.
var ErrCollision = errors.New("session: new session id already in use")

// Prepare makes s a new session of tenant for lifetime, with a fresh id,
// without storing it: the caller sends SaveOp in its last batch and then
// sets the cookie (SetCookie).
func (m *Manager) Prepare(tenant string, s Session, lifetime time.Duration) (*Session, error) {
	if m.err != nil {
		return nil, m.err
	}
	if tenant == "" {
		return nil, errors.New("session: tenant is required")
	}
	if lifetime < time.Second {
		return nil, fmt.Errorf("session: lifetime %v is too short", lifetime)
	}
	now := m.clock().UTC()
	id, err := newID()
	if err != nil {
		return nil, err
	}
	s.ID = id
	s.Tenant = tenant
	if s.AuthTime.IsZero() {
		s.AuthTime = now
	}
	s.ExpiresAt = now.Add(lifetime)
	s.AMR = append([]string(nil), s.AMR...)
	return &s, nil
}

// SaveOp stores a prepared session only if its id is new (SetNX: a
// collision never overwrites another session); its TTL ends the record
// at ExpiresAt. Check the op's outcome with Saved.
func (m *Manager) SaveOp(s *Session) *store.Op {
	raw, err := json.Marshal(s)
	if err != nil {
		// A Session always encodes; an op that fails keeps the batch honest.
		return &store.Op{Err: fmt.Errorf("session: encode: %w", err)}
	}
	ttl := max(s.ExpiresAt.Sub(m.clock()), time.Second)
	return store.SetNXOp(recordKey(s.Tenant, s.ID), raw, ttl)
}

// Saved reports what became of a SaveOp once its batch ran.
func Saved(op *store.Op) error {
	if op.Err != nil {
		return fmt.Errorf("session: store: %w", op.Err)
	}
	if !op.OK {
		return ErrCollision
	}
	return nil
}

// SetCookie gives the browser a stored session's id.
func (m *Manager) SetCookie(w http.ResponseWriter, s *Session) error {
	value, err := m.codec.Encode(codecName(s.Tenant), []byte(s.ID))
	if err != nil {
		return fmt.Errorf("session: encode cookie: %w", err)
	}
	// Rounded up: a session prepared a moment ago keeps its whole lifetime.
	left := s.ExpiresAt.Sub(m.clock()) + time.Second - 1
	setCookie(w, CookieName, value, s.Tenant, int(left/time.Second), m.secure)
	return nil
}

// Read is Get as a read of a step's batch. Without a usable cookie it
// needs no store, and its result is ErrNoSession.
func (m *Manager) Read(r *http.Request, tenant string) *store.Read[*Session] {
	id, err := m.currentID(r, tenant)
	if err != nil {
		return store.NewRead(nil, func(*store.Op) (*Session, error) { return nil, err })
	}
	return store.NewRead(store.GetOp(recordKey(tenant, id)), func(op *store.Op) (*Session, error) {
		return m.decode(tenant, id, op.Val, op.Err)
	})
}

// EndOp deletes the session the request's cookie names, for a step that
// replaces it (a new sign-in in this browser); nil when there is none.
func (m *Manager) EndOp(r *http.Request, tenant string) *store.Op {
	id, err := m.currentID(r, tenant)
	if err != nil {
		return nil
	}
	return store.DeleteOp(recordKey(tenant, id))
}

// currentID is the session id of r's cookie for tenant, or an error.
func (m *Manager) currentID(r *http.Request, tenant string) (string, error) {
	if m.err != nil {
		return "", m.err
	}
	return m.cookieID(r, tenant)
}

// cookieID returns the session id in r's cookie for tenant, or ErrNoSession.
func (m *Manager) cookieID(r *http.Request, tenant string) (string, error) {
	c, err := r.Cookie(CookieName)
	if err != nil {
		return "", ErrNoSession
	}
	var b []byte
	if err := m.codec.Decode(codecName(tenant), c.Value, &b); err != nil {
		return "", ErrNoSession
	}
	id := string(b)
	if !validID(id) {
		return "", ErrNoSession
	}
	return id, nil
}

// Get returns the live session of r at tenant. ErrNoSession when there is
// none; a store failure is returned wrapped (store.ErrUnavailable stays
// detectable with errors.Is) and is never ErrNoSession, so an outage is a
// 503 and not a silent sign-out. Reading never extends the lifetime.
func (m *Manager) Get(ctx context.Context, r *http.Request, tenant string) (*Session, error) {
	if m.err != nil {
		return nil, m.err
	}
	id, err := m.cookieID(r, tenant)
	if err != nil {
		return nil, err
	}
	raw, err := m.st.Get(ctx, recordKey(tenant, id))
	return m.decode(tenant, id, raw, err)
}

// decode checks a session record as Get returned it (raw, err).
func (m *Manager) decode(tenant, id string, raw []byte, err error) (*Session, error) {
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrNoSession
	}
	if err != nil {
		return nil, fmt.Errorf("session: read: %w", err)
	}
	var s Session
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, fmt.Errorf("session: decode record: %w", err)
	}
	if s.Tenant != tenant || s.ID != id {
		return nil, ErrNoSession
	}
	// The store TTL normally removes the record; the clock check covers a
	// store whose expiry lags (and makes the lifetime testable).
	if !m.clock().Before(s.ExpiresAt) {
		return nil, ErrNoSession
	}
	return &s, nil
}

// DeleteByID removes a session record (e.g. back-channel or admin logout).
func (m *Manager) DeleteByID(ctx context.Context, tenant, id string) error {
	if !validID(id) {
		return nil
	}
	if err := m.st.Delete(ctx, recordKey(tenant, id)); err != nil {
		return fmt.Errorf("session: delete: %w", err)
	}
	return nil
}
