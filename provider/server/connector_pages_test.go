package server_test

import (
	"context"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/guestpass/guestpass/connectors"
	"github.com/guestpass/guestpass/connectors/mock"
	"github.com/guestpass/guestpass/pkg/config"
	"github.com/guestpass/guestpass/pkg/guests"
	"github.com/guestpass/guestpass/pkg/store/redistest"
)

// The login pages' side of the connectors (issue 8): form_post answers,
// the password page's attempt discipline, step cookies bound to their
// address, deadlines and failure pages naming the organisation, single
// sign-on from a removed connector.

// mockOptions configure newMockEnvWith beyond newMockEnvOn.
type mockOptions struct {
	redis           *redistest.Server
	prefix          string
	secrets         *[3]string
	upstreamTimeout time.Duration
	// only, when set, keeps only the mock connectors of these ids.
	only      []string
	configure func(*config.Config)
}

// newMockEnvWith is newMockEnvOn with more options.
func newMockEnvWith(t *testing.T, o mockOptions) (*env, *mocks) {
	t.Helper()
	m := newMocks()
	e := newEnv(t, envOptions{redis: o.redis, prefix: o.prefix, secrets: o.secrets, connectors: m.registry(),
		upstreamTimeout: o.upstreamTimeout, configure: func(c *config.Config) {
			all := []config.Connector{
				{Type: mock.TypePassword, ID: "staff", Name: "Staff", Domains: []string{"staff.example"}},
				{Type: mock.TypeCallback, ID: "partner", Name: "Partner", Domains: []string{"partner.example"}},
			}
			for i := range c.Tenants {
				c.Tenants[i].Connectors = nil
				for _, cn := range all {
					if o.only == nil || contains(o.only, cn.ID) {
						c.Tenants[i].Connectors = append(c.Tenants[i].Connectors, cn)
					}
				}
			}
			if o.configure != nil {
				o.configure(c)
			}
		}})
	return e, m
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// A form_post answer is turned into a GET of the same parameters without
// reading or setting a cookie (a cross-site POST carries none); the GET,
// which a top-level navigation sends with the flow cookies, signs in.
func TestConnectorFormPostBecomesGET(t *testing.T) {
	e, m := newMockEnv(t)
	r := newRP(t, e, "contoso", "portal", "contoso-secret")
	b := newBrowser(t)
	callback, form := upstreamFormPost(t, b, r.authURL(), "fp@partner.example")
	calls := m.cb["contoso"].Calls()

	// No cookie at all, as a cross-site POST arrives: 303 to the GET.
	cookieless := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := cookieless.PostForm(callback, form)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	loc := mustURL(t, resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusSeeOther || loc.Path != "/contoso/login/callback" || loc.Query().Encode() != form.Encode() {
		t.Fatalf("cookieless form_post: %d → %s, want 303 to the callback with %s", resp.StatusCode, loc, form.Encode())
	}
	if c := resp.Header.Values("Set-Cookie"); len(c) != 0 {
		t.Fatalf("the POST set cookies: %v", c)
	}
	// With the browser's cookies the POST does no more: had it used the
	// one-time state, the GET below would be a replay.
	p := b.raw(http.MethodPost, callback, form)
	if p.status != http.StatusSeeOther || m.cb["contoso"].Calls() != calls {
		t.Fatalf("form_post with cookies: %d, upstream calls %d → %d", p.status, calls, m.cb["contoso"].Calls())
	}
	r.callback(t, e, "contoso", b.get(p.location(t)))
	if s := guestSource(t, e, "contoso", "fp@partner.example"); s != srcPartner {
		t.Fatalf("guest source %q", s)
	}
}

// The password page counts every attempt for an address before asking
// the connector (PRODUCT.md B2: the passcode's discipline): over the
// tenant's budget the connector is not asked and the page says so, alike
// for known and unknown accounts; a success does not reset the count; a
// browser that signed in as the address before keeps its own budget.
func TestConnectorPasswordAttempts(t *testing.T) {
	const budget = 3
	e, m := newMockEnvWith(t, mockOptions{redis: redistest.Start(t), configure: func(c *config.Config) {
		c.Tenant("contoso").EmailOTP.MaxFailuresPerHour = budget
	}})
	pw := m.pw["contoso"]
	pw.SetUser("ada@staff.example", mock.User{Password: "right horse"})
	r := newRP(t, e, "contoso", "portal", "contoso-secret")

	// The owner signs in: one attempt of the address's budget, and a
	// device cookie for it.
	owner := newBrowser(t)
	r.callback(t, e, "contoso", postPassword(t, owner, postEmail(t, owner, r.authURL(), "ada@staff.example"), "right horse"))

	// A stranger spends the rest, then is refused even with the right
	// password, and the connector is not asked.
	stranger := newBrowser(t)
	p := postEmail(t, stranger, r.authURL(), "ada@staff.example")
	for i := 1; i < budget; i++ {
		if p = postPassword(t, stranger, p, "guess"); p.status != http.StatusBadRequest {
			t.Fatalf("guess %d: %d", i, p.status)
		}
	}
	calls := pw.Calls()
	locked := postPassword(t, stranger, p, "right horse")
	if locked.status != http.StatusTooManyRequests || !strings.Contains(fieldError(locked), "Too many sign-in attempts") {
		t.Fatalf("over budget: %d %q", locked.status, fieldError(locked))
	}
	if pw.Calls() != calls {
		t.Fatal("the connector was asked over the budget")
	}

	// The owner's browser has its own budget, and its success does not
	// give the stranger a new one.
	r2 := newRP(t, e, "contoso", "portal", "contoso-secret")
	r2.callback(t, e, "contoso", postPassword(t, owner, postEmail(t, owner, r2.authURL(oauth2Prompt("login")), "ada@staff.example"), "right horse"))
	if again := postPassword(t, stranger, locked, "right horse"); again.status != http.StatusTooManyRequests {
		t.Fatalf("stranger after the owner's success: %d", again.status)
	}

	// An unknown account of the domain looks the same once over budget.
	b := newBrowser(t)
	p = postEmail(t, b, r.authURL(), "nobody@staff.example")
	for range budget {
		p = postPassword(t, b, p, "guess")
	}
	unknown := postPassword(t, b, p, "guess")
	if unknown.status != locked.status || fieldError(unknown) != fieldError(locked) {
		t.Fatalf("unknown account over budget: %d %q, known: %d %q", unknown.status, fieldError(unknown), locked.status, fieldError(locked))
	}
}

// A step cookie applies its connector only to the address it was chosen
// for, and only while the chain still picks that connector.
func TestConnectorStaleStep(t *testing.T) {
	e, m := newMockEnv(t)
	pw := m.pw["contoso"]
	// An account of the password mock for an address it does not claim:
	// only a stale step could reach it.
	pw.SetUser("pat@other.example", mock.User{Password: "pw"})
	pw.SetUser("ada@staff.example", mock.User{Password: "pw"})
	r := newRP(t, e, "contoso", "portal", "contoso-secret")

	b := newBrowser(t)
	pwPage := postEmail(t, b, r.authURL(), "ada@staff.example")
	if !isPasswordPage(pwPage) {
		t.Fatalf("expected the password page, got %d %s", pwPage.status, pwPage.url)
	}
	// The guest goes back and chooses an address of the passcode, which
	// writes no step: the password step of ada@ is still in the browser.
	action, csrf := pwPage.form(t, 0)
	restart := mustURL(t, pwPage.url)
	q := restart.Query()
	restart.Path, restart.RawQuery = "/contoso/login", url.Values{"authRequestID": {q.Get("authRequestID")}, "restart": {"1"}}.Encode()
	p := b.get(restart.String())
	ea, ec := p.form(t, 0)
	if send := b.post(ea, url.Values{"csrf": {ec}, "email": {"pat@other.example"}}); send.status != http.StatusOK || !strings.Contains(send.body, "/login/send") {
		t.Fatalf("expected the send page, got %d %s", send.status, send.url)
	}
	calls := pw.Calls()
	if p := b.get(pwPage.url); isPasswordPage(p) {
		t.Fatal("the password page was shown for the passcode address")
	}
	p = b.post(action, url.Values{"csrf": {csrf}, "password": {"pw"}})
	if strings.HasPrefix(p.url, rpCallback) || pw.Calls() != calls {
		t.Fatalf("stale step used: %d %s, connector calls %d → %d", p.status, p.url, calls, pw.Calls())
	}
	if s := guestSource(t, e, "contoso", "pat@other.example"); s != "" {
		t.Fatalf("recorded with source %q", s)
	}

	// The guest is bound to another source after the password page was
	// shown: the connector is not asked and the page says no method (not
	// a 500 from the guest's source mismatch).
	b = newBrowser(t)
	pwPage = postEmail(t, b, r.authURL(), "ada@staff.example")
	if _, err := guests.NewRepo(e.store, e.cfg.Secrets.Code, e.clock.Now).For("contoso").RecordSignIn(context.Background(),
		"ada@staff.example", guests.SignIn{Email: "ada@staff.example", Source: "otp"}); err != nil {
		t.Fatal(err)
	}
	calls = pw.Calls()
	p = postPassword(t, b, pwPage, "pw")
	if p.status != http.StatusForbidden || !strings.Contains(p.body, "No sign-in method") || pw.Calls() != calls {
		t.Fatalf("bound elsewhere: %d %s (connector calls %d → %d):\n%s", p.status, p.url, calls, pw.Calls(), p.body)
	}
	if s := guestSource(t, e, "contoso", "ada@staff.example"); s != "otp" {
		t.Fatalf("source became %q", s)
	}
}

// A failing upstream gives a page naming the organisation, by the kind of
// failure, with a retry where one can help; a hanging one is cut by the
// deadline; each call is counted in /metrics; nothing is recorded.
func TestConnectorUpstreamFailurePages(t *testing.T) {
	e, m := newMockEnvWith(t, mockOptions{upstreamTimeout: 200 * time.Millisecond})
	r := newRP(t, e, "contoso", "portal", "contoso-secret")
	cb, pw := m.cb["contoso"], m.pw["contoso"]
	for _, tc := range []struct {
		name   string
		err    error
		status int
		text   string
		lang   string
		retry  bool
	}{
		{"unreachable", connectors.ErrUnreachable, http.StatusServiceUnavailable, "We couldn't reach Partner. Try again.", "", true},
		{"denied", connectors.ErrDenied, http.StatusForbidden, "Sign-in with Partner was cancelled or refused", "", true},
		{"bad response", connectors.ErrBadResponse, http.StatusBadGateway, "Partner answered something we couldn't use", "", false},
		{"other", errors.New("boom secret-detail"), http.StatusBadGateway, "Partner answered something we couldn't use", "", false},
		{"unreachable fr", connectors.ErrUnreachable, http.StatusServiceUnavailable, "Nous n'avons pas pu joindre Partner. Réessayez.", "fr", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := newBrowser(t)
			b.lang = tc.lang
			to := upstreamRedirect(t, b, r.authURL(), "fail@partner.example")
			cb.SetErr(fmt.Errorf("upstream said no: %w (secret-detail)", tc.err))
			defer cb.SetErr(nil)
			p := b.get(to)
			body := html.UnescapeString(p.body)
			if p.status != tc.status || !strings.Contains(body, tc.text) || strings.Contains(body, "secret-detail") {
				t.Fatalf("got %d, want %d saying %q:\n%s", p.status, tc.status, tc.text, p.body)
			}
			if got := retryLink(p); (got != "") != tc.retry {
				t.Fatalf("retry link %q, want one: %v", got, tc.retry)
			} else if got != "" {
				// The retry starts the same request's sign-in again.
				if again := b.get(mustURL(t, p.url).ResolveReference(mustURL(t, got)).String()); !isEmailPage(again) {
					t.Fatalf("retry: %d %s", again.status, again.url)
				}
			}
			if s := guestSource(t, e, "contoso", "fail@partner.example"); s != "" {
				t.Fatalf("recorded with source %q", s)
			}
		})
	}

	// A password backend that never answers: the deadline cuts it and
	// the page says the organisation could not be reached.
	pw.SetHang(true)
	b := newBrowser(t)
	p := postPassword(t, b, postEmail(t, b, r.authURL(), "ada@staff.example"), "pw")
	if p.status != http.StatusServiceUnavailable || !strings.Contains(html.UnescapeString(p.body), "We couldn't reach Staff") {
		t.Fatalf("hanging backend: %d:\n%s", p.status, p.body)
	}
	pw.SetHang(false)

	metrics := scrape(t, e)
	for _, want := range []string{
		`guestpass_upstream_calls_total{outcome="unreachable",type="mockCallback"} 2`,
		`guestpass_upstream_calls_total{outcome="denied",type="mockCallback"} 1`,
		`guestpass_upstream_calls_total{outcome="bad_response",type="mockCallback"} 1`,
		`guestpass_upstream_calls_total{outcome="error",type="mockCallback"} 1`,
		`guestpass_upstream_calls_total{outcome="ok",type="mockCallback"} 5`, // the LoginURLs
		`guestpass_upstream_calls_total{outcome="unreachable",type="mockPassword"} 1`,
		`guestpass_upstream_call_duration_seconds_count{type="mockCallback"} 10`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

// retryLink is the href of the error page's "try again" link, "" if none.
func retryLink(p page) string {
	i := strings.Index(p.body, ">Try again</a>")
	if i < 0 {
		i = strings.Index(p.body, ">Réessayer</a>")
	}
	if i < 0 {
		return ""
	}
	j := strings.LastIndex(p.body[:i], `href="`)
	if j < 0 {
		return ""
	}
	return html.UnescapeString(strings.TrimSuffix(p.body[j+len(`href="`):i], `"`))
}

func scrape(t *testing.T, e *env) string {
	t.Helper()
	resp, err := http.Get(e.metrics + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return string(body)
}

// A session whose connector was removed from the config signs nobody in
// silently: a new sign-in is asked for (prompt=none: login_required).
func TestConnectorSSOAfterRemoval(t *testing.T) {
	redis := redistest.Start(t)
	prefix := redistest.KeyPrefix(t)
	before, m := newMockEnvWith(t, mockOptions{redis: redis, prefix: prefix})
	m.pw["contoso"].SetUser("ada@staff.example", mock.User{Password: "pw"})
	r := newRP(t, before, "contoso", "portal", "contoso-secret")
	b := newBrowser(t)
	r.callback(t, before, "contoso", postPassword(t, b, postEmail(t, b, r.authURL(), "ada@staff.example"), "pw"))
	// The same deployment's store, with the staff connector removed.
	after, _ := newMockEnvWith(t, mockOptions{redis: redis, prefix: prefix, secrets: &before.secret, only: []string{"partner"}})
	// The session still stands where its connector does...
	rb := newRP(t, before, "contoso", "portal", "contoso-secret")
	rb.callback(t, before, "contoso", b.get(rb.authURL()))
	// ...and not where it was removed.
	ra := newRP(t, after, "contoso", "portal", "contoso-secret")
	if p := b.get(ra.authURL()); !isEmailPage(p) {
		t.Fatalf("SSO of a removed connector: %d %s", p.status, p.url)
	}
	p := b.get(ra.authURL(oauth2Prompt("none")))
	if !strings.HasPrefix(p.url, rpCallback) || mustURL(t, p.url).Query().Get("error") != "login_required" {
		t.Fatalf("prompt=none: %d %s", p.status, p.url)
	}
}

// guestOf reads a guest of contoso (nil: none).
func guestOf(t *testing.T, e *env, canonical string) *guests.Guest {
	t.Helper()
	g, err := guests.NewRepo(e.store, e.cfg.Secrets.Code, e.clock.Now).For("contoso").Get(context.Background(), canonical)
	if errors.Is(err, guests.ErrNotFound) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// The upstream subject is kept on the guest: a recycled upstream address
// (another subject) is refused with nothing recorded, and the same
// subject under a new address signs in as the same guest, now at that
// address, unless another guest holds it.
func TestConnectorUpstreamSubject(t *testing.T) {
	e, m := newMockEnvWith(t, mockOptions{redis: redistest.Start(t)})
	cb, pw := m.cb["contoso"], m.pw["contoso"]
	r := newRP(t, e, "contoso", "portal", "contoso-secret")
	upstream := func(addr string) page {
		b := newBrowser(t)
		return b.get(upstreamRedirect(t, b, r.authURL(), addr))
	}
	cb.SetUser("cy@partner.example", mock.User{Identity: connectors.Identity{UserID: "u-1"}})
	_, idt := r.callback(t, e, "contoso", upstream("cy@partner.example"))
	first := guestOf(t, e, "cy@partner.example")
	if first == nil || first.Subject != "u-1" || idt.Subject != first.ID {
		t.Fatalf("guest %+v, sub %s", first, idt.Subject)
	}

	// Someone else now holds the address upstream.
	cb.SetUser("cy@partner.example", mock.User{Identity: connectors.Identity{UserID: "u-2"}})
	p := upstream("cy@partner.example")
	if p.status != http.StatusForbidden || strings.HasPrefix(p.url, rpCallback) ||
		!strings.Contains(html.UnescapeString(p.body), "This Partner account isn't the one") {
		t.Fatalf("recycled address: %d %s:\n%s", p.status, p.url, p.body)
	}
	if g := guestOf(t, e, "cy@partner.example"); g.Subject != "u-1" || !g.LastSignInAt.Equal(first.LastSignInAt) {
		t.Fatalf("the refused sign-in changed the guest: %+v", g)
	}

	// The person's address changes upstream: same guest, new address.
	cb.SetUser("cy.new@partner.example", mock.User{Identity: connectors.Identity{UserID: "u-1"}})
	_, idt = r.callback(t, e, "contoso", upstream("cy.new@partner.example"))
	moved := guestOf(t, e, "cy.new@partner.example")
	if idt.Subject != first.ID || moved == nil || moved.ID != first.ID || moved.Email != "cy.new@partner.example" {
		t.Fatalf("after the address change: sub %s, guest %+v (was %s)", idt.Subject, moved, first.ID)
	}
	if old := guestOf(t, e, "cy@partner.example"); old != nil {
		t.Fatalf("the old address still has a guest: %+v", old)
	}

	// A new address that is another guest's stays that guest's.
	invite(t, e, "contoso", "dee@partner.example", "Dee")
	cb.SetUser("dee@partner.example", mock.User{Identity: connectors.Identity{UserID: "u-1"}})
	_, idt = r.callback(t, e, "contoso", upstream("dee@partner.example"))
	if dee := guestOf(t, e, "dee@partner.example"); dee == nil || dee.ID == first.ID || idt.Subject != dee.ID {
		t.Fatalf("dee: %+v, sub %s", dee, idt.Subject)
	}
	if g := guestOf(t, e, "cy.new@partner.example"); g == nil || g.ID != first.ID {
		t.Fatalf("the moved guest was touched: %+v", g)
	}

	// The same through a password connector (an address changed in the
	// directory).
	pw.SetUser("old@staff.example", mock.User{Password: "pw", Identity: connectors.Identity{UserID: "emp-7"}})
	b := newBrowser(t)
	_, idt = r.callback(t, e, "contoso", postPassword(t, b, postEmail(t, b, r.authURL(), "old@staff.example"), "pw"))
	emp := idt.Subject
	pw.SetUser("new@staff.example", mock.User{Password: "pw", Identity: connectors.Identity{UserID: "emp-7"}})
	b = newBrowser(t)
	_, idt = r.callback(t, e, "contoso", postPassword(t, b, postEmail(t, b, r.authURL(), "new@staff.example"), "pw"))
	if idt.Subject != emp || guestOf(t, e, "old@staff.example") != nil {
		t.Fatalf("directory address change: sub %s, was %s", idt.Subject, emp)
	}
}
