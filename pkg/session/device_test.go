package session

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// A device cookie is sealed, bound to tenant and address, long-lived,
// HttpOnly, SameSite=Lax, Secure under https, and expires on the clock.
func TestDeviceCookie(t *testing.T) {
	for _, secure := range []bool{false, true} {
		clock := newFakeClock()
		d := NewDevices(testOptions(clock.Now, secure))
		if id := d.ID(requestWith("fabrikam"), "fabrikam", "ada@example.com"); id != "" {
			t.Fatalf("ID without a cookie = %q", id)
		}
		rec := httptest.NewRecorder()
		if err := d.Set(rec, "fabrikam", "ada@example.com"); err != nil {
			t.Fatal(err)
		}
		c := cookieFrom(t, rec, DeviceCookieName)
		if c.Path != "/fabrikam" || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Secure != secure ||
			c.MaxAge != int(DeviceLifetime/time.Second) || c.MaxAge < 30*24*3600 {
			t.Fatalf("device cookie attributes: %+v", c)
		}
		id := d.ID(requestWith("fabrikam", c), "fabrikam", "ada@example.com")
		if !validID(id) {
			t.Fatalf("ID = %q", id)
		}
		if got := d.ID(requestWith("fabrikam", c), "fabrikam", "bob@example.com"); got != "" {
			t.Errorf("cookie of ada honoured for bob")
		}
		if got := d.ID(requestWith("contoso", c), "contoso", "ada@example.com"); got != "" {
			t.Errorf("cookie of fabrikam honoured at contoso")
		}
		forged := *c
		forged.Value = c.Value[:len(c.Value)-2] + "AA"
		if got := d.ID(requestWith("fabrikam", &forged), "fabrikam", "ada@example.com"); got != "" {
			t.Errorf("altered cookie honoured")
		}
		// A second sign-in gets a fresh id.
		rec2 := httptest.NewRecorder()
		_ = d.Set(rec2, "fabrikam", "ada@example.com")
		if id2 := d.ID(requestWith("fabrikam", cookieFrom(t, rec2, DeviceCookieName)), "fabrikam", "ada@example.com"); id2 == id || id2 == "" {
			t.Errorf("second Set: id %q, first %q", id2, id)
		}
		clock.Advance(DeviceLifetime - time.Minute)
		if d.ID(requestWith("fabrikam", c), "fabrikam", "ada@example.com") != id {
			t.Errorf("device cookie refused before its lifetime ends")
		}
		clock.Advance(2 * time.Minute)
		if d.ID(requestWith("fabrikam", c), "fabrikam", "ada@example.com") != "" {
			t.Errorf("device cookie honoured after its lifetime")
		}
	}
}
