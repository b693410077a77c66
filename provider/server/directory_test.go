package server_test

import (
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/guestpass/guestpass/connectors"
	"github.com/guestpass/guestpass/pkg/config"
	"github.com/guestpass/guestpass/pkg/passhash"
	"github.com/guestpass/guestpass/provider/server"
)

// The directory connector through the production registry (server.Builtin):
// a real RP (coreos/go-oidc) signs in on the password page of fabrikam, an
// invitation-only tenant, with directory users who are members.

// newDirectoryEnv gives fabrikam a directory connector "staff" for
// fabrikam.example: Ada with an argon2id hash, Grace with a bcrypt one.
func newDirectoryEnv(t *testing.T) *env {
	t.Helper()
	argon, err := passhash.NewArgon2id("analytical engine", passhash.Argon2Params{Memory: 64, Time: 1, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	bcrypt, err := passhash.NewBcrypt("cobol compiler", passhash.MinBcryptCost)
	if err != nil {
		t.Fatal(err)
	}
	return newEnv(t, envOptions{connectors: server.Builtin(), configure: func(c *config.Config) {
		for i := range c.Tenants {
			if c.Tenants[i].ID != "fabrikam" {
				continue
			}
			c.Tenants[i].Connectors = []config.Connector{{Type: "directory", ID: "staff", Name: "Fabrikam accounts",
				Domains: []string{"fabrikam.example"}, Users: []config.DirectoryUser{
					{Email: "Ada@fabrikam.example", Name: "Ada Lovelace", PasswordHash: argon},
					{Email: "grace@fabrikam.example", Name: "Grace Hopper", PasswordHash: bcrypt},
				}}}
		}
	}})
}

type directoryClaims struct {
	Sub           string   `json:"sub"`
	Email         string   `json:"email"`
	EmailVerified bool     `json:"email_verified"`
	Name          string   `json:"name"`
	IDP           string   `json:"idp"`
	AMR           []string `json:"amr"`
}

func TestDirectorySignIn(t *testing.T) {
	e := newDirectoryEnv(t)
	for _, u := range []struct{ typed, canonical, password, name string }{
		{"ADA@Fabrikam.Example", "ada@fabrikam.example", "analytical engine", "Ada Lovelace"},
		{"grace@fabrikam.example", "grace@fabrikam.example", "cobol compiler", "Grace Hopper"},
	} {
		r := newRP(t, e, "fabrikam", "portal", "portal-secret")
		b := newBrowser(t)
		p := postEmail(t, b, r.authURL(), u.typed)
		if p.status != http.StatusOK || !isPasswordPage(p) {
			t.Fatalf("%s: expected the password page, got %d %s:\n%s", u.typed, p.status, p.url, p.body)
		}
		_, idt := r.callback(t, e, "fabrikam", postPassword(t, b, p, u.password))
		var c directoryClaims
		if err := idt.Claims(&c); err != nil {
			t.Fatal(err)
		}
		if !strings.EqualFold(c.Email, u.canonical) || !c.EmailVerified || c.IDP != "directory:staff" ||
			!slices.Equal(c.AMR, []string{connectors.AMRPassword}) {
			t.Fatalf("%s: claims %+v", u.typed, c)
		}
		if s := guestSource(t, e, "fabrikam", u.canonical); s != "directory:staff" {
			t.Fatalf("%s: guest source %q", u.typed, s)
		}
	}
}

// perFlowRe matches the values that differ per browser and per flow (form
// tokens, CSP nonces, flow ids in actions and links), and the address as
// typed.
var perFlowRe = regexp.MustCompile(`(?:value|nonce)="[^"]*"|action="[^"]*"|href="[^"]*"|[A-Za-z0-9._%+-]+@fabrikam\.example`)

// A wrong password of a listed user and any password of an unlisted
// address of the claimed domain get the same page, and neither records a
// guest (no enumeration). The passwords of other users do not cross over.
func TestDirectoryWrongPasswordLooksLikeUnknownUser(t *testing.T) {
	e := newDirectoryEnv(t)
	r := newRP(t, e, "fabrikam", "portal", "portal-secret")
	try := func(email, password string) page {
		b := newBrowser(t)
		return postPassword(t, b, postEmail(t, b, r.authURL(), email), password)
	}
	wrong := try("ada@fabrikam.example", "analytical enginE")
	if wrong.status != http.StatusBadRequest || fieldError(wrong) == "" || !isPasswordPage(wrong) {
		t.Fatalf("wrong password: %d %q", wrong.status, fieldError(wrong))
	}
	for _, other := range []page{
		try("nobody@fabrikam.example", "analytical engine"),
		try("nobody@fabrikam.example", "wrong"),
		try("ada@fabrikam.example", "cobol compiler"), // Grace's password
	} {
		if other.status != wrong.status || fieldError(other) != fieldError(wrong) {
			t.Fatalf("got %d %q, a wrong password %d %q", other.status, fieldError(other), wrong.status, fieldError(wrong))
		}
		if a, b := perFlowRe.ReplaceAllString(other.body, ""), perFlowRe.ReplaceAllString(wrong.body, ""); a != b {
			t.Fatalf("the pages differ beyond tokens and the address:\n%s\n---\n%s", a, b)
		}
	}
	for _, addr := range []string{"nobody@fabrikam.example", "ada@fabrikam.example"} {
		if s := guestSource(t, e, "fabrikam", addr); s != "" {
			t.Fatalf("a failed sign-in recorded %s with source %q", addr, s)
		}
	}
}
