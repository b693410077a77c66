package server_test

import (
	"context"
	"errors"
	"html"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"

	"github.com/guestpass/guestpass/connectors"
	"github.com/guestpass/guestpass/connectors/mock"
	"github.com/guestpass/guestpass/pkg/config"
	"github.com/guestpass/guestpass/pkg/guests"
	"github.com/guestpass/guestpass/pkg/store/redistest"
	"github.com/guestpass/guestpass/provider/server"
)

// The mock connectors drive the redemption chain (PRODUCT.md B2) through the
// real server: the password page, the round trip through an upstream and
// its callback, sticky sources, a removed connector, refused identities.

// mocks opens the mock connectors of a test's tenants and keeps them, so
// the test can set users and claimed domains while the server runs.
type mocks struct {
	mu sync.Mutex
	pw map[string]*mock.Password // by tenant
	cb map[string]*mock.Callback
}

func (m *mocks) registry() *connectors.Registry {
	return connectors.NewRegistry().
		Register(mock.TypePassword, func(s connectors.Spec, _ connectors.Env) (connectors.Connector, error) {
			m.mu.Lock()
			defer m.mu.Unlock()
			m.pw[s.Tenant] = mock.NewPassword(s)
			return m.pw[s.Tenant], nil
		}).
		Register(mock.TypeCallback, func(s connectors.Spec, _ connectors.Env) (connectors.Connector, error) {
			m.mu.Lock()
			defer m.mu.Unlock()
			m.cb[s.Tenant] = mock.NewCallback(s)
			return m.cb[s.Tenant], nil
		})
}

// Sources of the mocks as configured below.
const (
	srcStaff   = "mockPassword:staff"
	srcPartner = "mockCallback:partner"
)

// newMockEnv gives both tenants a password mock for staff.example and a
// callback mock for partner.example, before the passcode.
func newMockEnv(t *testing.T) (*env, *mocks) {
	t.Helper()
	return newMockEnvOn(t, nil)
}

// newMockEnvOn is newMockEnv on a Redis (nil: the memory store).
func newMockEnvOn(t *testing.T, redis *redistest.Server) (*env, *mocks) {
	t.Helper()
	m := newMocks()
	e := newEnv(t, envOptions{redis: redis, connectors: m.registry(), configure: mockConnectors})
	return e, m
}

func newMocks() *mocks {
	return &mocks{pw: map[string]*mock.Password{}, cb: map[string]*mock.Callback{}}
}

// mockConnectors configures the mocks of newMockEnv in every tenant.
func mockConnectors(c *config.Config) {
	for i := range c.Tenants {
		c.Tenants[i].Connectors = []config.Connector{
			{Type: mock.TypePassword, ID: "staff", Name: "Staff", Domains: []string{"staff.example"}},
			{Type: mock.TypeCallback, ID: "partner", Name: "Partner", Domains: []string{"partner.example"}},
		}
	}
}

func isPasswordPage(p page) bool { return strings.Contains(p.body, `type="password"`) }

// postPassword posts a password on a password page.
func postPassword(t *testing.T, b *browser, p page, password string) page {
	t.Helper()
	if !isPasswordPage(p) {
		t.Fatalf("expected the password page, got %d %s:\n%s", p.status, p.url, p.body)
	}
	action, csrf := p.form(t, 0)
	return b.post(action, url.Values{"csrf": {csrf}, "password": {password}})
}

// refusedPassword posts password, a wrong one, on the password page p of
// b and expects a field error; then, in a new browser, the same password
// for unknown, an address of the connector's domain it does not hold, and
// expects the very same answer, and no guest recorded at contoso. It
// returns the wrong password's answer (again a password page).
func refusedPassword(t *testing.T, e *env, r *rp, b *browser, p page, password, unknown string) page {
	t.Helper()
	wrong := postPassword(t, b, p, password)
	if wrong.status != http.StatusBadRequest || fieldError(wrong) == "" {
		t.Fatalf("wrong password: %d %q", wrong.status, fieldError(wrong))
	}
	b2 := newBrowser(t)
	other := postPassword(t, b2, postEmail(t, b2, r.authURL(), unknown), password)
	if other.status != wrong.status || fieldError(other) != fieldError(wrong) {
		t.Fatalf("unknown user %d %q, wrong password %d %q", other.status, fieldError(other), wrong.status, fieldError(wrong))
	}
	if guestSource(t, e, "contoso", unknown) != "" {
		t.Fatal("a failed password sign-in recorded a guest")
	}
	return wrong
}

