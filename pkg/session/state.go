package session

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// stateCookiePrefix names the sign-in state cookies, one per auth request.
const stateCookiePrefix = "guestpass_signin_"

// ErrNoState: no state cookie for this sign-in, or one that does not
// decode for this tenant and flow, or an expired one.
var ErrNoState = errors.New("session: no sign-in state")

// stateEnvelope carries a state value and its issue time.
type stateEnvelope struct {
	V   json.RawMessage `json:"v"`
	IAT int64           `json:"iat"`
}

func stateCookieName(key string) string {
	// The key (an auth request id: 36 bytes, past the 32 a conversion
	// may keep on the stack) is hashed from an array when it fits.
	var kb [64]byte
	var h [sha256.Size]byte
	if len(key) <= len(kb) {
		h = sha256.Sum256(kb[:copy(kb[:], key)])
	} else {
		h = sha256.Sum256([]byte(key))
	}
	// Prefix and hex in an array: the name is the one allocation.
	var b [len(stateCookiePrefix) + 12]byte
	copy(b[:], stateCookiePrefix)
	hex.Encode(b[len(stateCookiePrefix):], h[:6])
	return string(b[:])
}

func stateCodecName(tenant, flow, key string) string {
	return "signin|" + tenant + "|" + flow + "|" + key
}

// SetState keeps a small value for one sign-in (key: the auth request id)
// of one flow in a signed and encrypted cookie. The pages' state thus costs
// no store round trip, and since the codec name binds tenant, flow and key,
// the cookie is worthless in another browser, tenant or sign-in. It lives
// as long as the flow (FlowLifetime).
func (f *Flows) SetState(w http.ResponseWriter, tenant, flow, key string, v any) error {
	if f.err != nil {
		return f.err
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("session: encode state: %w", err)
	}
	env := appendEnvelope(make([]byte, 0, len(raw)+32), raw, f.clock().Unix())
	value, err := f.codec.Encode(stateCodecName(tenant, flow, key), env)
	if err != nil {
		return fmt.Errorf("session: encode state cookie: %w", err)
	}
	setCookie(w, stateCookieName(key), value, tenant, int(FlowLifetime/time.Second), f.secure)
	return nil
}

// State decodes the state SetState kept for this tenant, flow and key.
func (f *Flows) State(r *http.Request, tenant, flow, key string, v any) error {
	if f.err != nil {
		return f.err
	}
	c, err := r.Cookie(stateCookieName(key))
	if err != nil {
		return ErrNoState
	}
	var b []byte
	if err := f.codec.Decode(stateCodecName(tenant, flow, key), c.Value, &b); err != nil {
		return ErrNoState
	}
	return f.decodeState(b, v)
}

// decodeState is State's decoding of an opened cookie, b.
func (f *Flows) decodeState(b []byte, v any) error {
	if env, ok := splitEnvelope(b); ok {
		if !f.fresh(env) {
			return ErrNoState
		}
		if json.Unmarshal(env.V, v) == nil {
			return nil
		}
		// Not a valid two-member envelope after all, or a value v does
		// not take: the whole decode below decides, as it always did.
	}
	var env stateEnvelope
	if err := json.Unmarshal(b, &env); err != nil {
		return ErrNoState
	}
	if !f.fresh(env) {
		return ErrNoState
	}
	if err := json.Unmarshal(env.V, v); err != nil {
		return ErrNoState
	}
	return nil
}

// fresh reports whether env was issued within the flow's lifetime (and
// not in the future beyond clock skew).
func (f *Flows) fresh(env stateEnvelope) bool {
	age := f.clock().Sub(time.Unix(env.IAT, 0))
	return age < FlowLifetime && age >= -time.Minute
}

// appendEnvelope appends json.Marshal(stateEnvelope{V: raw, IAT: iat})
// for raw as json.Marshal wrote it: a RawMessage is written as it is once
// compacted and HTML-escaped, which raw is already, so the envelope is
// its two members around it, without a second pass over the value.
func appendEnvelope(dst, raw []byte, iat int64) []byte {
	dst = append(dst, `{"v":`...)
	dst = append(dst, raw...)
	dst = append(dst, `,"iat":`...)
	dst = strconv.AppendInt(dst, iat, 10)
	return append(dst, '}')
}

// splitEnvelope reads an envelope as appendEnvelope (and json.Marshal)
// wrote it, without json.Unmarshal's pass over the whole value: b must be
// {"v":V,"iat":N}, N a JSON integer (the last "iat", as decoding keeps).
// V is then the value's bytes as json.Unmarshal would cut them out (a
// RawMessage keeps them as they are) whenever V is one valid JSON value,
// which is exactly when b is a valid envelope of these two members; State
// learns it when it decodes V (json.Unmarshal checks the syntax before it
// writes anything) and otherwise decodes b as a whole. A b of any other
// shape is not split (ok false).
func splitEnvelope(b []byte) (env stateEnvelope, ok bool) {
	const head, tail = `{"v":`, `,"iat":`
	if !bytes.HasPrefix(b, []byte(head)) || len(b) < 2 || b[len(b)-1] != '}' {
		return env, false
	}
	i := bytes.LastIndex(b, []byte(tail))
	if i < len(head) {
		return env, false
	}
	n := b[i+len(tail) : len(b)-1]
	digits := n
	if len(digits) > 0 && digits[0] == '-' {
		digits = digits[1:]
	}
	if len(digits) == 0 || len(digits) > 1 && digits[0] == '0' {
		return env, false
	}
	for _, c := range digits {
		if c < '0' || c > '9' {
			return env, false
		}
	}
	iat, err := strconv.ParseInt(string(n), 10, 64)
	if err != nil {
		return env, false
	}
	return stateEnvelope{V: b[len(head):i], IAT: iat}, true
}
