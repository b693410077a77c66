package server_test

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/guestpass/guestpass/pkg/config"
)

// Basic client credentials: RFC 6749 §2.3.1 form-urlencodes them, but
// curl -u, Python requests and most HTTP libraries send them raw, and
// base64 secrets hold "+" and "/". Both spellings authenticate; nothing
// else does.
func TestBasicCredentialsRawOrEncoded(t *testing.T) {
	secrets := map[string]string{
		"fabrikam": "Zm9v+YmFy/YmF6%2B==", // decodes, to something else
		"contoso":  "Zm9v+YmFy/YmF6%zz==", // does not decode at all
	}
	e := newEnv(t, envOptions{configure: func(c *config.Config) {
		for i := range c.Tenants {
			for j := range c.Tenants[i].Clients {
				if cl := &c.Tenants[i].Clients[j]; cl.ID == "admin" {
					cl.Secret = secrets[c.Tenants[i].ID]
				}
			}
		}
	}})
	cc := url.Values{"grant_type": {"client_credentials"}}
	for tenant, sec := range secrets {
		decodedOnce, _ := url.QueryUnescape(sec)
		for name, c := range map[string]struct {
			pass   string
			status int
		}{
			"raw":                {sec, http.StatusOK},
			"form-urlencoded":    {url.QueryEscape(sec), http.StatusOK},
			"wrong":              {sec + "x", http.StatusUnauthorized},
			"decoded spelling":   {decodedOnce, http.StatusUnauthorized},
			"encoded, then more": {url.QueryEscape(url.QueryEscape(sec)) + "x", http.StatusUnauthorized},
		} {
			if name == "decoded spelling" && decodedOnce == "" {
				continue
			}
			resp, body := call(t, e, http.MethodPost, tenant, "/oauth/token", cc, "admin", c.pass, nil)
			if resp.StatusCode != c.status {
				t.Errorf("%s, %s secret: %d %s, want %d", tenant, name, resp.StatusCode, body, c.status)
			}
			if c.status == http.StatusUnauthorized {
				oauthErr(t, tenant+" "+name, resp, body, c.status, "invalid_client", "Basic")
			}
		}
	}
	// An encoded client id works too (the id is decoded like the secret).
	resp, body := call(t, e, http.MethodPost, "fabrikam", "/oauth/token", cc, "%61dmin", url.QueryEscape(secrets["fabrikam"]), nil)
	if resp.StatusCode != http.StatusOK {
		t.Errorf("encoded client id: %d %s", resp.StatusCode, body)
	}
}