func guestSource(t *testing.T, e *env, tenant, canonical string) string {
	t.Helper()
	g, err := guests.NewRepo(e.store, e.cfg.Secrets.Code, e.clock.Now).For(tenant).Get(context.Background(), canonical)
	if errors.Is(err, guests.ErrNotFound) {
		return ""
	}
	if err != nil {
		t.Fatal(err)
	}
	return g.Source
}

type claims struct {
	Email         string   `json:"email"`
	EmailVerified bool     `json:"email_verified"`
	IDP           string   `json:"idp"`
	AMR           []string `json:"amr"`
}

func idClaims(t *testing.T, idt *gooidc.IDToken) claims {
	t.Helper()
	var c claims
	if err := idt.Claims(&c); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestConnectorPasswordPath(t *testing.T) {
	e, m := newMockEnv(t)
	m.pw["contoso"].SetUser("ada@staff.example", mock.User{Password: "right horse"})
	r := newRP(t, e, "contoso", "portal", "contoso-secret")
	b := newBrowser(t)

	p := postEmail(t, b, r.authURL(), "Ada@Staff.example")
	if p.status != http.StatusOK || !isPasswordPage(p) || strings.Contains(p.body, "/login/send") {
		t.Fatalf("expected the password page, got %d %s:\n%s", p.status, p.url, p.body)
	}
	// Without the form token nothing is checked.
	action, _ := p.form(t, 0)
	if q := b.raw(http.MethodPost, action, url.Values{"password": {"right horse"}}); q.status != http.StatusForbidden {
		t.Fatalf("password without CSRF: %d", q.status)
	}
	// An unknown account of a claimed domain looks exactly the same.
	wrong := refusedPassword(t, e, r, b, p, "wrong", "nobody@staff.example")

	_, idt := r.callback(t, e, "contoso", postPassword(t, b, wrong, "right horse"))
	c := idClaims(t, idt)
	if c.Email != "Ada@staff.example" || !c.EmailVerified || c.IDP != srcStaff || !slices.Equal(c.AMR, []string{"pwd"}) {
		t.Fatalf("claims %+v", c)
	}
	if s := guestSource(t, e, "contoso", "ada@staff.example"); s != srcStaff {
		t.Fatalf("guest source %q", s)
	}
	// Single sign-on carries what the connector established.
	sso := newRP(t, e, "contoso", "portal", "contoso-secret")
	_, idt = sso.callback(t, e, "contoso", b.get(sso.authURL()))
	if c := idClaims(t, idt); !c.EmailVerified || c.IDP != srcStaff || !slices.Equal(c.AMR, []string{"pwd"}) {
		t.Fatalf("SSO claims %+v", c)
	}
}

// upstreamRedirect submits an address claimed by the callback mock and
// returns where guestpass sends the browser (not followed).
func upstreamRedirect(t *testing.T, b *browser, authURL, email string) string {
	t.Helper()
	to := upstreamAuthorize(t, b, authURL, email)
	if !strings.Contains(to, "/login/callback?") {
		t.Fatalf("expected a redirect to the callback mock's upstream, got %s", to)
	}
	return to
}

// upstreamFormPost is upstreamRedirect split as an upstream answering with
// response_mode=form_post sends it: the callback URL and the form to POST.
func upstreamFormPost(t *testing.T, b *browser, authURL, email string) (string, url.Values) {
	t.Helper()
	u := mustURL(t, upstreamRedirect(t, b, authURL, email))
	form := u.Query()
	u.RawQuery = ""
	return u.String(), form
}

func TestConnectorCallbackPath(t *testing.T) {
	e, _ := newMockEnv(t)
	r := newRP(t, e, "contoso", "portal", "contoso-secret")
	b := newBrowser(t)
	to := upstreamRedirect(t, b, r.authURL(), "bo@partner.example")
	u := mustURL(t, to)
	if !strings.HasPrefix(to, e.base+"/contoso/login/callback?") || u.Query().Get("code") != "bo@partner.example" {
		t.Fatalf("upstream URL %s: not the tenant's callback, or the login hint was not passed", to)
	}
	if !strings.HasPrefix(u.Query().Get("state"), "partner.") {
		t.Fatalf("state %q does not name the connector", u.Query().Get("state"))
	}

	// A tampered state, and the right one in another browser: refused,
	// nothing recorded.
	tampered := mustURL(t, to)
	q := tampered.Query()
	q.Set("state", q.Get("state")+"x")
	tampered.RawQuery = q.Encode()
	if p := b.get(tampered.String()); p.status != http.StatusBadRequest {
		t.Fatalf("tampered state: %d %s", p.status, p.url)
	}
	if p := newBrowser(t).get(to); p.status < 400 || strings.HasPrefix(p.url, rpCallback) {
		t.Fatalf("state in another browser: %d %s", p.status, p.url)
	}
	if guestSource(t, e, "contoso", "bo@partner.example") != "" {
		t.Fatal("a refused callback recorded a guest")
	}

	_, idt := r.callback(t, e, "contoso", b.get(to))
	c := idClaims(t, idt)
	if c.Email != "bo@partner.example" || !c.EmailVerified || c.IDP != srcPartner || !slices.Equal(c.AMR, []string{"fed"}) {
		t.Fatalf("claims %+v", c)
	}
	if s := guestSource(t, e, "contoso", "bo@partner.example"); s != srcPartner {
		t.Fatalf("guest source %q", s)
	}
	// The same answer played again is refused as such (not merely because
	// the auth request is gone).
	if p := b.get(to); p.status != http.StatusBadRequest || !strings.Contains(html.UnescapeString(p.body), "This sign-in request isn't valid") {
		t.Fatalf("replayed state: %d %s:\n%s", p.status, p.url, p.body)
	}
}

// An upstream answering with response_mode=form_post POSTs the callback.
func TestConnectorCallbackFormPost(t *testing.T) {
	e, _ := newMockEnv(t)
	r := newRP(t, e, "contoso", "portal", "contoso-secret")
	b := newBrowser(t)
	callback, form := upstreamFormPost(t, b, r.authURL(), "fp@partner.example")
	r.callback(t, e, "contoso", b.follow(b.raw(http.MethodPost, callback, form)))
	if s := guestSource(t, e, "contoso", "fp@partner.example"); s != srcPartner {
		t.Fatalf("guest source %q", s)
	}
}

// An identity whose address differs from the one typed, or is not
// verified upstream, is refused with a page, and nothing is recorded.
func TestConnectorIdentityRefused(t *testing.T) {
	e, m := newMockEnv(t)
	r := newRP(t, e, "contoso", "portal", "contoso-secret")
	m.cb["contoso"].SetUser("mismatch@partner.example", mock.User{
		Identity: connectors.Identity{Email: "someone.else@partner.example", EmailVerified: true}})
	m.cb["contoso"].SetUser("unverified@partner.example", mock.User{
		Identity: connectors.Identity{Email: "unverified@partner.example", EmailVerified: false}})
	m.pw["contoso"].SetUser("mismatch@staff.example", mock.User{Password: "pw",
		Identity: connectors.Identity{Email: "other@staff.example", EmailVerified: true}})
	m.pw["contoso"].SetUser("unverified@staff.example", mock.User{Password: "pw",
		Identity: connectors.Identity{Email: "Unverified@STAFF.example"}})
	for _, tc := range []struct {
		addr, want string
		password   bool
	}{
		{"mismatch@partner.example", "doesn't match", false},
		{"unverified@partner.example", "hasn't verified", false},
		{"mismatch@staff.example", "doesn't match", true},
		{"unverified@staff.example", "hasn't verified", true},
	} {
		t.Run(tc.addr, func(t *testing.T) {
			b := newBrowser(t)
			var p page
			if tc.password {
				p = postPassword(t, b, postEmail(t, b, r.authURL(), tc.addr), "pw")
			} else {
				p = b.get(upstreamRedirect(t, b, r.authURL(), tc.addr))
			}
			if p.status != http.StatusForbidden || !strings.Contains(html.UnescapeString(p.body), tc.want) || strings.HasPrefix(p.url, rpCallback) {
				t.Fatalf("got %d %s, want 403 saying %q:\n%s", p.status, p.url, tc.want, p.body)
			}
			if s := guestSource(t, e, "contoso", tc.addr); s != "" {
				t.Fatalf("a refused identity recorded a guest with source %q", s)
			}
		})
	}
}

// At an invitation-only tenant an upstream identity signs in only an
// invited guest; the refusal comes after the upstream, so the redirect
// tells nobody who is invited.
func TestConnectorCallbackNeedsInvitation(t *testing.T) {
	e, _ := newMockEnv(t)
	r := newRP(t, e, "fabrikam", "portal", "portal-secret")
	b := newBrowser(t)
	p := b.get(upstreamRedirect(t, b, r.authURL(), "stranger@partner.example"))
	if p.status != http.StatusForbidden || strings.HasPrefix(p.url, rpCallback) {
		t.Fatalf("uninvited: %d %s", p.status, p.url)
	}
	if s := guestSource(t, e, "fabrikam", "stranger@partner.example"); s != "" {
		t.Fatalf("uninvited guest recorded with source %q", s)
	}
	invite(t, e, "fabrikam", "friend@partner.example", "Friend")
	b = newBrowser(t)
	r.callback(t, e, "fabrikam", b.get(upstreamRedirect(t, b, r.authURL(), "friend@partner.example")))
	if s := guestSource(t, e, "fabrikam", "friend@partner.example"); s != srcPartner {
		t.Fatalf("invited guest source %q", s)
	}
}

// Sources are sticky (B2 step 2): a passcode guest stays on passcodes when
// a connector later claims the domain; a connector's guest never falls
// back to passcodes; a guest whose connector was removed has no method.
func TestConnectorStickySources(t *testing.T) {
	e, m := newMockEnv(t)
	r := newRP(t, e, "contoso", "portal", "contoso-secret")

	// A passcode guest of a domain no connector claims yet.
	r.callback(t, e, "contoso", signIn(t, e, newBrowser(t), r.authURL(), "pat@later.example"))
	if s := guestSource(t, e, "contoso", "pat@later.example"); s != "otp" {
		t.Fatalf("passcode guest source %q", s)
	}
	m.pw["contoso"].SetDomains("staff.example", "later.example")
	// A new address of that domain goes to the connector now...
	if p := postEmail(t, newBrowser(t), r.authURL(), "new@later.example"); !isPasswordPage(p) {
		t.Fatalf("new address of a claimed domain: %d %s", p.status, p.url)
	}
	// ...the passcode guest stays on passcodes (past the resend cooldown).
	e.clock.Advance(2 * time.Minute)
	b := newBrowser(t)
	r.callback(t, e, "contoso", signIn(t, e, b, r.authURL(), "pat@later.example"))

	// A connector's guest stays with it when the connector no longer
	// claims the domain, and passcodes never take over.
	b = newBrowser(t)
	r.callback(t, e, "contoso", b.get(upstreamRedirect(t, b, r.authURL(), "cy@partner.example")))
	m.cb["contoso"].SetDomains()
	b = newBrowser(t)
	r.callback(t, e, "contoso", b.get(upstreamRedirect(t, b, r.authURL(), "cy@partner.example")))

	// A guest whose connector is gone from the config: no method, and
	// no passcode.
	if _, err := guests.NewRepo(e.store, e.cfg.Secrets.Code, e.clock.Now).For("contoso").RecordSignIn(context.Background(),
		"gone@partner.example", guests.SignIn{Email: "gone@partner.example", Source: "mockCallback:removed"}); err != nil {
		t.Fatal(err)
	}
	p := postEmail(t, newBrowser(t), r.authURL(), "gone@partner.example")
	if p.status != http.StatusForbidden || !strings.Contains(p.body, "No sign-in method") {
		t.Fatalf("removed connector: %d %s:\n%s", p.status, p.url, p.body)
	}
}

// The registry refuses a configured type it has no factory for, naming
// the file, the key and the type.
func TestConnectorTypeNotImplemented(t *testing.T) {
	cfg := &config.Config{Path: "guestpass.yaml", Tenants: []config.Tenant{
		{ID: "a", Connectors: []config.Connector{{Type: mock.TypePassword, ID: "ok"}}},
		{ID: "b", Connectors: []config.Connector{{Type: "saml", ID: "contoso"}, {Type: "ldap", ID: "corp"}}},
	}}
	m := newMocks()
	err := server.CheckConnectors(cfg, m.registry())
	var ce *config.Error
	if !errors.As(err, &ce) || len(ce.Problems) != 2 {
		t.Fatalf("CheckConnectors = %v", err)
	}
	for _, want := range []string{
		`guestpass.yaml: tenants[1].connectors[0].type: connector type "saml" is not implemented yet in this version`,
		`guestpass.yaml: tenants[1].connectors[1].type: connector type "ldap" is not implemented yet in this version`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message lacks %q:\n%v", want, err)
		}
	}
	// The mocks are not among the production registry's types.
	cfg.Tenants = cfg.Tenants[:1]
	if err := server.CheckConnectors(cfg, nil); err == nil || !strings.Contains(err.Error(), `"mockPassword" is not implemented`) {
		t.Fatalf("production registry accepted a mock: %v", err)
	}
}
