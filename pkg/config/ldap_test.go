package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// ldapBase is base with an ldap connector after the others.
func ldapBase(t *testing.T, conn string) string {
	t.Helper()
	return mustEdit(t, "      - {type: google, clientID: gid, clientSecret: gsec}\n", "      - {type: google, clientID: gid, clientSecret: gsec}\n      - "+conn+"\n")
}

const goodLDAP = `{type: ldap, id: corp, name: Corp, domains: [corp.example], host: "ldap.corp.example:636", bindDN: "cn=svc,dc=corp,dc=example", bindPW: "${LDAPPW}", userSearch: {baseDN: "ou=people,dc=corp,dc=example", emailAttr: mail, nameAttr: cn}}`

func ldapEnv(t *testing.T) map[string]string {
	env := testEnv(t)
	env["LDAPPW"] = "pw"
	return env
}

func TestLDAPConnectorKeys(t *testing.T) {
	cfg, err := Parse([]byte(ldapBase(t, goodLDAP)), "test.yaml", lookup(ldapEnv(t)))
	if err != nil {
		t.Fatal(err)
	}
	cn := cfg.Tenant("fabrikam").Connectors[3]
	l := cn.LDAPConnector
	if cn.Type != "ldap" || l.Host != "ldap.corp.example:636" || l.BindPW != "pw" || l.BindDN != "cn=svc,dc=corp,dc=example" ||
		l.UserSearch.BaseDN != "ou=people,dc=corp,dc=example" || l.UserSearch.EmailAttr != "mail" || l.UserSearch.NameAttr != "cn" {
		t.Errorf("ldap keys %+v", cn)
	}
	if l.Timeout != DefaultLDAPTimeout {
		t.Errorf("timeout default %v", l.Timeout)
	}
	cfg, err = Parse([]byte(ldapBase(t, strings.Replace(goodLDAP, "{type: ldap,", "{type: ldap, timeout: 2s,", 1))), "test.yaml", lookup(ldapEnv(t)))
	if err != nil || cfg.Tenant("fabrikam").Connectors[3].Timeout != 2*time.Second {
		t.Fatalf("explicit timeout: %v", err)
	}
}

func TestLDAPConnectorRefused(t *testing.T) {
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	const k = "tenants[0].connectors[3]"
	cases := []struct {
		name, old, new string
		dev            bool
		key, fragment  string
	}{
		{"host missing", `host: "ldap.corp.example:636", `, ``, false, k + ".host", "is required; write the directory's host:port"},
		{"host with a path", `"ldap.corp.example:636"`, `"ldap.corp.example:636/x"`, false, k + ".host", "is not host:port"},
		{"host bad port", `"ldap.corp.example:636"`, `"ldap.corp.example:70000"`, false, k + ".host", "1 to 65535"},
		{"host other scheme", `"ldap.corp.example:636"`, `"https://ldap.corp.example"`, false, k + ".host", "ldaps:// or ldap://"},
		{"plain URL without startTLS", `"ldap.corp.example:636"`, `"ldap://ldap.corp.example"`, false, k + ".host", "add startTLS: true"},
		{"ldaps URL with startTLS", `"ldap.corp.example:636"`, `"ldaps://ldap.corp.example", startTLS: true`, false, k + ".host", "remove startTLS"},
		{"both modes", `host: `, `startTLS: true, insecureNoSSL: true, host: `, false, k + ".insecureNoSSL", "exclude each other"},
		{"skip verify outside dev", `host: `, `insecureSkipVerify: true, host: `, false, k + ".insecureSkipVerify", "only allowed with dev: true"},
		{"no TLS but a CA", `host: `, `insecureNoSSL: true, rootCAData: x, host: `, false, k + ".insecureNoSSL", "no TLS to verify"},
		{"rootCA unreadable", `host: `, `rootCA: /nonexistent/ca.pem, host: `, false, k + ".rootCA", "cannot be read"},
		{"rootCA not PEM", `host: `, `rootCA: ` + ca + `, host: `, false, k + ".rootCA", "holds no PEM certificate"},
		{"rootCAData not PEM", `host: `, `rootCAData: "-----BEGIN X-----", host: `, false, k + ".rootCAData", "holds no PEM certificate"},
		{"bindPW empty", `bindPW: "${LDAPPW}"`, `bindPW: "${NOPE}"`, false, k + ".bindPW", "an empty password makes the bind anonymous"},
		{"bindPW without bindDN", `bindDN: "cn=svc,dc=corp,dc=example", `, ``, false, k + ".bindDN", "is empty while bindPW is set"},
		{"baseDN missing", `baseDN: "ou=people,dc=corp,dc=example", `, ``, false, k + ".userSearch.baseDN", "is required"},
		{"emailAttr missing", `emailAttr: mail, `, ``, false, k + ".userSearch.emailAttr", "is required; write the attribute that holds the address, usually mail"},
		{"emailAttr bad", `emailAttr: mail`, `emailAttr: "ma il"`, false, k + ".userSearch.emailAttr", "not an attribute name"},
		{"filter without parentheses", `emailAttr: mail`, `emailAttr: mail, filter: objectClass=person`, false, k + ".userSearch.filter", "write it in parentheses"},
		{"timeout too long", `{type: ldap,`, `{type: ldap, timeout: 5m,`, false, k + ".timeout", "out of range"},
		{"oidc keys on ldap", `{type: ldap,`, `{type: ldap, clientID: x,`, false, k, "do not apply to an ldap connector"},
		{"scopes on ldap", `{type: ldap,`, `{type: ldap, scopes: [openid],`, false, k, "do not apply to an ldap connector"},
		{"unknown key", `{type: ldap,`, `{type: ldap, bindPassword: x,`, false, k + ".bindPassword", "unknown key"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			text := ldapBase(t, strings.Replace(goodLDAP, tc.old, tc.new, 1))
			if !strings.Contains(goodLDAP, tc.old) {
				t.Fatalf("goodLDAP has no %q", tc.old)
			}
			if tc.dev {
				text = "dev: true\n" + text
			}
			_, err := Parse([]byte(text), "test.yaml", lookup(ldapEnv(t)))
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("Parse = %v; want a config error", err)
			}
			for _, p := range ce.Problems {
				if p.Key == tc.key && strings.Contains(p.Message, tc.fragment) {
					return
				}
			}
			t.Fatalf("no problem at %s with %q:\n%v", tc.key, tc.fragment, err)
		})
	}
	// insecureSkipVerify is accepted in development.
	text := "dev: true\n" + ldapBase(t, strings.Replace(goodLDAP, "host: ", "insecureSkipVerify: true, host: ", 1))
	if _, err := Parse([]byte(text), "test.yaml", lookup(ldapEnv(t))); err != nil && strings.Contains(err.Error(), "insecureSkipVerify") {
		t.Errorf("dev: true refused insecureSkipVerify: %v", err)
	}
	// ldap keys on another type are refused.
	text = mustEdit(t, "{type: google, clientID: gid, clientSecret: gsec}", "{type: google, clientID: gid, clientSecret: gsec, host: ldap.corp.example}")
	if _, err := Parse([]byte(text), "test.yaml", lookup(ldapEnv(t))); err == nil || !strings.Contains(err.Error(), "do not apply to a google connector") {
		t.Errorf("ldap keys on google: %v", err)
	}
}
