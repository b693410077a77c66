package session

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/securecookie"
)

// DeviceCookieName is the device cookie's name.
const DeviceCookieName = "guestpass_device"

// DeviceLifetime is how long a device cookie is honoured after the
// sign-in that set it.
const DeviceLifetime = 90 * 24 * time.Hour

// Devices issues and reads device cookies (OWASP "Slow Down Online
// Guessing Attacks with Device Cookies"): after a successful sign-in the
// browser gets a cookie, sealed with the cookie keys and bound to tenant
// and canonical address, that lets it verify passcodes for that address
// on a failure budget of its own, out of reach of a stranger who spends
// the address's. It needs no store: the cookie carries a random id (the
// budget's name) and its issue time, judged by the injected clock.
type Devices struct {
	codec  *securecookie.SecureCookie
	err    error
	secure bool
	clock  func() time.Time
}

// NewDevices builds Devices. Unusable keys make Set fail with an error
// wrapping ErrConfig and ID find nothing.
func NewDevices(o Options) *Devices {
	codec, err := newCodec(o)
	return &Devices{codec: codec, err: err, secure: o.Secure, clock: o.clock()}
}

// deviceCodecName binds the sealed value to tenant and address: a cookie
// of another tenant or address does not decode. ("|" occurs in neither
// a tenant id nor a canonical address's domain, so the name is
// unambiguous.)
func deviceCodecName(tenant, address string) string {
	return DeviceCookieName + "|" + tenant + "|" + address
}

// Set gives the browser a device cookie for address (canonical) at
// tenant, with a fresh id, replacing any device cookie it had there.
func (d *Devices) Set(w http.ResponseWriter, tenant, address string) error {
	if d.err != nil {
		return d.err
	}
	id, err := newID()
	if err != nil {
		return err
	}
	v, err := d.codec.Encode(deviceCodecName(tenant, address),
		[]byte(id+"."+strconv.FormatInt(d.clock().Unix(), 10)))
	if err != nil {
		return fmt.Errorf("session: encode device cookie: %w", err)
	}
	setCookie(w, DeviceCookieName, v, tenant, int(DeviceLifetime/time.Second), d.secure)
	return nil
}

// ID returns the device id of r's device cookie when it was issued at
// tenant for address and is still within its lifetime; "" otherwise.
func (d *Devices) ID(r *http.Request, tenant, address string) string {
	if d.err != nil {
		return ""
	}
	c, err := r.Cookie(DeviceCookieName)
	if err != nil {
		return ""
	}
	var b []byte
	if err := d.codec.Decode(deviceCodecName(tenant, address), c.Value, &b); err != nil {
		return ""
	}
	id, issued, ok := strings.Cut(string(b), ".")
	if !ok || !validID(id) {
		return ""
	}
	sec, err := strconv.ParseInt(issued, 10, 64)
	if err != nil {
		return ""
	}
	age := d.clock().Sub(time.Unix(sec, 0))
	if age >= DeviceLifetime || age < -time.Minute {
		return ""
	}
	return id
}
