package session

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
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
	b, err := json.Marshal(stateEnvelope{V: raw, IAT: f.clock().Unix()})
	if err != nil {
		return fmt.Errorf("session: encode state: %w", err)
	}
	value, err := f.codec.Encode(stateCodecName(tenant, flow, key), b)
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
	var env stateEnvelope
	if err := json.Unmarshal(b, &env); err != nil {
		return ErrNoState
	}
	age := f.clock().Sub(time.Unix(env.IAT, 0))
	if age >= FlowLifetime || age < -time.Minute {
		return ErrNoState
	}
	if err := json.Unmarshal(env.V, v); err != nil {
		return ErrNoState
	}
	return nil
}
