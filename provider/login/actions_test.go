package login

import "testing"

// actions cuts the five URLs from one string: each is exactly what url
// builds, an id that needs escaping included.
func TestActionsAreTheURLs(t *testing.T) {
	h := &Handler{base: "/contoso/login"}
	for _, id := range []string{"6ba7b810-9dad-11d1-80b4-00c04fd430c8", "a b&c=d/é", ""} {
		a := h.actions(id)
		for name, c := range map[string][2]string{
			"email":   {a.Email, h.url("/email", id)},
			"send":    {a.Send, h.url("/send", id)},
			"verify":  {a.Verify, h.url("/verify", id)},
			"resend":  {a.Resend, h.url("/resend", id)},
			"restart": {a.Restart, h.url("", id) + "&restart=1"},
		} {
			if c[0] != c[1] {
				t.Errorf("%q: %s = %q, want %q", id, name, c[0], c[1])
			}
		}
		if a.Retry != "" || a.Home != "" || a.Password != "" || a.Logout != "" {
			t.Errorf("%q: actions beyond the passcode pages: %+v", id, a)
		}
	}
}
