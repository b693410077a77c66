package session

import (
	"crypto/hmac"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/securecookie"

	"github.com/guestpass/guestpass/pkg/hmacpool"
)

// FlowCookieName is the sign-in flow cookie's name.
const FlowCookieName = "guestpass_flow"

// FlowLifetime bounds one sign-in flow in one browser.
const FlowLifetime = time.Hour

// ErrNoFlow: no flow cookie, an undecodable or foreign one, or an expired one.
var ErrNoFlow = errors.New("session: no sign-in flow")

// Flows issues the sign-in flow cookie: a random id per browser and tenant
// that passcodes and CSRF tokens are bound to (B3, B10), so that a code or a
// form token from one browser is worthless in another. It needs no store:
// the cookie is signed and encrypted, and carries its issue time, judged by
// the injected clock.
type Flows struct {
	codec  *securecookie.SecureCookie
	err    error
	csrf   *hmacpool.Pool // HMAC states under the hash key, reused by every CSRFToken
	secure bool
	clock  func() time.Time
}

// NewFlows builds Flows. Unusable keys make every call fail with an error
// wrapping ErrConfig (and CheckCSRF refuse everything).
func NewFlows(o Options) *Flows {
	codec, err := newCodec(o)
	return &Flows{
		codec:  codec,
		err:    err,
		csrf:   hmacpool.New(o.HashKey),
		secure: o.Secure,
		clock:  o.clock(),
	}
}

func flowCodecName(tenant string) string { return FlowCookieName + "|" + tenant }

// Ensure returns the flow id of r at tenant, setting a new flow cookie when
// r has no valid one. A valid cookie is re-issued with the same id and a
// fresh hour, so a guest who is still moving through the pages (say, waiting
// for slow mail) does not lose the flow their passcode is bound to.
func (f *Flows) Ensure(w http.ResponseWriter, r *http.Request, tenant string) (string, error) {
	if f.err != nil {
		return "", f.err
	}
	if tenant == "" {
		return "", errors.New("session: tenant is required")
	}
	id, err := f.Get(r, tenant)
	if err != nil {
		if id, err = newID(); err != nil {
			return "", err
		}
	}
	value, err := f.codec.Encode(flowCodecName(tenant),
		[]byte(id+"."+strconv.FormatInt(f.clock().Unix(), 10)))
	if err != nil {
		return "", fmt.Errorf("session: encode flow cookie: %w", err)
	}
	setCookie(w, FlowCookieName, value, tenant, int(FlowLifetime/time.Second), f.secure)
	return id, nil
}

// Get returns the flow id of r at tenant, or ErrNoFlow. It never sets a
// cookie: handlers of POSTs use it so that a form without its flow fails.
func (f *Flows) Get(r *http.Request, tenant string) (string, error) {
	if f.err != nil {
		return "", f.err
	}
	c, err := r.Cookie(FlowCookieName)
	if err != nil {
		return "", ErrNoFlow
	}
	var b []byte
	if err := f.codec.Decode(flowCodecName(tenant), c.Value, &b); err != nil {
		return "", ErrNoFlow
	}
	id, issued, ok := strings.Cut(string(b), ".")
	if !ok || !validID(id) {
		return "", ErrNoFlow
	}
	sec, err := strconv.ParseInt(issued, 10, 64)
	if err != nil {
		return "", ErrNoFlow
	}
	age := f.clock().Sub(time.Unix(sec, 0))
	// A cookie from the future (beyond a little clock skew between
	// replicas) is as suspicious as an old one.
	if age >= FlowLifetime || age < -time.Minute {
		return "", ErrNoFlow
	}
	return id, nil
}

// CSRFToken is the form token of a flow: HMAC-SHA256 under the hash key over
// "csrf|tenant|flowID", base64url. It is bound to both, so a token is
// useless in another browser or at another tenant. ("|" cannot occur in a
// tenant id or a flow id, so the input is unambiguous.)
func (f *Flows) CSRFToken(tenant, flowID string) string {
	b := f.csrfToken(tenant, flowID)
	return string(b[:])
}

// csrfLen is the length of a CSRF token: a MAC in unpadded base64.
const csrfLen = (hmacpool.Size*8 + 5) / 6

// csrfToken is CSRFToken in an array, which costs no allocation.
func (f *Flows) csrfToken(tenant, flowID string) [csrfLen]byte {
	m := f.csrf.Get()
	m.WriteString("csrf|")
	m.WriteString(tenant)
	m.WriteString("|")
	m.WriteString(flowID)
	sum := m.Sum()
	var b [csrfLen]byte
	base64.RawURLEncoding.Encode(b[:], sum[:])
	return b
}

// CheckCSRF reports whether token is the form token of this tenant and
// flow, comparing in constant time.
func (f *Flows) CheckCSRF(tenant, flowID, token string) bool {
	if f.err != nil || tenant == "" || flowID == "" || token == "" {
		return false
	}
	want := f.csrfToken(tenant, flowID)
	return hmac.Equal(want[:], []byte(token))
}
