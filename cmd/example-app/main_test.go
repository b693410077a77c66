package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/guestpass/guestpass/pkg/config"
	"github.com/guestpass/guestpass/pkg/mail"
	"github.com/guestpass/guestpass/pkg/mail/mailtest"
	"github.com/guestpass/guestpass/pkg/metrics"
	"github.com/guestpass/guestpass/pkg/store/memory"
	"github.com/guestpass/guestpass/provider/server"
)

// The demo tenant of config/dev.yaml, with the addresses of this test and
// mail to a real SMTP server.
const demoConfig = `
baseURL: %s
listen: 127.0.0.1:8080
log: {level: debug, format: json}
store: {type: memory}
secrets: {cookieHashKey: %s, cookieBlockKey: %s, codeKey: %s}
mail:
  from: "guestpass <no-reply@guestpass.example>"
  driver: smtp
  smtp: {addr: "%s", tls: none, poolSize: 1}
tenants:
  - id: demo
    displayName: Demo Organisation
    selfServiceSignUp: true
    emailOTP: {enabled: true}
    clients:
      - id: example-app
        name: Example App
        secret: example-secret
        redirectURIs: ["%[6]s/callback"]
        postLogoutRedirectURIs: ["%[6]s/"]
`

type rig struct {
	app    *App
	appURL string
	issuer string
	smtp   *mailtest.Server
}

func secret(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}

func serve(t *testing.T, ln net.Listener, h http.Handler) {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
}

// newRig starts a real guestpass (memory store, real SMTP in the test) and
// the example app, both over TCP.
func newRig(t *testing.T) *rig {
	t.Helper()
	gpLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	appLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{appURL: "http://" + appLn.Addr().String(), smtp: mailtest.Start(t)}
	base := "http://" + gpLn.Addr().String()
	r.issuer = base + "/demo"

	yaml := fmt.Sprintf(demoConfig, base, secret(64), secret(32), secret(32), r.smtp.Addr, r.appURL)
	cfg, err := config.Parse([]byte(yaml), "test.yaml", func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	log := zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel))
	m := metrics.New()
	tr, err := mail.NewSMTP(server.SMTPOptions(cfg.Mail.SMTP), cfg.Mail.From)
	if err != nil {
		t.Fatal(err)
	}
	disp := mail.NewDispatcher(tr, cfg.Mail.From, mail.DispatcherOptions{
		Workers: 1, QueueSize: 10, Retries: 1, Backoff: 10 * time.Millisecond, Logger: log, Metrics: m})
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = disp.Close(ctx)
		_ = tr.Close()
	})
	st := memory.New(nil)
	t.Cleanup(func() { _ = st.Close() })
	gp, err := server.Build(server.Deps{Config: cfg, Store: st, Mailer: disp, Logger: log, Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	serve(t, gpLn, gp)

	r.app, err = New(Options{
		Issuer: r.issuer, ClientID: "example-app", ClientSecret: "example-secret",
		RedirectURL: r.appURL + "/callback", PostLogoutURL: r.appURL + "/",
	}, log, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	serve(t, appLn, r.app)
	return r
}

// browser follows redirects and keeps cookies, as a browser does (the two
// servers share the host 127.0.0.1; their cookie names differ).
type browser struct {
	t *testing.T
	c *http.Client
}

func newBrowser(t *testing.T) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, c: &http.Client{Jar: jar, Timeout: 15 * time.Second}}
}

type page struct {
	status int
	url    string
	body   string
}

func (b *browser) do(req *http.Request) page {
	b.t.Helper()
	req.Header.Set("Accept", "text/html")
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return page{status: resp.StatusCode, url: resp.Request.URL.String(), body: string(body)}
}

func (b *browser) get(u string) page {
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	return b.do(req)
}

