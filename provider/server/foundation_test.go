package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	jose "github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/guestpass/guestpass/pkg/config"
	"github.com/guestpass/guestpass/pkg/mail"
	"github.com/guestpass/guestpass/pkg/mail/mailtest"
	"github.com/guestpass/guestpass/pkg/metrics"
	"github.com/guestpass/guestpass/pkg/store/memory"
	"github.com/guestpass/guestpass/pkg/store/redistest"
	"github.com/guestpass/guestpass/provider/server"
	"github.com/guestpass/guestpass/templates"
	"go.uber.org/zap"
)

func TestDiscoveryPerTenant(t *testing.T) {
	e := newEnv(t, envOptions{})
	for _, tenant := range []string{"fabrikam", "contoso"} {
		p, err := gooidc.NewProvider(context.Background(), e.issuer(tenant))
		if err != nil {
			t.Fatalf("%s: %v", tenant, err)
		}
		var d struct {
			Issuer        string   `json:"issuer"`
			Authorization string   `json:"authorization_endpoint"`
			Token         string   `json:"token_endpoint"`
			JWKS          string   `json:"jwks_uri"`
			Userinfo      string   `json:"userinfo_endpoint"`
			EndSession    string   `json:"end_session_endpoint"`
			Introspection string   `json:"introspection_endpoint"`
			Revocation    string   `json:"revocation_endpoint"`
			Methods       []string `json:"code_challenge_methods_supported"`
			IssParam      bool     `json:"authorization_response_iss_parameter_supported"`
		}
		if err := p.Claims(&d); err != nil {
			t.Fatal(err)
		}
		iss := e.issuer(tenant)
		if d.Issuer != iss {
			t.Fatalf("issuer = %q, want %q", d.Issuer, iss)
		}
		for _, ep := range []string{d.Authorization, d.Token, d.JWKS, d.Userinfo, d.EndSession, d.Introspection, d.Revocation} {
			if !strings.HasPrefix(ep, iss+"/") {
				t.Fatalf("%s endpoint %q is not under its issuer", tenant, ep)
			}
		}
		if !d.IssParam {
			t.Fatal("discovery does not advertise authorization_response_iss_parameter_supported")
		}
		if len(d.Methods) != 1 || d.Methods[0] != "S256" {
			t.Fatalf("code_challenge_methods_supported = %v, want only S256", d.Methods)
		}
		resp, err := http.Get(d.JWKS)
		if err != nil {
			t.Fatal(err)
		}
		var set jose.JSONWebKeySet
		err = json.NewDecoder(resp.Body).Decode(&set)
		resp.Body.Close()
		if err != nil || len(set.Keys) == 0 {
			t.Fatalf("jwks: %v, %d keys", err, len(set.Keys))
		}
		// The EC key of every token and the RSA key of RS256 ID tokens
		// (every tenant has one, published ahead: rs256_test.go).
		algs := map[string]int{}
		for _, k := range set.Keys {
			if !k.IsPublic() || (k.Algorithm != "ES256" && k.Algorithm != "RS256") || k.KeyID == "" {
				t.Fatalf("jwks key %+v: want a public ES256 or RS256 key with kid", k)
			}
			algs[k.Algorithm]++
		}
		if algs["ES256"] != 1 || algs["RS256"] != 1 {
			t.Fatalf("jwks algorithms %v, want one ES256 and one RS256 key", algs)
		}
	}
}

func clientCredentials(t *testing.T, e *env, tenant, id, secret string) string {
	t.Helper()
	cc := clientcredentials.Config{ClientID: id, ClientSecret: secret, TokenURL: e.issuer(tenant) + "/oauth/token"}
	tok, err := cc.Token(context.Background())
	if err != nil {
		t.Fatalf("client credentials at %s: %v", tenant, err)
	}
	return tok.AccessToken
}

