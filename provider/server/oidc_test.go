package server_test

import (
	"html"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/guestpass/guestpass/connectors/mock"
	"github.com/guestpass/guestpass/pkg/config"
	"github.com/guestpass/guestpass/provider/server"
)

// Upstream OpenID connectors (oidc and its presets microsoft and google)
// against REAL upstream providers over TCP: other guestpass instances,
// each an OP whose "fabrikam" tenant has a confidential client registered
// with the downstream tenant's one callback URL, and signs its people in
// with a password (the mock password connector, so that a test chooses
// who exists up there). The downstream is the production registry
// (server.Builtin), and an independent RP (coreos/go-oidc) signs in at it.

// The downstream tenant, and the upstream tenant and client of every
// upstream instance. Their ids differ because a browser keeps cookies per
// host, not per port, and guestpass scopes them by the tenant's path.
const (
	downTenant  = "contoso"
	upTenant    = "fabrikam"
	upClient    = "portal"
	upSecret    = "portal-secret"
	upPassword  = "upstream horse"
	srcPartnerO = "oidc:partner"
)

// upstream is one guestpass instance playing a provider.
type upstream struct {
	*env
	m *mocks
}

// pw is the upstream's password connector, to add people to it.
func (u *upstream) pw() *mock.Password { return u.m.pw[upTenant] }

// startUpstream starts a guestpass instance whose upTenant signs in the
// addresses of domains with a password, for the client whose redirect URI
// is callback.
func startUpstream(t *testing.T, callback string, domains ...string) *upstream {
	t.Helper()
	m := newMocks()
	e := newEnv(t, envOptions{connectors: m.registry(), configure: func(c *config.Config) {
		tn := c.Tenant(upTenant)
		tn.SelfServiceSignUp = true
		tn.Connectors = []config.Connector{{Type: mock.TypePassword, ID: "accounts", Name: "Accounts", Domains: domains}}
		tn.Client(upClient).RedirectURIs = []string{callback}
	}})
	return &upstream{env: e, m: m}
}

// federation is the downstream guestpass and its three upstreams.
type federation struct {
	down                  *env
	msft, google, partner *upstream
}

// newFederation starts the upstreams first, from inside the downstream's
// configure: the downstream's base URL (hence its callback URL) exists
// only once its listener does, and its connectors need the upstreams'
// issuers. deadIssuer is an issuer where nothing listens.
func newFederation(t *testing.T) *federation {
	t.Helper()
	f := &federation{}
	f.down = newEnv(t, envOptions{configure: func(c *config.Config) {
		cb := c.BaseURL + "/" + downTenant + "/login/callback"
		f.msft = startUpstream(t, cb, "outlook.com", "hotmail.com")
		f.google = startUpstream(t, cb, config.GoogleDomains()...)
		f.partner = startUpstream(t, cb, "partner.example")
		up := func(typ, id string, u *upstream, domains ...string) config.Connector {
			return config.Connector{Type: typ, ID: id, Name: "The " + id, Domains: domains,
				Issuer: u.issuer(upTenant), ClientID: upClient, ClientSecret: upSecret}
		}
		c.Tenant(downTenant).Connectors = []config.Connector{
			up("microsoft", "microsoft", f.msft, "outlook.com", "hotmail.com"),
			// As the config's preset fills it: gmail.com and googlemail.com.
			up("google", "google", f.google, config.GoogleDomains()...),
			up("oidc", "partner", f.partner, "partner.example"),
			{Type: "oidc", ID: "dead", Name: "Dead Corp", Domains: []string{"dead.example"},
				Issuer: deadIssuer(t), ClientID: "x", ClientSecret: "y"},
		}
	}})
	return f
}

// deadIssuer is an http URL on 127.0.0.1 where nothing listens (a port
// just released): connecting is refused at once.
func deadIssuer(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	return "http://" + addr + "/idp"
}

// toUpstream submits addr at the downstream's email page and follows the
// browser to the upstream's password page (the login_hint skips the
// upstream's email page).
func (f *federation) toUpstream(t *testing.T, b *browser, authURL, addr string, u *upstream) page {
	t.Helper()
	p := postEmail(t, b, authURL, addr)
	if !strings.HasPrefix(p.url, u.base+"/") || !isPasswordPage(p) {
		t.Fatalf("expected the upstream %s's password page, got %d %s:\n%s", u.base, p.status, p.url, p.body)
	}
	return p
}

