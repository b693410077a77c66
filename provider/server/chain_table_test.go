package server_test

import (
	"context"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/guestpass/guestpass/pkg/config"
	"github.com/guestpass/guestpass/pkg/guests"
	"github.com/guestpass/guestpass/pkg/passhash"
	"github.com/guestpass/guestpass/provider/server"
)

// The redemption chain (PRODUCT.md B2, B10) as a table: address typed on
// the email page × tenant config × the guest's recorded source → the method
// the real pages choose. The tenants are written as YAML and go through
// config.Parse (defaults and presets included) and the production registry
// (server.Builtin). The upstream OpenID providers are real guestpass
// instances over TCP: choosing an upstream connector reads its discovery
// document, and the answer is the redirect to its authorization endpoint,
// which this test checks but does not follow.

// Tenants of the table, each one configuration of the chain.
const (
	// chainOrdered: directory, partner oidc, microsoft, google, home
	// tenant, then passcodes (on). The config refuses two connectors
	// claiming one domain, so order shows between the connectors and the
	// passcode, which claims every address and comes last.
	chainOrdered = "ordered"
	// chainNoGoogle: directory only, passcodes on; Google is not
	// configured, so gmail.com is an ordinary domain.
	chainNoGoogle = "nogoogle"
	// chainClosed: directory and google, passcodes off.
	chainClosed = "closed"
	// chainHome: the home tenant of home.example (passcodes).
	chainHome = "home"
)

// chainTenantsYAML is the tenants section; %[1]s, %[2]s and %[3]s are the
// issuers of the upstreams playing Microsoft, Google and the partner, %[4]s
// a directory password hash.
const chainTenantsYAML = `
tenants:
  - id: ordered
    selfServiceSignUp: true
    emailOTP: {enabled: true}
    clients: [{id: portal, secret: portal-secret, redirectURIs: ["` + rpCallback + `"]}]
    connectors:
      - {type: directory, id: staff, name: Staff, domains: [staff.example],
         users: [{email: ada@staff.example, name: Ada, passwordHash: "%[4]s"}]}
      - {type: oidc, id: partner, name: Partner, domains: [partner.example, xn--bcher-kva.example],
         issuer: "%[3]s", clientID: portal, clientSecret: portal-secret}
      - {type: microsoft, issuer: "%[1]s", clientID: portal, clientSecret: portal-secret}
      - {type: google, issuer: "%[2]s", clientID: portal, clientSecret: portal-secret}
      - {type: tenant, home: home}
  - id: nogoogle
    selfServiceSignUp: true
    emailOTP: {enabled: true}
    clients: [{id: portal, secret: portal-secret, redirectURIs: ["` + rpCallback + `"]}]
    connectors:
      - {type: directory, id: staff, name: Staff, domains: [staff.example],
         users: [{email: ada@staff.example, name: Ada, passwordHash: "%[4]s"}]}
  - id: closed
    selfServiceSignUp: true
    emailOTP: {enabled: false}
    clients: [{id: portal, secret: portal-secret, redirectURIs: ["` + rpCallback + `"]}]
    connectors:
      - {type: directory, id: staff, name: Staff, domains: [staff.example],
         users: [{email: ada@staff.example, name: Ada, passwordHash: "%[4]s"}]}
      - {type: google, issuer: "%[2]s", clientID: portal, clientSecret: portal-secret}
  - id: home
    displayName: Home Org
    domains: [home.example]
    selfServiceSignUp: true
    emailOTP: {enabled: true}
    clients: [{id: portal, secret: portal-secret, redirectURIs: ["` + rpCallback + `"]}]
`

// chainTenantIDs are the tenants with upstream connectors, whose callback
// URLs the upstreams register.
var chainTenantIDs = []string{chainOrdered, chainNoGoogle, chainClosed}

// chainDeployment is the downstream guestpass and the issuers of its
// upstreams, by what they play.
type chainDeployment struct {
	e   *env
	ups map[string]string // "microsoft", "google", "partner" -> issuer
}

// startPlainUpstream starts a guestpass instance whose upTenant has the
// client upClient registered for every callback.
func startPlainUpstream(t *testing.T, callbacks []string) *env {
	t.Helper()
	return newEnv(t, envOptions{configure: func(c *config.Config) {
		c.Tenant(upTenant).Client(upClient).RedirectURIs = callbacks
	}})
}

func newChainDeployment(t *testing.T) *chainDeployment {
	t.Helper()
	hash, err := passhash.NewBcrypt("irrelevant here", passhash.MinBcryptCost)
	if err != nil {
		t.Fatal(err)
	}
	d := &chainDeployment{ups: map[string]string{}}
	d.e = newEnv(t, envOptions{connectors: server.Builtin(), configure: func(c *config.Config) {
		var callbacks []string
		for _, id := range chainTenantIDs {
			callbacks = append(callbacks, c.BaseURL+"/"+id+"/login/callback")
		}
		for _, name := range []string{"microsoft", "google", "partner"} {
			d.ups[name] = startPlainUpstream(t, callbacks).issuer(upTenant)
		}
		c.Tenants = parseChainTenants(t, c.BaseURL,
			fmt.Sprintf(chainTenantsYAML, d.ups["microsoft"], d.ups["google"], d.ups["partner"], hash))
	}})
	return d
}

