package connectors_test

import (
	"testing"

	"github.com/guestpass/guestpass/connectors"
	"github.com/guestpass/guestpass/connectors/directory"
	"github.com/guestpass/guestpass/connectors/ldap"
	"github.com/guestpass/guestpass/connectors/oidc"
)

// A bcrypt hash of "pw" (cost 10); the directory only parses it here.
const pwHash = "$2a$10$a47epq9HXfEnv4sPBIX5m.u4NFns3RnkvpVwGPiDV8sUOW0Hg4ZHK"

// Every connector type claims by the one normalisation: a domain written
// with capitals and a trailing dot, or in Unicode, claims the canonical
// addresses sign-in compares (B10), and nothing else.
func TestEveryTypeClaimsCanonicalDomains(t *testing.T) {
	domains := []string{"Example.ORG.", "bücher.example"}
	specs := map[string]connectors.Spec{
		"directory": {Type: directory.Type, Options: directory.Options{Users: []directory.User{{Email: "ada@example.org", PasswordHash: pwHash}}}},
		"ldap": {Type: ldap.Type, Options: ldap.Options{Host: "127.0.0.1:1", InsecureNoSSL: true,
			UserSearch: ldap.UserSearch{BaseDN: "ou=people,dc=example,dc=org", Filter: "(objectClass=person)", EmailAttr: "mail"}}},
		"oidc": {Type: oidc.TypeOIDC, Options: oidc.Options{Issuer: "https://partner.example", ClientID: "c", ClientSecret: "s"}},
	}
	reg := connectors.NewRegistry().Register(directory.Type, directory.New).Register(ldap.Type, ldap.New).Register(oidc.TypeOIDC, oidc.New)
	for name, s := range specs {
		s.ID, s.Domains = "corp", domains
		c, err := reg.Open(s, connectors.Env{})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for addr, want := range map[string]bool{
			"ada@example.org": true, "ada@xn--bcher-kva.example": true,
			"ada@other.example": false, "ada@sub.example.org": false,
		} {
			if got := c.Claims(addr); got != want {
				t.Errorf("%s claims %s: %v, want %v", name, addr, got, want)
			}
		}
		_ = connectors.Close([]connectors.Connector{c})
	}
	if _, err := connectors.CanonicalDomains([]string{"example.org", "not a domain"}); err == nil {
		t.Error("a domain no address can have was accepted")
	}
}