// backToDown posts the password at the upstream and follows redirects by
// hand up to the downstream's callback URL, which it returns unvisited.
func (f *federation) backToDown(t *testing.T, b *browser, p page) string {
	t.Helper()
	action, csrf := p.form(t, 0)
	q := b.raw(http.MethodPost, action, url.Values{"csrf": {csrf}, "password": {upPassword}})
	for i := 0; i < 10; i++ {
		next := q.location(t)
		if next == "" {
			t.Fatalf("the upstream stopped at %d %s:\n%s", q.status, q.url, q.body)
		}
		if strings.HasPrefix(next, f.down.issuer(downTenant)+"/login/callback?") {
			return next
		}
		q = b.raw(http.MethodGet, next, nil)
	}
	t.Fatal("too many redirects before the downstream's callback")
	return ""
}

func TestOIDCUpstreamsSignIn(t *testing.T) {
	f := newFederation(t)
	for _, tc := range []struct {
		name, typed, canonical, src string
		up                          *upstream
	}{
		{"microsoft", "Ada@Outlook.com", "ada@outlook.com", "microsoft", f.msft},
		{"google", "Grace@GMAIL.COM", "grace@gmail.com", "google", f.google},
		{"googlemail", "lin@googlemail.com.", "lin@googlemail.com", "google", f.google},
		{"partner", "bo@partner.example", "bo@partner.example", srcPartnerO, f.partner},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.up.pw().SetUser(tc.canonical, mock.User{Password: upPassword})
			r := newRP(t, f.down, downTenant, "portal", "contoso-secret")
			b := newBrowser(t)
			p := f.toUpstream(t, b, r.authURL(), tc.typed, tc.up)
			// The upstream was asked with PKCE S256, a nonce and the hint.
			_, idt := r.callback(t, f.down, downTenant, b.get(f.backToDown(t, b, p)))
			c := idClaims(t, idt)
			if !strings.EqualFold(strings.TrimSuffix(c.Email, "."), tc.canonical) || !c.EmailVerified || c.IDP != tc.src || !slices.Equal(c.AMR, []string{"fed"}) {
				t.Fatalf("claims %+v, want email %s, verified, idp %s, amr [fed]", c, tc.canonical, tc.src)
			}
			if s := guestSource(t, f.down, downTenant, tc.canonical); s != tc.src {
				t.Fatalf("guest source %q, want %q", s, tc.src)
			}
		})
	}
}

// What guestpass sends the upstream: code flow with PKCE S256, state,
// nonce and login_hint, to the one callback URL.
func TestOIDCAuthorizationRequest(t *testing.T) {
	f := newFederation(t)
	r := newRP(t, f.down, downTenant, "portal", "contoso-secret")
	b := newBrowser(t)
	to := upstreamAuthorize(t, b, r.authURL(), "Eve@partner.example")
	u := mustURL(t, to)
	q := u.Query()
	if !strings.HasPrefix(to, f.partner.issuer(upTenant)+"/") || q.Get("response_type") != "code" ||
		q.Get("client_id") != upClient || q.Get("redirect_uri") != f.down.issuer(downTenant)+"/login/callback" ||
		q.Get("code_challenge_method") != "S256" || len(q.Get("code_challenge")) != 43 || q.Get("nonce") == "" ||
		!strings.HasPrefix(q.Get("state"), "partner.") || q.Get("login_hint") != "eve@partner.example" ||
		q.Get("scope") != "openid email profile" || q.Has("response_mode") {
		t.Fatalf("authorization request %s", to)
	}
}

// upstreamAuthorize submits addr at the downstream and returns the
// upstream authorization URL it redirects to, unvisited.
func upstreamAuthorize(t *testing.T, b *browser, authURL, addr string) string {
	t.Helper()
	p := b.get(authURL)
	action, csrf := p.form(t, 0)
	q := b.raw(http.MethodPost, action, url.Values{"csrf": {csrf}, "email": {addr}})
	if q.status != http.StatusSeeOther || q.location(t) == "" {
		t.Fatalf("expected a redirect to the upstream, got %d:\n%s", q.status, q.body)
	}
	return q.location(t)
}