func (b *browser) post(u string, form url.Values) page {
	req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

var (
	formRe = regexp.MustCompile(`<form method="post" action="([^"]+)"`)
	csrfRe = regexp.MustCompile(`name="csrf" value="([^"]+)"`)
)

// submit posts the page's first form with its CSRF token and the values.
func (b *browser) submit(p page, values url.Values) page {
	b.t.Helper()
	f, c := formRe.FindStringSubmatch(p.body), csrfRe.FindStringSubmatch(p.body)
	if f == nil || c == nil {
		b.t.Fatalf("no form on %s (%d):\n%s", p.url, p.status, p.body)
	}
	base, _ := url.Parse(p.url)
	action, _ := url.Parse(html.UnescapeString(f[1]))
	values.Set("csrf", html.UnescapeString(c[1]))
	return b.post(base.ResolveReference(action).String(), values)
}

// signIn walks guestpass's passcode pages from the app's Sign in.
func (r *rig) signIn(t *testing.T, b *browser, email string) page {
	t.Helper()
	p := b.get(r.appURL + "/login")
	if !strings.Contains(p.body, `name="email"`) {
		t.Fatalf("expected guestpass's email page, got %d %s:\n%s", p.status, p.url, p.body)
	}
	p = b.submit(p, url.Values{"email": {email}})
	p = b.submit(p, url.Values{}) // Send code
	m, err := r.smtp.WaitFor(email, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return b.submit(p, url.Values{"code": {mailtest.CodeIn(m.Text)}})
}

func TestSignInRefreshSignOut(t *testing.T) {
	r := newRig(t)
	b := newBrowser(t)

	p := b.get(r.appURL + "/")
	if !strings.Contains(p.body, `action="/login"`) {
		t.Fatalf("home page has no Sign in:\n%s", p.body)
	}
	for _, h := range []string{"Content-Security-Policy", "Referrer-Policy"} {
		req, _ := http.NewRequest(http.MethodGet, r.appURL+"/", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.Header.Get(h) == "" {
			t.Errorf("no %s header", h)
		}
	}

	p = r.signIn(t, b, "ada@guest.example")
	if p.url != r.appURL+"/" || p.status != http.StatusOK {
		t.Fatalf("after sign-in at %d %s:\n%s", p.status, p.url, p.body)
	}
	for _, want := range []string{"Signed in as ada@guest.example", "&#34;tid&#34;: &#34;demo&#34;",
		"&#34;idp&#34;: &#34;otp&#34;", "Userinfo", `action="/refresh"`, `action="/logout"`} {
		if !strings.Contains(p.body, want) {
			t.Errorf("signed-in page lacks %q:\n%s", want, p.body)
		}
	}
	// The tokens stay on the server: no JWT (id or access token) in the page.
	if strings.Contains(p.body, "eyJ") {
		t.Errorf("a token leaked into the page:\n%s", p.body)
	}

	// Refresh, twice: guestpass rotates the refresh token, so the second
	// refresh only works if the app kept the new one.
	for i := range 2 {
		p = b.post(r.appURL+"/refresh", url.Values{})
		if p.status != http.StatusOK || !strings.Contains(p.body, "Tokens refreshed") {
			t.Fatalf("refresh %d: %d %s:\n%s", i+1, p.status, p.url, p.body)
		}
	}

	// Sign out ends the session at guestpass too: the next sign-in shows
	// the email page instead of single sign-on.
	p = b.post(r.appURL+"/logout", url.Values{})
	if p.url != r.appURL+"/" || !strings.Contains(p.body, `action="/login"`) {
		t.Fatalf("after sign-out at %d %s:\n%s", p.status, p.url, p.body)
	}
	p = b.get(r.appURL + "/login")
	if !strings.Contains(p.body, `name="email"`) {
		t.Fatalf("guestpass session survived the sign-out: %d %s:\n%s", p.status, p.url, p.body)
	}
}

// TestCallbackRejects: the callback refuses a response it did not ask for.
func TestCallbackRejects(t *testing.T) {
	r := newRig(t)

	// start begins a sign-in without following the redirect, and returns
	// a browser holding the login cookie and the state sent to guestpass.
	start := func() (*browser, string) {
		b := newBrowser(t)
		b.c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		resp, err := b.c.Get(r.appURL + "/login")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		loc, err := url.Parse(resp.Header.Get("Location"))
		if err != nil || resp.StatusCode != http.StatusFound {
			t.Fatalf("login: %d %q", resp.StatusCode, resp.Header.Get("Location"))
		}
		q := loc.Query()
		if q.Get("code_challenge_method") != "S256" || q.Get("nonce") == "" || q.Get("state") == "" {
			t.Fatalf("authorize request lacks PKCE S256, nonce or state: %s", loc)
		}
		return b, q.Get("state")
	}
	cb := func(b *browser, q url.Values) page {
		return b.get(r.appURL + "/callback?" + q.Encode())
	}

	b, state := start()
	if p := cb(b, url.Values{"state": {"forged"}, "code": {"x"}, "iss": {r.issuer}}); p.status != http.StatusBadRequest || !strings.Contains(p.body, "state does not match") {
		t.Errorf("forged state: %d\n%s", p.status, p.body)
	}
	// The login cookie was single use.
	if p := cb(b, url.Values{"state": {state}, "code": {"x"}, "iss": {r.issuer}}); p.status != http.StatusBadRequest || !strings.Contains(p.body, "No sign-in in progress") {
		t.Errorf("replayed callback: %d\n%s", p.status, p.body)
	}

	b, state = start()
	if p := cb(b, url.Values{"state": {state}, "code": {"x"}, "iss": {"http://evil.example/demo"}}); p.status != http.StatusBadRequest || !strings.Contains(p.body, "another issuer") {
		t.Errorf("mixed-up issuer: %d\n%s", p.status, p.body)
	}

	b, state = start()
	if p := cb(b, url.Values{"state": {state}, "error": {"access_denied"}, "iss": {r.issuer}}); p.status != http.StatusBadRequest || !strings.Contains(p.body, "access_denied") {
		t.Errorf("error response: %d\n%s", p.status, p.body)
	}

	b, state = start()
	if p := cb(b, url.Values{"state": {state}, "code": {"not-a-code"}, "iss": {r.issuer}}); p.status != http.StatusBadGateway || !strings.Contains(p.body, "code exchange failed") {
		t.Errorf("bad code: %d\n%s", p.status, p.body)
	}

	// Refresh and logout without a session go home, changing nothing.
	b = newBrowser(t)
	if p := b.post(r.appURL+"/refresh", url.Values{}); p.url != r.appURL+"/" || !strings.Contains(p.body, `action="/login"`) {
		t.Errorf("refresh without session: %d %s", p.status, p.url)
	}
	if p := b.get(r.appURL + "/refresh"); p.status != http.StatusMethodNotAllowed {
		t.Errorf("GET /refresh: %d, want 405", p.status)
	}
}