func TestClientCredentialsTokenIsBoundToItsTenant(t *testing.T) {
	e := newEnv(t, envOptions{redis: redistest.Start(t)})
	ctx := context.Background()
	tokA := clientCredentials(t, e, "fabrikam", "admin", "admin-secret")

	pa, err := gooidc.NewProvider(ctx, e.issuer("fabrikam"))
	if err != nil {
		t.Fatal(err)
	}
	pb, err := gooidc.NewProvider(ctx, e.issuer("contoso"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pa.VerifierContext(ctx, &gooidc.Config{SkipClientIDCheck: true}).Verify(ctx, tokA); err != nil {
		t.Fatalf("A's token does not verify against A: %v", err)
	}
	// Against B's keys (and issuer): must fail.
	if _, err := pb.VerifierContext(ctx, &gooidc.Config{SkipClientIDCheck: true}).Verify(ctx, tokA); err == nil {
		t.Fatal("A's token verified against B")
	}
	keysB := gooidc.NewRemoteKeySet(ctx, e.issuer("contoso")+"/keys")
	if _, err := gooidc.NewVerifier(e.issuer("fabrikam"), keysB, &gooidc.Config{SkipClientIDCheck: true}).Verify(ctx, tokA); err == nil {
		t.Fatal("A's token verified with B's keys")
	}

	// Introspection at A: active; at B (by B's own admin client): inactive.
	if !introspect(t, e, "fabrikam", "admin", "admin-secret", tokA) {
		t.Fatal("A's token inactive at A")
	}
	if introspect(t, e, "contoso", "admin", "contoso-admin-secret", tokA) {
		t.Fatal("A's token active at B")
	}
	// Userinfo of B refuses it.
	req, _ := http.NewRequest(http.MethodGet, e.issuer("contoso")+"/userinfo", nil)
	req.Header.Set("Authorization", "Bearer "+tokA)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized && resp.StatusCode != http.StatusForbidden {
		t.Fatalf("userinfo at B with A's token: %d", resp.StatusCode)
	}
	// A non-admin client gets no client-credentials token.
	cc := clientcredentials.Config{ClientID: "portal", ClientSecret: "portal-secret", TokenURL: e.issuer("fabrikam") + "/oauth/token"}
	if _, err := cc.Token(ctx); err == nil {
		t.Fatal("client_credentials granted to a non-admin client")
	}
	// Nor does an admin client with the wrong secret.
	cc = clientcredentials.Config{ClientID: "admin", ClientSecret: "wrong", TokenURL: e.issuer("fabrikam") + "/oauth/token"}
	if _, err := cc.Token(ctx); err == nil {
		t.Fatal("client_credentials granted with a wrong secret")
	}
}

func introspect(t *testing.T, e *env, tenant, id, secret, token string) bool {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.issuer(tenant)+"/oauth/introspect",
		strings.NewReader(url.Values{"token": {token}}.Encode()))
	req.SetBasicAuth(id, secret)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("introspect at %s: %d %s", tenant, resp.StatusCode, b)
	}
	var r struct {
		Active bool `json:"active"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		t.Fatal(err)
	}
	return r.Active
}

func TestTenantContext(t *testing.T) {
	e := newEnv(t, envOptions{})
	const html, js = "text/html", "application/json"
	cases := []struct {
		name, path, accept string
		status             int
		ctype              string // prefix
		location           string
	}{
		{"authorize without tenant, browser", "/authorize?client_id=portal", html, 400, html, ""},
		{"authorize without tenant, program", "/authorize?client_id=portal", js, 400, js, ""},
		{"discovery without tenant", "/.well-known/openid-configuration", js, 400, js, ""},
		{"apps without tenant, browser", "/apps", html, 400, html, ""},
		{"token without tenant", "/oauth/token", js, 400, js, ""},
		{"root", "/", html, 400, html, ""},
		{"unknown tenant, browser", "/nosuch/authorize?x=1", html, 404, html, ""},
		{"unknown tenant, program", "/nosuch/.well-known/openid-configuration", js, 404, js, ""},
		{"domain alias redirects, query kept", "/fabrikam.example/authorize?client_id=portal&state=s%20t", html, 302, "", "/fabrikam/authorize?client_id=portal&state=s%20t"},
		{"domain alias, case-insensitive", "/Fabrikam.Example/apps", html, 302, "", "/fabrikam/apps"},
		{"tenantid query redirects", "/authorize?tenantid=fabrikam&client_id=portal", html, 302, "", "/fabrikam/authorize?client_id=portal"},
		{"tenantid by domain", "/apps?tenantid=fabrikam.example", html, 302, "", "/fabrikam/apps"},
		{"tenantid unknown", "/authorize?tenantid=nosuch", html, 400, html, ""},
		{"health", "/healthz", js, 200, "text/plain", ""},
		{"ready", "/readyz", js, 200, js, ""},
		{"metrics are not public (B8)", "/metrics", js, 404, js, ""},
		{"metrics are not public, browser", "/metrics", html, 404, html, ""},
		{"odd path", "/%2e%2e/%2e%2e/etc/passwd", html, 404, html, ""},
		{"deep unknown path under a tenant", "/fabrikam/no/such/thing", js, 404, "", ""},
		{"apps page", "/fabrikam/apps", html, 200, html, ""},
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, e.base+tc.path, nil)
			req.Header.Set("Accept", tc.accept)
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.status {
				t.Fatalf("status = %d, want %d\n%s", resp.StatusCode, tc.status, body)
			}
			if tc.ctype != "" && !strings.HasPrefix(resp.Header.Get("Content-Type"), tc.ctype) {
				t.Fatalf("content type = %q, want %q", resp.Header.Get("Content-Type"), tc.ctype)
			}
			if tc.location != "" && resp.Header.Get("Location") != tc.location {
				t.Fatalf("location = %q, want %q", resp.Header.Get("Location"), tc.location)
			}
		})
	}
}

// Two replicas sharing one Redis, started at the same moment, publish the
// same JWKS: exactly one of them created the tenant's key.
func TestReplicasShareSigningKeys(t *testing.T) {
	r := redistest.Start(t)
	prefix := redistest.KeyPrefix(t)
	a := newEnv(t, envOptions{redis: r, prefix: prefix})
	b := newEnv(t, envOptions{redis: r, prefix: prefix, secrets: &a.secret, smtp: a.smtp})
	for _, tenant := range []string{"fabrikam", "contoso"} {
		var wg sync.WaitGroup
		got := make([]string, 8)
		for i := range got {
			wg.Add(1)
			go func() {
				defer wg.Done()
				e := a
				if i%2 == 1 {
					e = b
				}
				resp, err := http.Get(e.base + "/" + tenant + "/keys")
				if err != nil {
					t.Error(err)
					return
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				got[i] = string(body)
			}()
		}
		wg.Wait()
		for i := range got {
			if got[i] != got[0] || !strings.Contains(got[0], `"kid"`) {
				t.Fatalf("%s: replica answers differ:\n%s\n%s", tenant, got[0], got[i])
			}
		}
	}
}

func TestAppsPage(t *testing.T) {
	e := newEnv(t, envOptions{})
	p := newBrowser(t).get(e.base + "/fabrikam.example/apps")
	if p.status != http.StatusOK || !strings.Contains(p.body, `href="`+rpHome+`"`) || !strings.Contains(p.body, "Fabrikam Portal") {
		t.Fatalf("apps page: %d %s\n%s", p.status, p.url, p.body)
	}
	if strings.Contains(p.body, "Fabrikam SPA") {
		t.Fatal("an app without a home page is listed")
	}
}

// No path panics or hangs the server: odd paths get a 4xx (or a redirect
// for a tenant's own routes), never a 5xx.
func TestOddPathsNeverFail(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, p := range []string{
		"//", "///fabrikam", "/fabrikam/", "/fabrikam//authorize", "/%00", "/fabrikam/%00", "/fabrikam/../contoso/keys",
		"/fabrikam/login?authRequestID=" + strings.Repeat("x", 5000), "/fabrikam/login/verify", "/fabrikam/authorize/callback?id=nope",
		"/FABRIKAM/keys", "/fabrikam.example/oauth/token", "/admin", "/metrics/x", "/fabrikam/login/send?authRequestID=%ff",
		"/" + strings.Repeat("a", 300), "/fabrikam/.well-known/openid-configuration/extra",
	} {
		for _, m := range []string{http.MethodGet, http.MethodPost} {
			req, err := http.NewRequest(m, e.base+p, strings.NewReader("x=1"))
			if err != nil {
				continue // not even a URL
			}
			resp, err := c.Do(req)
			if err != nil {
				t.Fatalf("%s %s: %v", m, p, err)
			}
			resp.Body.Close()
			if resp.StatusCode >= 500 {
				t.Errorf("%s %s: %d", m, p, resp.StatusCode)
			}
		}
	}
	for _, entry := range e.logs.All() {
		if entry.Message == "panic" {
			t.Fatalf("a request panicked: %v", entry.ContextMap())
		}
	}
}

// An admin's template directory replaces the embedded pages; a part it
// lacks (here mail/) stays embedded.
func TestAdminTemplatesDir(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "pages"), 0o755); err != nil {
		t.Fatal(err)
	}
	entries, err := fs.ReadDir(templates.FS, "pages")
	if err != nil {
		t.Fatal(err)
	}
	for _, en := range entries {
		if en.IsDir() {
			continue
		}
		b, err := fs.ReadFile(templates.FS, "pages/"+en.Name())
		if err != nil {
			t.Fatal(err)
		}
		if en.Name() == "email.html" {
			b = []byte(strings.Replace(string(b), "<h1>", `<h1 class="custom-email-page">`, 1))
		}
		if err := os.WriteFile(filepath.Join(dir, "pages", en.Name()), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	e := newEnv(t, envOptions{templatesDir: dir})
	r := newRP(t, e, "contoso", "portal", "contoso-secret")
	b := newBrowser(t)
	p := b.get(r.authURL())
	if !strings.Contains(p.body, "custom-email-page") {
		t.Fatalf("the admin's email page is not used:\n%s", p.body)
	}
	// Mail still comes from the embedded templates.
	r.callback(t, e, "contoso", signIn(t, e, newBrowser(t), r.authURL(), "tpl@guest.example"))
}

// /metrics, on the metrics listener, counts what B8 names: codes sent,
// verifications by outcome, sign-ins by source, and latency.
func TestMetricsAfterSignIn(t *testing.T) {
	e := newEnv(t, envOptions{})
	invite(t, e, "fabrikam", "metrics@guest.example", "M")
	r := newRP(t, e, "fabrikam", "portal", "portal-secret")
	b := newBrowser(t)
	p := toCodePage(t, b, r.authURL(), "metrics@guest.example")
	code := waitCode(t, e.smtp, "metrics@guest.example")
	wrong := "00000000"
	if code == wrong {
		wrong = "11111111"
	}
	p = enter(t, b, p, wrong)
	r.callback(t, e, "fabrikam", enter(t, b, p, code))

	var body string
	eventually := time.Now().Add(5 * time.Second)
	for {
		resp, err := http.Get(e.metrics + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		body = string(raw)
		// Codes are counted when the SMTP server accepted the mail, which
		// is asynchronous.
		if strings.Contains(body, "guestpass_codes_sent_total 1") || time.Now().After(eventually) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, want := range []string{
		"guestpass_codes_sent_total 1",
		`guestpass_code_verifications_total{outcome="invalid"} 1`,
		`guestpass_code_verifications_total{outcome="success"} 1`,
		`guestpass_sign_ins_total{source="otp"} 1`,
		`guestpass_http_request_duration_seconds_count{code="2xx",route="tenant/login"}`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

// With an https base URL every cookie guestpass sets is Secure (B4).
func TestCookiesSecureUnderHTTPS(t *testing.T) {
	smtp := mailtest.Start(t)
	yaml := fmt.Sprintf(testConfig, "https://id.guestpass.test", secret(64), secret(32), secret(32), smtp.Addr)
	cfg, err := config.Parse([]byte(yaml), "test.yaml", func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	st := memory.New(nil)
	defer st.Close()
	h, err := server.Build(server.Deps{Config: cfg, Store: st, Mailer: discardMailer{}, Logger: zap.NewNop(), Metrics: metrics.New()})
	if err != nil {
		t.Fatal(err)
	}
	_, challenge := pkce()
	q := url.Values{"client_id": {"portal"}, "redirect_uri": {rpCallback}, "response_type": {"code"},
		"scope": {"openid email"}, "state": {"s"}, "code_challenge": {challenge}, "code_challenge_method": {"S256"}}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "https://id.guestpass.test/fabrikam/authorize?"+q.Encode(), nil))
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "/fabrikam/login/email?") {
		t.Fatalf("authorize: %d, want the email page", rec.Code)
	}
	cookies := rec.Result().Cookies()
	if len(cookies) == 0 {
		t.Fatalf("the sign-in page set no cookie (%d)", rec.Code)
	}
	for _, c := range cookies {
		if !c.Secure || !c.HttpOnly || c.Path != "/fabrikam" {
			t.Errorf("cookie %s: Secure=%v HttpOnly=%v Path=%q", c.Name, c.Secure, c.HttpOnly, c.Path)
		}
	}
}

type discardMailer struct{}

func (discardMailer) Reserve(string) (mail.Slot, error) { return discardSlot{}, nil }

type discardSlot struct{}

func (discardSlot) Send(mail.Message) error { return nil }
func (discardSlot) Release()                {}

// A caller's well-formed X-Request-Id is kept, echoed and logged; an odd
// one is replaced (B8).
func TestRequestIDInLogs(t *testing.T) {
	e := newEnv(t, envOptions{})
	for _, tc := range []struct{ sent, want string }{
		{"trace-0001-abcdef", "trace-0001-abcdef"},
		{"bad id\twith spaces", ""},
	} {
		req, _ := http.NewRequest(http.MethodGet, e.issuer("fabrikam")+"/keys", nil)
		req.Header.Set("X-Request-Id", tc.sent)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		got := resp.Header.Get("X-Request-Id")
		if tc.want != "" && got != tc.want || tc.want == "" && (got == "" || got == tc.sent) {
			t.Fatalf("sent %q, echoed %q", tc.sent, got)
		}
		found := false
		for _, en := range e.logs.FilterMessage("request").All() {
			if en.ContextMap()["request_id"] == got {
				found = true
			}
		}
		if !found {
			t.Fatalf("no access log line with request_id %q", got)
		}
	}
}