var restartRe = regexp.MustCompile(`href="([^"]*restart=1[^"]*)"`)

// The person signs in upstream as someone else than the address typed
// downstream: refused, nothing recorded for either address.
func TestOIDCUpstreamOtherAddressRefused(t *testing.T) {
	f := newFederation(t)
	f.partner.pw().SetUser("mallory@partner.example", mock.User{Password: upPassword})
	r := newRP(t, f.down, downTenant, "portal", "contoso-secret")
	b := newBrowser(t)
	p := f.toUpstream(t, b, r.authURL(), "alice@partner.example", f.partner)
	m := restartRe.FindStringSubmatch(p.body)
	if m == nil {
		t.Fatalf("the upstream's password page has no 'use another address' link:\n%s", p.body)
	}
	p = b.get(mustURL(t, p.url).ResolveReference(mustURL(t, html.UnescapeString(m[1]))).String())
	action, csrf := p.form(t, 0)
	p = b.post(action, url.Values{"csrf": {csrf}, "email": {"mallory@partner.example"}})
	if !isPasswordPage(p) {
		t.Fatalf("expected the upstream's password page for mallory, got %d %s", p.status, p.url)
	}
	got := b.get(f.backToDown(t, b, p))
	if got.status != http.StatusForbidden || strings.HasPrefix(got.url, rpCallback) || !strings.Contains(html.UnescapeString(got.body), "doesn't match") {
		t.Fatalf("another upstream address: %d %s:\n%s", got.status, got.url, got.body)
	}
	for _, a := range []string{"alice@partner.example", "mallory@partner.example"} {
		if s := guestSource(t, f.down, downTenant, a); s != "" {
			t.Fatalf("%s recorded with source %q", a, s)
		}
	}
}

// A tampered state at the callback is refused and records nothing; the
// untouched answer still signs in.
func TestOIDCTamperedState(t *testing.T) {
	f := newFederation(t)
	f.msft.pw().SetUser("tam@hotmail.com", mock.User{Password: upPassword})
	r := newRP(t, f.down, downTenant, "portal", "contoso-secret")
	b := newBrowser(t)
	back := f.backToDown(t, b, f.toUpstream(t, b, r.authURL(), "tam@hotmail.com", f.msft))
	u := mustURL(t, back)
	q := u.Query()
	q.Set("state", q.Get("state")[:len(q.Get("state"))-1]+"A")
	if q.Get("state") == mustURL(t, back).Query().Get("state") {
		q.Set("state", q.Get("state")[:len(q.Get("state"))-1]+"B")
	}
	u.RawQuery = q.Encode()
	if p := b.get(u.String()); p.status != http.StatusBadRequest || strings.HasPrefix(p.url, rpCallback) {
		t.Fatalf("tampered state: %d %s", p.status, p.url)
	}
	if s := guestSource(t, f.down, downTenant, "tam@hotmail.com"); s != "" {
		t.Fatalf("a tampered state recorded a guest with source %q", s)
	}
	r.callback(t, f.down, downTenant, b.get(back))
	if s := guestSource(t, f.down, downTenant, "tam@hotmail.com"); s != "microsoft" {
		t.Fatalf("guest source %q", s)
	}
}

// An ID token whose nonce is another sign-in's (the nonce of one
// authorization request replayed into another of the same browser) is
// refused, nothing recorded: the state and PKCE verifier are right, only
// the nonce is wrong.
func TestOIDCWrongNonce(t *testing.T) {
	f := newFederation(t)
	f.partner.pw().SetUser("nina@partner.example", mock.User{Password: upPassword})
	b := newBrowser(t)
	first := mustURL(t, upstreamAuthorize(t, b, newRP(t, f.down, downTenant, "portal", "contoso-secret").authURL(), "nina@partner.example"))
	r := newRP(t, f.down, downTenant, "portal", "contoso-secret")
	second := mustURL(t, upstreamAuthorize(t, b, r.authURL(), "nina@partner.example"))
	q := second.Query()
	if q.Get("nonce") == first.Query().Get("nonce") {
		t.Fatal("two sign-ins drew the same nonce")
	}
	q.Set("nonce", first.Query().Get("nonce"))
	second.RawQuery = q.Encode()
	p := b.get(second.String())
	if !isPasswordPage(p) {
		t.Fatalf("expected the upstream's password page, got %d %s", p.status, p.url)
	}
	got := b.get(f.backToDown(t, b, p))
	if got.status < 400 || strings.HasPrefix(got.url, rpCallback) {
		t.Fatalf("wrong nonce accepted: %d %s", got.status, got.url)
	}
	if s := guestSource(t, f.down, downTenant, "nina@partner.example"); s != "" {
		t.Fatalf("a wrong nonce recorded a guest with source %q", s)
	}
}

