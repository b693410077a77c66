package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/guestpass/guestpass/pkg/mail/mailtest"
	"github.com/guestpass/guestpass/pkg/store/redistest"
)

// Acceptance (issue 9): policy off through the CLI against replica 1 → an
// otp guest is refused on replica 2 at once (two servers, one Redis); on
// again → signs in.
func TestCLIPolicyAcrossReplicas(t *testing.T) {
	rs := redistest.Start(t)
	smtp := mailtest.Start(t)
	// No resend cooldown: the guest is mailed a code twice within a minute.
	tenant := adminTenant("alpha", "    emailOTP: {resendCooldown: 0s}\n")
	cfg := strings.NewReplacer(
		"store: {type: memory}", "store: {type: redis, redis: {addrs: [\""+rs.Addr+"\"], keyPrefix: \""+redistest.KeyPrefix(t)+"\"}}",
		`driver: log}`, `driver: smtp, smtp: {addr: "`+smtp.Addr+`", tls: none}}`,
		"%TENANTS%", tenant).Replace(serveConfig)
	// One set of secrets for both, as replicas must share: the signing
	// keys in Redis are sealed with them.
	cfg = "secrets: {cookieHashKey: " + randomKey(t, 64) + ", cookieBlockKey: " + randomKey(t, 32) +
		", codeKey: " + randomKey(t, 32) + "}\n" + cfg
	replica1, replica2 := serveText(t, cfg), serveText(t, cfg)

	asAdmin(t, replica1+"/alpha")
	const email = "otp@guest.example"
	cli(t, "invite", email, "--no-mail").must(t, 0)
	rp := newCLIRP(t, replica2+"/alpha")
	rp.signIn(t, smtp, email)
	cli(t, "guests", "list", "--source", "otp").must(t, 0, email, "Accepted")

	cli(t, "policy", "set", "--email-otp=off").must(t, 0, "off")
	p := rp.submitEmail(t, newCLIBrowser(t), email)
	if p.status != http.StatusForbidden || !strings.Contains(p.body, "turned off") || strings.Contains(p.body, "/login/send") {
		t.Fatalf("otp guest on replica 2 with passcodes off: %d\n%s", p.status, p.body)
	}

	cli(t, "policy", "set", "--email-otp=on").must(t, 0, "on, set through the admin API")
	rp.signIn(t, smtp, email)
}

func randomKey(t *testing.T, n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return `"` + base64.StdEncoding.EncodeToString(b) + `"`
}

var (
	cliFormRe = regexp.MustCompile(`<form method="post" action="([^"]+)"`)
	cliCSRFRe = regexp.MustCompile(`name="csrf" value="([^"]+)"`)
)

// cliBrowser keeps cookies and follows redirects by hand up to the app's
// callback.
type cliBrowser struct {
	t *testing.T
	c *http.Client
}

type cliPage struct {
	status int
	url    string
	body   string
}

func newCLIBrowser(t *testing.T) *cliBrowser {
	jar, _ := cookiejar.New(nil)
	return &cliBrowser{t: t, c: &http.Client{Jar: jar, Timeout: 15 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (b *cliBrowser) do(method, u string, form url.Values) cliPage {
	b.t.Helper()
	for i := 0; i < 10; i++ {
		var body io.Reader
		if form != nil {
			body = strings.NewReader(form.Encode())
		}
		req, err := http.NewRequest(method, u, body)
		if err != nil {
			b.t.Fatal(err)
		}
		req.Header.Set("Accept", "text/html")
		if form != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		resp, err := b.c.Do(req)
		if err != nil {
			b.t.Fatal(err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		loc := resp.Header.Get("Location")
		if resp.StatusCode < 300 || resp.StatusCode >= 400 || loc == "" {
			return cliPage{resp.StatusCode, u, string(raw)}
		}
		next, err := req.URL.Parse(loc)
		if err != nil {
			b.t.Fatal(err)
		}
		if strings.HasPrefix(next.String(), cliCallback) {
			return cliPage{resp.StatusCode, next.String(), ""}
		}
		method, u, form = http.MethodGet, next.String(), nil
	}
	b.t.Fatalf("too many redirects from %s", u)
	return cliPage{}
}

// post submits the page's first form with fields (and its CSRF token).
func (b *cliBrowser) post(p cliPage, fields url.Values) cliPage {
	b.t.Helper()
	f, c := cliFormRe.FindStringSubmatch(p.body), cliCSRFRe.FindStringSubmatch(p.body)
	if f == nil || c == nil {
		b.t.Fatalf("page %s (%d) has no form:\n%s", p.url, p.status, p.body)
	}
	base, _ := url.Parse(p.url)
	action, err := base.Parse(html.UnescapeString(f[1]))
	if err != nil {
		b.t.Fatal(err)
	}
	fields.Set("csrf", html.UnescapeString(c[1]))
	return b.do(http.MethodPost, action.String(), fields)
}

// cliRP is the app of adminTenant, a real OIDC relying party (go-oidc).
type cliRP struct {
	prov     *gooidc.Provider
	oauth    oauth2.Config
	verifier string
}

func newCLIRP(t *testing.T, issuer string) *cliRP {
	prov, err := gooidc.NewProvider(context.Background(), issuer)
	if err != nil {
		t.Fatal(err)
	}
	return &cliRP{prov: prov, oauth: oauth2.Config{ClientID: "app", ClientSecret: "app-secret",
		Endpoint: prov.Endpoint(), RedirectURL: cliCallback, Scopes: []string{gooidc.ScopeOpenID, "email"}}, verifier: oauth2.GenerateVerifier()}
}

func (r *cliRP) submitEmail(t *testing.T, b *cliBrowser, email string) cliPage {
	t.Helper()
	p := b.do(http.MethodGet, r.oauth.AuthCodeURL("st", oauth2.SetAuthURLParam("nonce", "n"), oauth2.S256ChallengeOption(r.verifier)), nil)
	return b.post(p, url.Values{"email": {email}})
}

// signIn walks the passcode pages with the code from the SMTP server and
// checks the ID token the app gets.
func (r *cliRP) signIn(t *testing.T, smtp *mailtest.Server, email string) {
	t.Helper()
	b := newCLIBrowser(t)
	p := r.submitEmail(t, b, email)
	if p.status != http.StatusOK || !strings.Contains(p.body, "/login/send") {
		t.Fatalf("expected the send page, got %d %s:\n%s", p.status, p.url, p.body)
	}
	p = b.post(p, url.Values{})
	m, err := smtp.WaitFor(email, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	p = b.post(p, url.Values{"code": {mailtest.CodeIn(m.Text)}})
	cb, err := url.Parse(p.url)
	if err != nil || !strings.HasPrefix(p.url, cliCallback) || cb.Query().Get("code") == "" {
		t.Fatalf("no code at the callback: %d %s\n%s", p.status, p.url, p.body)
	}
	tok, err := r.oauth.Exchange(context.Background(), cb.Query().Get("code"), oauth2.VerifierOption(r.verifier))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := r.prov.Verifier(&gooidc.Config{ClientID: "app"}).Verify(context.Background(), raw)
	if err != nil {
		t.Fatal(err)
	}
	var claims struct {
		Email string `json:"email"`
		IDP   string `json:"idp"`
	}
	if err := idt.Claims(&claims); err != nil || claims.Email != email || claims.IDP != "otp" {
		t.Fatalf("claims %+v (%v)", claims, err)
	}
}
