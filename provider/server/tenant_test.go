package server_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"html"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/guestpass/guestpass/pkg/config"
	"github.com/guestpass/guestpass/pkg/mail/mailtest"
	"github.com/guestpass/guestpass/provider/server"
)

// Home tenants (PRODUCT.md B2, type tenant): one deployment, two tenants.
// contoso, the home, verified contoso.example and signs its people in with
// passcodes; fabrikam sends addresses of contoso.example to contoso, over
// HTTP at the base URL like any upstream, with the client contoso's OP
// implies for it.

const impliedClient = "guestpass:tenant:fabrikam"

func newTenantEnv(t *testing.T) *env {
	t.Helper()
	return newEnv(t, envOptions{configure: func(c *config.Config) {
		c.Tenant("contoso").Domains = []string{"contoso.example"}
		// As the config's defaults fill {type: tenant, home: contoso}.
		c.Tenant("fabrikam").Connectors = []config.Connector{
			{Type: "tenant", ID: "contoso", Name: "Contoso", Home: "contoso", Domains: []string{"contoso.example"}},
		}
	}})
}

// impliedSecret recomputes the derived secret, to show that only it opens
// the implied client (and that the rest of these tests are not refused
// for a wrong secret).
func impliedSecret(e *env) string {
	m := hmac.New(sha256.New, e.cfg.Secrets.Code)
	m.Write([]byte("guestpass/tenant-client/contoso/fabrikam"))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func TestTenantHomeSignIn(t *testing.T) {
	e := newTenantEnv(t)
	invite(t, e, "fabrikam", "ada@contoso.example", "Ada")
	r := newRP(t, e, "fabrikam", "portal", "portal-secret")
	b := newBrowser(t)

	// fabrikam's email page sends the browser to contoso, which asks for
	// the passcode of the hinted address, on behalf of Fabrikam.
	p := postEmail(t, b, r.authURL(), "Ada@CONTOSO.example.")
	if !strings.HasPrefix(p.url, e.issuer("contoso")+"/") || !strings.Contains(p.body, "/login/send") {
		t.Fatalf("expected contoso's send-code page, got %d %s:\n%s", p.status, p.url, p.body)
	}
	if !strings.Contains(html.UnescapeString(p.body), "ada@contoso.example") {
		t.Fatalf("contoso's page does not name the hinted address:\n%s", p.body)
	}
	// contoso mails the code for Fabrikam (the implied client's name).
	action, csrf := p.form(t, 0)
	p = b.post(action, url.Values{"csrf": {csrf}})
	m, err := e.smtp.WaitFor("ada@contoso.example", 10*time.Second)
	if err != nil {
		t.Fatalf("no mail from contoso: %v", err)
	}
	if !strings.Contains(m.Text, "Your sign-in code for Fabrikam") {
		t.Fatalf("contoso's mail does not name Fabrikam:\n%s", m.Text)
	}
	action, csrf = p.form(t, 0)
	_, idt := r.callback(t, e, "fabrikam", b.post(action, url.Values{"csrf": {csrf}, "code": {mailtest.CodeIn(m.Text)}}))
	c := idClaims(t, idt)
	if !strings.EqualFold(c.Email, "ada@contoso.example") || !c.EmailVerified || c.IDP != "tenant:contoso" || !slices.Equal(c.AMR, []string{"fed"}) {
		t.Fatalf("claims %+v, want ada@contoso.example, verified, idp tenant:contoso, amr [fed]", c)
	}
	if s := guestSource(t, e, "fabrikam", "ada@contoso.example"); s != "tenant:contoso" {
		t.Fatalf("fabrikam's guest source %q", s)
	}
	// The home tenant authenticated her its own way and keeps its record.
	if s := guestSource(t, e, "contoso", "ada@contoso.example"); s != "otp" {
		t.Fatalf("contoso's guest source %q", s)
	}

	// The implied client is no app of contoso's.
	if apps := newBrowser(t).get(e.issuer("contoso") + "/apps"); strings.Contains(apps.body, "Fabrikam") {
		t.Fatalf("contoso's apps page lists the implied client:\n%s", apps.body)
	}
}

// A person already signed in at their home tenant is not asked again:
// contoso's session answers fabrikam's request without a page.
func TestTenantHomeSessionIsReused(t *testing.T) {
	e := newTenantEnv(t)
	invite(t, e, "fabrikam", "cy@contoso.example", "Cy")
	b := newBrowser(t)
	home := newRP(t, e, "contoso", "portal", "contoso-secret")
	home.callback(t, e, "contoso", signIn(t, e, b, home.authURL(), "cy@contoso.example"))

	r := newRP(t, e, "fabrikam", "portal", "portal-secret")
	_, idt := r.callback(t, e, "fabrikam", postEmail(t, b, r.authURL(), "cy@contoso.example"))
	if c := idClaims(t, idt); c.IDP != "tenant:contoso" || !c.EmailVerified {
		t.Fatalf("claims %+v", c)
	}
}

// An address outside contoso's domains is not sent there: fabrikam's own
// passcode signs it in.
func TestTenantHomeClaimsOnlyItsDomains(t *testing.T) {
	e := newTenantEnv(t)
	invite(t, e, "fabrikam", "bo@elsewhere.example", "Bo")
	r := newRP(t, e, "fabrikam", "portal", "portal-secret")
	b := newBrowser(t)
	p := postEmail(t, b, r.authURL(), "bo@elsewhere.example")
	if !strings.HasPrefix(p.url, e.issuer("fabrikam")+"/") {
		t.Fatalf("an address outside contoso's domains left fabrikam: %d %s", p.status, p.url)
	}
	_, idt := r.callback(t, e, "fabrikam", sendAndEnter(t, e, b, p, "bo@elsewhere.example"))
	if c := idClaims(t, idt); c.IDP != "otp" || !slices.Equal(c.AMR, []string{"otp"}) {
		t.Fatalf("claims %+v, want idp otp", c)
	}
}

// The implied client serves the code flow back to fabrikam's callback URL
// only: another redirect URI is refused without a redirect, and it gets no
// client_credentials token even with its secret.
func TestTenantImpliedClientIsNarrow(t *testing.T) {
	e := newTenantEnv(t)
	sec := impliedSecret(e)
	authorize := func(redirect string) page {
		q := url.Values{"client_id": {impliedClient}, "response_type": {"code"}, "scope": {"openid email"},
			"redirect_uri": {redirect}, "state": {"s"}, "nonce": {"n"}}
		return newBrowser(t).get(e.issuer("contoso") + "/authorize?" + q.Encode())
	}
	if p := authorize(e.issuer("fabrikam") + "/login/callback"); p.status != http.StatusOK || !strings.Contains(p.body, `name="email"`) {
		t.Fatalf("the implied client's own callback: %d %s:\n%s", p.status, p.url, p.body)
	}
	for _, other := range []string{e.issuer("contoso") + "/login/callback", e.issuer("fabrikam") + "/login/callback/x", rpCallback} {
		if p := authorize(other); p.status != http.StatusBadRequest || strings.Contains(p.body, `name="email"`) {
			t.Fatalf("redirect_uri %s: %d %s", other, p.status, p.url)
		}
	}

	// token posts form to tenant's token endpoint as the implied client.
	token := func(tenant, secret string, form url.Values) (int, string) {
		resp, raw := call(t, e, http.MethodPost, tenant, "/oauth/token", form,
			url.QueryEscape(impliedClient), url.QueryEscape(secret), nil)
		var body struct {
			Error string `json:"error"`
		}
		_ = json.Unmarshal([]byte(raw), &body)
		return resp.StatusCode, body.Error
	}
	// The derived secret authenticates (a bogus code is the only fault)...
	code := url.Values{"grant_type": {"authorization_code"}, "code": {"bogus"}, "redirect_uri": {e.issuer("fabrikam") + "/login/callback"}}
	if st, er := token("contoso", sec, code); st != http.StatusBadRequest || er != "invalid_grant" {
		t.Fatalf("code with the derived secret: %d %s, want 400 invalid_grant", st, er)
	}
	if st, er := token("contoso", "wrong", code); st != http.StatusUnauthorized || er != "invalid_client" {
		t.Fatalf("code with a wrong secret: %d %s, want 401 invalid_client", st, er)
	}
	// ...yet client_credentials is not for it.
	if st, er := token("contoso", sec, url.Values{"grant_type": {"client_credentials"}}); st != http.StatusBadRequest || er != "unauthorized_client" {
		t.Fatalf("client_credentials: %d %s, want 400 unauthorized_client", st, er)
	}
	// Another tenant has no such client: the secret is contoso's alone.
	if st, er := token("fabrikam", sec, code); st != http.StatusUnauthorized || er != "invalid_client" {
		t.Fatalf("the implied client at fabrikam: %d %s, want 401 invalid_client", st, er)
	}
}

// The README's home-tenant example is a working config: it passes the
// config's validation with the documented defaults and opens with the
// production registry.
func TestTenantReadmeExample(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	readme := string(data)
	i := strings.Index(readme, "### Users from other organisations: home tenants")
	if i < 0 {
		t.Fatal("README lacks the home tenants section")
	}
	rest := readme[i:]
	start := strings.Index(rest, "```yaml\n")
	if start < 0 {
		t.Fatal("no yaml block in the home tenants section")
	}
	block := rest[start+len("```yaml\n"):]
	block = block[:strings.Index(block, "```")]
	text := "dev: true\nbaseURL: http://127.0.0.1:8099\nmail: {from: \"t <t@example.com>\", driver: log}\n" + block
	cfg, err := config.Parse([]byte(text), "README.md", func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatalf("README's example: %v\n%s", err, block)
	}
	cn := cfg.Tenant("fabrikam").Connectors
	if len(cn) != 1 || cn[0].Type != "tenant" || cn[0].ID != "contoso" || cn[0].Name != "Contoso" || !slices.Equal(cn[0].Domains, []string{"contoso.example"}) {
		t.Fatalf("README's example parsed as %+v", cn)
	}
	if err := server.CheckConnectors(cfg, nil); err != nil {
		t.Fatalf("README's example does not open: %v", err)
	}
}