// An upstream that cannot be reached gives a page at once (a 5xx; its
// wording is the login pages'), and nothing is recorded.
func TestOIDCUpstreamDown(t *testing.T) {
	f := newFederation(t)
	r := newRP(t, f.down, downTenant, "portal", "contoso-secret")
	p := postEmail(t, newBrowser(t), r.authURL(), "dan@dead.example")
	if p.status < 500 || p.status > 599 || !strings.HasPrefix(p.url, f.down.base) || !strings.Contains(p.body, "<html") {
		t.Fatalf("upstream down: %d %s:\n%s", p.status, p.url, p.body)
	}
	if s := guestSource(t, f.down, downTenant, "dan@dead.example"); s != "" {
		t.Fatalf("an unreachable upstream recorded a guest with source %q", s)
	}
}

// The google preset claims gmail.com and googlemail.com and nothing else:
// another address of the tenant goes on to the passcode.
func TestOIDCGoogleClaimsOnlyItsDomains(t *testing.T) {
	f := newFederation(t)
	r := newRP(t, f.down, downTenant, "portal", "contoso-secret")
	for _, a := range []string{"x@gmail.com", "x@GoogleMail.com"} {
		if to := upstreamAuthorize(t, newBrowser(t), r.authURL(), a); !strings.HasPrefix(to, f.google.base+"/") {
			t.Fatalf("%s went to %s, not the google upstream", a, to)
		}
	}
	for _, a := range []string{"x@google.com", "x@gmail.co.uk", "x@mail.gmail.com"} {
		p := postEmail(t, newBrowser(t), r.authURL(), a)
		if !strings.HasPrefix(p.url, f.down.base) || !strings.Contains(p.body, "/login/send") {
			t.Fatalf("%s: expected the passcode's send page, got %d %s", a, p.status, p.url)
		}
	}
}

// The README's YAML examples for Microsoft, Google and any OpenID
// provider are working configs: each, pasted under a tenant, passes the
// config's validation and opens with the production registry.
func TestOIDCReadmeExamples(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	readme := string(data)
	for heading, typ := range map[string]string{
		"#### Microsoft accounts": "microsoft", "#### Google": "google", "#### Any OpenID provider": "oidc",
	} {
		t.Run(typ, func(t *testing.T) {
			i := strings.Index(readme, heading)
			if i < 0 {
				t.Fatalf("README lacks %q", heading)
			}
			rest := readme[i:]
			start := strings.Index(rest, "```yaml\n")
			if start < 0 {
				t.Fatalf("no yaml block after %q", heading)
			}
			block := rest[start+len("```yaml\n"):]
			block = block[:strings.Index(block, "```")]
			text := "dev: true\nbaseURL: http://127.0.0.1:8099\nmail: {from: \"t <t@example.com>\", driver: log}\n" +
				"tenants:\n  - id: alpha\n    clients: [{id: app, secret: s, redirectURIs: [\"http://127.0.0.1:9/cb\"]}]\n" + block
			cfg, err := config.Parse([]byte(text), "README.md", func(string) (string, bool) { return "secret", true })
			if err != nil {
				t.Fatalf("README's %s example: %v\n%s", typ, err, block)
			}
			if cn := cfg.Tenant("alpha").Connectors; len(cn) != 1 || cn[0].Type != typ || cn[0].ClientSecret != "secret" {
				t.Fatalf("README's %s example parsed as %+v", typ, cn)
			}
			if err := server.CheckConnectors(cfg, nil); err != nil {
				t.Fatalf("README's %s example does not open: %v", typ, err)
			}
		})
	}
}
