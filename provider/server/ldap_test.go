package server_test

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/guestpass/guestpass/connectors/ldap/ldaptest"
	"github.com/guestpass/guestpass/pkg/config"
)

// The ldap connector through the real server and the production registry
// (server.Builtin, specOf): a relying party (coreos/go-oidc) signs a guest
// in on the password page against a private slapd over StartTLS.

const ldapSource = "ldap:corp"

// newLDAPEnv serves the contoso tenant with an ldap connector for
// example.org in front of srv (StartTLS, its CA given as rootCAData).
func newLDAPEnv(t *testing.T, srv *ldaptest.Server) *env {
	t.Helper()
	return newEnv(t, envOptions{configure: func(c *config.Config) {
		for i := range c.Tenants {
			if c.Tenants[i].ID != "contoso" {
				continue
			}
			c.Tenants[i].Connectors = []config.Connector{{
				Type: "ldap", ID: "corp", Name: "Example Corp directory", Domains: []string{"example.org"},
				LDAPConnector: config.LDAPConnector{
					Host: srv.Addr, StartTLS: true, RootCAData: string(srv.CAPEM),
					BindDN: ldaptest.BindDN, BindPW: ldaptest.BindPW,
					UserSearch: config.LDAPUserSearch{
						BaseDN: ldaptest.PeopleDN, Filter: "(objectClass=inetOrgPerson)", EmailAttr: "mail", NameAttr: "cn",
					},
					Timeout: config.DefaultLDAPTimeout,
				},
			}}
		}
	}})
}

func TestLDAPSignIn(t *testing.T) {
	srv := ldaptest.Start(t, ldaptest.Options{TLS: true, Users: []ldaptest.User{
		{UID: "ada", Name: "Ada Lovelace", Mail: []string{"ada@example.org"}, Password: "analytical engine"},
	}})
	e := newLDAPEnv(t, srv)
	r := newRP(t, e, "contoso", "portal", "contoso-secret")
	b := newBrowser(t)

	p := postEmail(t, b, r.authURL(), "Ada@Example.ORG")
	if p.status != http.StatusOK || !isPasswordPage(p) {
		t.Fatalf("expected the password page, got %d %s:\n%s", p.status, p.url, p.body)
	}
	// An address of the directory's domain that it does not hold looks
	// exactly like a wrong password.
	wrong := refusedPassword(t, e, r, b, p, "difference engine", "nobody@example.org")

	_, idt := r.callback(t, e, "contoso", postPassword(t, b, wrong, "analytical engine"))
	var c struct {
		claims
		Name string `json:"name"`
	}
	if err := idt.Claims(&c); err != nil {
		t.Fatal(err)
	}
	if !strings.EqualFold(c.Email, "ada@example.org") || !c.EmailVerified || c.IDP != ldapSource ||
		!slices.Equal(c.AMR, []string{"pwd"}) {
		t.Fatalf("claims %+v", c)
	}
	if s := guestSource(t, e, "contoso", "ada@example.org"); s != ldapSource {
		t.Fatalf("guest source %q, want %q", s, ldapSource)
	}
	// The password never reaches the logs.
	for _, en := range e.logs.All() {
		if strings.Contains(fmt.Sprint(en.Message, en.ContextMap()), "analytical engine") {
			t.Fatalf("a log line holds the password: %s %v", en.Message, en.ContextMap())
		}
	}
}

// The directory goes down: the password page answers with an error page
// (502, the organisation's sign-in could not be used), not a hang and not
// "wrong password"; once it is back the same guest signs in.
func TestLDAPDirectoryDown(t *testing.T) {
	srv := ldaptest.Start(t, ldaptest.Options{TLS: true, Users: []ldaptest.User{
		{UID: "ada", Name: "Ada Lovelace", Mail: []string{"ada@example.org"}, Password: "analytical engine"},
	}})
	e := newLDAPEnv(t, srv)
	r := newRP(t, e, "contoso", "portal", "contoso-secret")

	srv.Stop()
	b := newBrowser(t)
	p := postEmail(t, b, r.authURL(), "ada@example.org")
	down := postPassword(t, b, p, "analytical engine")
	if down.status != http.StatusBadGateway && down.status != http.StatusServiceUnavailable {
		t.Fatalf("directory down: %d %s:\n%s", down.status, down.url, down.body)
	}
	if isPasswordPage(down) && fieldError(down) != "" {
		t.Fatal("directory down was answered as a wrong password")
	}
	if guestSource(t, e, "contoso", "ada@example.org") != "" {
		t.Fatal("a failed sign-in recorded a guest")
	}

	srv.Restart()
	b = newBrowser(t)
	r = newRP(t, e, "contoso", "portal", "contoso-secret")
	_, idt := r.callback(t, e, "contoso", postPassword(t, b, postEmail(t, b, r.authURL(), "ada@example.org"), "analytical engine"))
	if c := idClaims(t, idt); c.IDP != ldapSource || !slices.Equal(c.AMR, []string{"pwd"}) {
		t.Fatalf("claims after recovery %+v", c)
	}
}