// parseChainTenants reads the tenants through config.Parse, so that the
// presets' defaults (google's domains, connector names) and validation
// apply as they do to an admin's file.
func parseChainTenants(t *testing.T, baseURL, tenants string) []config.Tenant {
	t.Helper()
	doc := fmt.Sprintf(`
baseURL: %s
store: {type: memory}
secrets: {cookieHashKey: %s, cookieBlockKey: %s, codeKey: %s}
mail:
  from: "guestpass <no-reply@guestpass.example>"
  driver: smtp
  smtp: {addr: "127.0.0.1:25", tls: none}
`, baseURL, secret(64), secret(32), secret(32)) + tenants
	cfg, err := config.Parse([]byte(doc), "chain.yaml", func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	return cfg.Tenants
}

// Outcomes, as the browser sees them after posting the email form.
const (
	outPassword = "password page"
	outPasscode = "send-code page"
	outNoMethod = "no-method page"
	outDisabled = "passcode-disabled page"
	outInvalid  = "address refused on the email page"
	outHome     = "home tenant's authorize"
	// outUp is followed by the upstream's name: "upstream microsoft".
	outUp = "upstream "
)

// outcome posts typed on tenant's email page and classifies the answer.
// For a redirect to an upstream it also checks what an upstream must be
// asked: its client, the tenant's one callback, the canonical address as
// login_hint.
func (d *chainDeployment) outcome(t *testing.T, tenant, typed, canonical string) string {
	t.Helper()
	r := newRP(t, d.e, tenant, "portal", "portal-secret")
	b := newBrowser(t)
	p := b.get(r.authURL())
	action, csrf := p.form(t, 0)
	q := b.raw(http.MethodPost, action, url.Values{"csrf": {csrf}, "email": {typed}})
	if to := q.location(t); to != "" && !strings.HasPrefix(to, d.e.issuer(tenant)+"/") {
		return d.redirectOutcome(t, tenant, canonical, to)
	}
	return pageOutcome(t, b.follow(q))
}

// redirectOutcome names the provider a redirect leaving the tenant goes to.
func (d *chainDeployment) redirectOutcome(t *testing.T, tenant, canonical, to string) string {
	t.Helper()
	q := mustURL(t, to).Query()
	if q.Get("login_hint") != canonical || q.Get("response_type") != "code" {
		t.Errorf("redirect %s: want login_hint %q and the code flow", to, canonical)
	}
	if strings.HasPrefix(to, d.e.issuer(chainHome)+"/") {
		if q.Get("client_id") != "guestpass:tenant:"+tenant {
			t.Errorf("home tenant asked for client %q", q.Get("client_id"))
		}
		return outHome
	}
	for name, iss := range d.ups {
		if strings.HasPrefix(to, iss+"/") {
			if q.Get("client_id") != upClient || q.Get("redirect_uri") != d.e.issuer(tenant)+"/login/callback" {
				t.Errorf("upstream %s asked for client %q, redirect_uri %q", name, q.Get("client_id"), q.Get("redirect_uri"))
			}
			return outUp + name
		}
	}
	t.Fatalf("redirect to an unknown place: %s", to)
	return ""
}

// pageOutcome names the page the tenant itself shows.
func pageOutcome(t *testing.T, p page) string {
	t.Helper()
	body := html.UnescapeString(p.body)
	switch {
	case p.status == http.StatusOK && isPasswordPage(p):
		return outPassword
	case p.status == http.StatusOK && strings.Contains(p.body, "/login/send"):
		return outPasscode
	case p.status == http.StatusForbidden && strings.Contains(body, "No sign-in method is available"):
		return outNoMethod
	case p.status == http.StatusForbidden && strings.Contains(body, "one-time passcode is turned off"):
		return outDisabled
	case p.status == http.StatusBadRequest && strings.Contains(p.body, `name="email"`):
		return outInvalid
	}
	t.Fatalf("unclassified page %d %s:\n%s", p.status, p.url, p.body)
	return ""
}

func TestChainTable(t *testing.T) {
	d := newChainDeployment(t)
	repo := guests.NewRepo(d.e.store, d.e.cfg.Secrets.Code, d.e.clock.Now)
	for i, tc := range []struct {
		tenant, typed string
		// canonical is the address the server should work with ("" for
		// an address it must refuse).
		canonical string
		// source, when set, is recorded on the guest of canonical first.
		source string
		want   string
	}{
		// No guest yet: the first connector claiming the address wins.
		{chainOrdered, "ada@staff.example", "ada@staff.example", "", outPassword},
		{chainOrdered, "ADA@Staff.Example.", "ada@staff.example", "", outPassword},
		{chainOrdered, "eve@partner.example", "eve@partner.example", "", outUp + "partner"},
		{chainOrdered, "sam@outlook.com", "sam@outlook.com", "", outUp + "microsoft"},
		{chainOrdered, "Sam@Hotmail.COM", "sam@hotmail.com", "", outUp + "microsoft"},
		{chainOrdered, "kim@home.example", "kim@home.example", "", outHome},
		{chainOrdered, "pat@elsewhere.example", "pat@elsewhere.example", "", outPasscode},
		// B10: case, googlemail, trailing dot, IDNA, the Kelvin sign.
		{chainOrdered, "User@GMAIL.COM", "user@gmail.com", "", outUp + "google"},
		{chainOrdered, "x@googlemail.com", "x@googlemail.com", "", outUp + "google"},
		{chainOrdered, "x@gmail.com.", "x@gmail.com", "", outUp + "google"},
		{chainOrdered, "Ada@BÜCHER.example", "ada@xn--bcher-kva.example", "", outUp + "partner"},
		{chainOrdered, "\u212Aate@gmail.com", "", "", outInvalid},
		{chainOrdered, "\u212Aate@staff.example", "", "", outInvalid},
		// In the domain the Kelvin sign is IDNA-mapped to k, as DNS
		// resolves it: the same domain.
		{chainOrdered, "sam@outloo\u212A.com", "sam@outlook.com", "", outUp + "microsoft"},
		{chainOrdered, "Bo@xn--bcher-kva.example", "bo@xn--bcher-kva.example", "", outUp + "partner"},
		// Google is federated only where the tenant configured it.
		{chainNoGoogle, "x@gmail.com", "x@gmail.com", "", outPasscode},
		{chainNoGoogle, "x@googlemail.com", "x@googlemail.com", "", outPasscode},
		// Sticky sources: a passcode guest stays on passcodes...
		{chainOrdered, "User@GMAIL.COM", "user@gmail.com", "otp", outPasscode},
		{chainOrdered, "Otto@staff.example", "otto@staff.example", "otp", outPasscode},
		{chainOrdered, "otto@home.example", "otto@home.example", "otp", outPasscode},
		// (the guest is found whatever form the address is typed in)
		{chainOrdered, "grace@GMAIL.com.", "grace@gmail.com", "otp", outPasscode},
		{chainOrdered, "IDA@Bücher.Example", "ida@xn--bcher-kva.example", "otp", outPasscode},
		// ...a federated or directory guest stays with its source when
		// another member (or none, or the passcode) would claim the
		// address now...
		{chainOrdered, "fed@elsewhere.example", "fed@elsewhere.example", "google", outUp + "google"},
		{chainOrdered, "dir@partner.example", "dir@partner.example", "directory:staff", outPassword},
		{chainOrdered, "ms@outlook.com", "ms@outlook.com", "tenant:home", outHome},
		{chainOrdered, "dir@outlook.com", "dir@outlook.com", "directory:staff", outPassword},
		{chainOrdered, "p@staff.example", "p@staff.example", "oidc:partner", outUp + "partner"},
		// ...and a source whose connector is gone has no method, never
		// the passcode.
		{chainOrdered, "gone@gmail.com", "gone@gmail.com", "oidc:removed", outNoMethod},
		{chainNoGoogle, "was@gmail.com", "was@gmail.com", "google", outNoMethod},
		// Passcodes off: unclaimed addresses have no method, passcode
		// guests get the disabled page even where a connector claims
		// the address now, connectors still work.
		{chainClosed, "pat@elsewhere.example", "pat@elsewhere.example", "", outNoMethod},
		{chainClosed, "pat@elsewhere.example", "pat@elsewhere.example", "otp", outDisabled},
		{chainClosed, "old@gmail.com", "old@gmail.com", "otp", outDisabled},
		{chainClosed, "ada@staff.example", "ada@staff.example", "", outPassword},
		{chainClosed, "Grace@GoogleMail.com.", "grace@googlemail.com", "", outUp + "google"},
		{chainClosed, "fed@elsewhere.example", "fed@elsewhere.example", "google", outUp + "google"},
	} {
		name := fmt.Sprintf("%02d_%s_%s_%s", i, tc.tenant, tc.typed, tc.source)
		t.Run(name, func(t *testing.T) {
			if tc.source != "" {
				if _, err := repo.For(tc.tenant).RecordSignIn(context.Background(), tc.canonical,
					guests.SignIn{Email: tc.canonical, Source: tc.source}); err != nil {
					t.Fatal(err)
				}
			}
			if got := d.outcome(t, tc.tenant, tc.typed, tc.canonical); got != tc.want {
				t.Fatalf("%s at %s (source %q): %s, want %s", tc.typed, tc.tenant, tc.source, got, tc.want)
			}
			// Choosing a method records nothing.
			if tc.canonical != "" && tc.source == "" {
				if s := guestSource(t, d.e, tc.tenant, tc.canonical); s != "" {
					t.Fatalf("choosing a method recorded source %q", s)
				}
			}
		})
	}
}
