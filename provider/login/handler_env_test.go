package login_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/guestpass/guestpass/connectors"
	"github.com/guestpass/guestpass/connectors/mock"
	"github.com/guestpass/guestpass/connectors/otp"
	"github.com/guestpass/guestpass/pkg/canon"
	"github.com/guestpass/guestpass/pkg/clientip"
	"github.com/guestpass/guestpass/pkg/guests"
	"github.com/guestpass/guestpass/pkg/mail"
	"github.com/guestpass/guestpass/pkg/metrics"
	"github.com/guestpass/guestpass/pkg/policy"
	"github.com/guestpass/guestpass/pkg/session"
	"github.com/guestpass/guestpass/pkg/store/memory"
	"github.com/guestpass/guestpass/pkg/store/storetest"
	"github.com/guestpass/guestpass/provider/login"
	"github.com/guestpass/guestpass/provider/op"
	"github.com/guestpass/guestpass/provider/pages"
	"github.com/guestpass/guestpass/templates"
)

// The handler tests below drive login.Handler directly (httptest requests
// and recorders, no server, no TCP) on real parts: the memory store, the
// real session, flow and device cookies, the real renderers, the real
// passcode connector and chain, the mock password connector, and the
// tenant's real OP (its /authorize creates the auth requests). Only the
// mail queue is replaced, by a Mailer that records what it would send:
// that is the handler's seam, and pkg/mail tests delivery over SMTP.

const (
	tenantID    = "fabrikam"
	redirectURI = "https://app.example/cb"
	invited     = "ada@example.com"
	staffUser   = "bob@staff.example"
	partnerUser = "carol@partner.example"
	staffPass   = "correct horse"
)

// recordingMailer is a Mailer whose slots record the mails sent into them;
// while full it holds no place, as a tenant's full queue.
type recordingMailer struct {
	mu   sync.Mutex
	sent []mail.Message
	full bool
	// hold, when set, keeps every Send waiting until it is closed.
	hold chan struct{}
}

func (m *recordingMailer) Reserve(tenant string) (mail.Slot, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.full {
		return nil, mail.ErrQueueFull
	}
	return &recordingSlot{m: m, tenant: tenant}, nil
}

func (m *recordingMailer) setFull(full bool) {
	m.mu.Lock()
	m.full = full
	m.mu.Unlock()
}

func (m *recordingMailer) mails() []mail.Message {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]mail.Message(nil), m.sent...)
}

// wait returns the mails once there are n: the send step queues its mail
// after answering.
func (m *recordingMailer) wait(t testing.TB, n int) []mail.Message {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; {
		if mails := m.mails(); len(mails) >= n || time.Now().After(deadline) {
			return mails
		}
		time.Sleep(time.Millisecond)
	}
}

type recordingSlot struct {
	m      *recordingMailer
	tenant string
	once   sync.Once
}

func (s *recordingSlot) Send(msg mail.Message) error {
	s.m.mu.Lock()
	hold := s.m.hold
	s.m.mu.Unlock()
	if hold != nil {
		<-hold
	}
	err := mail.ErrSlotUsed
	s.once.Do(func() {
		msg.Tenant = s.tenant
		s.m.mu.Lock()
		s.m.sent = append(s.m.sent, msg)
		s.m.mu.Unlock()
		err = nil
	})
	return err
}

func (s *recordingSlot) Release() { s.once.Do(func() {}) }

// env is one tenant's sign-in pages and OP on a memory store.
type env struct {
	t       *testing.T
	clock   *storetest.Clock
	op      *op.Tenant
	h       *login.Handler
	mux     http.Handler // h's Routes
	mailer  *recordingMailer
	staff   *mock.Password
	partner *mock.Callback
	// policies holds the tenant's stored passcode switch (B5).
	policies *policy.Policies
}

func newEnv(t *testing.T) *env {
	t.Helper()
	clock := storetest.NewClock(time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC))
	st := memory.New(clock.Now)
	t.Cleanup(func() { st.Close() })
	pg, err := pages.New(templates.FS)
	if err != nil {
		t.Fatal(err)
	}
	mr, err := mail.NewRenderer(templates.FS)
	if err != nil {
		t.Fatal(err)
	}
	cookies := session.Options{HashKey: []byte(strings.Repeat("h", 32)), BlockKey: []byte(strings.Repeat("b", 32)), Clock: clock.Now}
	sessions, flows, devices := session.NewManager(st, cookies), session.NewFlows(cookies), session.NewDevices(cookies)
	branding := pages.Branding{TenantID: tenantID, DisplayName: "Fabrikam"}
	secret := []byte(strings.Repeat("s", 32))
	provider, err := op.New(op.Options{
		BaseURL: "http://idp.example", Store: st, Secret: secret, Sessions: sessions, Flows: flows,
		Clock: clock.Now, Pages: pg,
		Tenant: op.TenantSettings{ID: tenantID, SessionLifetime: 8 * time.Hour, Branding: branding,
			Clients: []op.Client{{ID: "app", Name: "Contoso App", Secret: "app-secret", RedirectURIs: []string{redirectURI}}}},
		ErrorPage: func(w http.ResponseWriter, r *http.Request, status int, key pages.MessageKey) {
			pg.Render(w, r, pages.PageError, pages.Data{Status: status, Message: key, Tenant: branding})
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	gr := guests.NewRepo(st, secret, clock.Now).For(tenantID)
	for _, addr := range []string{invited, partnerUser} {
		if _, _, err := gr.Invite(context.Background(), addr, addr, "Guest"); err != nil {
			t.Fatal(err)
		}
	}
	staff := mock.NewPassword(connectors.Spec{Tenant: tenantID, Type: mock.TypePassword, ID: "staff", Name: "Staff directory",
		Domains: []string{"staff.example"}})
	staff.SetUser(staffUser, mock.User{Password: staffPass})
	partner := mock.NewCallback(connectors.Spec{Tenant: tenantID, Type: mock.TypeCallback, ID: "partner", Name: "Partner",
		Domains: []string{"partner.example"}})
	pol, policies := otp.DefaultPolicy(), policy.New(st)
	passcode := otp.NewConnector(otp.NewIssuer(st, secret, clock.Now).For(tenantID), pol, policies, true)
	e := &env{t: t, clock: clock, op: provider, mailer: &recordingMailer{}, staff: staff, partner: partner, policies: policies}
	e.h = login.New(login.Deps{
		Tenant: login.Tenant{ID: tenantID, Branding: branding, EmailOTP: login.EmailOTP{Policy: pol},
			Session: login.Session{Lifetime: 8 * time.Hour},
			Clients: []login.Client{{ID: "app", HomeURL: "https://app.example/"}, {ID: "hidden"}}},
		OP: provider, Store: st, Guests: gr, Sessions: sessions.For(tenantID), Flows: flows.For(tenantID),
		Devices: devices.For(tenantID), ClientIP: clientip.New(nil), Chain: connectors.NewChain(staff, partner, passcode),
		BaseURL: "http://idp.example", Mail: mr, Mailer: e.mailer, Pages: pg, Logger: zap.NewNop(),
		Metrics: metrics.New(), Clock: clock.Now,
	})
	e.mux = routesMux(e.h)
	return e
}

// browser keeps one browser's cookies across requests to the handler.
type browser struct {
	t       *testing.T
	e       *env
	cookies map[string]*http.Cookie
}

func (e *env) browser(t *testing.T) *browser {
	return &browser{t: t, e: e, cookies: map[string]*http.Cookie{}}
}

// do sends one request to the handler at a path under /fabrikam (the
// prefix the server would strip is stripped here), form (nil: none) as
// the body of a POST.
func (b *browser) do(method, path string, form url.Values) *httptest.ResponseRecorder {
	b.t.Helper()
	path = strings.TrimPrefix(path, "/"+tenantID)
	var req *http.Request
	if form != nil {
		req = httptest.NewRequest(method, path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	} else {
		req = httptest.NewRequest(method, path, nil)
	}
	for _, c := range b.cookies {
		req.AddCookie(c)
	}
	rec := httptest.NewRecorder()
	b.e.mux.ServeHTTP(rec, req)
	b.keep(rec)
	return rec
}

func (b *browser) keep(rec *httptest.ResponseRecorder) {
	for _, c := range rec.Result().Cookies() {
		if c.MaxAge < 0 {
			delete(b.cookies, c.Name)
			continue
		}
		b.cookies[c.Name] = c
	}
}

// authorize starts an auth request at the tenant's OP as this browser
// would, and returns its id; extra adds to the query (prompt, ...).
func (b *browser) authorize(extra url.Values) string {
	b.t.Helper()
	q := url.Values{"client_id": {"app"}, "redirect_uri": {redirectURI}, "response_type": {"code"},
		"scope": {"openid email"}, "state": {"st"}, "nonce": {"n"}}
	for k, v := range extra {
		q[k] = v
	}
	req := httptest.NewRequest(http.MethodGet, "/authorize?"+q.Encode(), nil)
	for _, c := range b.cookies {
		req.AddCookie(c)
	}
	rec := httptest.NewRecorder()
	b.e.op.ServeHTTP(rec, req)
	b.keep(rec)
	loc, err := url.Parse(rec.Header().Get("Location"))
	if err != nil || loc.Query().Get("authRequestID") == "" {
		b.t.Fatalf("authorize: %d %q", rec.Code, rec.Header().Get("Location"))
	}
	return loc.Query().Get("authRequestID")
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf is the CSRF token of the page in rec.
func (b *browser) csrf(rec *httptest.ResponseRecorder) string {
	b.t.Helper()
	m := csrfField.FindStringSubmatch(rec.Body.String())
	if m == nil {
		b.t.Fatalf("no csrf field in the page (%d):\n%s", rec.Code, rec.Body)
	}
	return m[1]
}

// page is the path of a sign-in page for an auth request.
func page(suffix, authReq string) string {
	return "/login" + suffix + "?authRequestID=" + url.QueryEscape(authReq)
}

// toEmail opens the email page of a new auth request and returns the
// request and the page's CSRF token.
func (b *browser) toEmail() (authReq, csrf string) {
	b.t.Helper()
	authReq = b.authorize(nil)
	rec := b.do(http.MethodGet, page("", authReq), nil)
	if rec.Code != http.StatusOK {
		b.t.Fatalf("start: %d\n%s", rec.Code, rec.Body)
	}
	return authReq, b.csrf(rec)
}

// chose submits an address on the email page and checks where it leads.
func (b *browser) chose(authReq, csrf, addr, wantNext string) {
	b.t.Helper()
	rec := b.do(http.MethodPost, page("/email", authReq), url.Values{"csrf": {csrf}, "email": {addr}})
	if wantNext == "/send" {
		// The passcode's send page comes as the answer itself.
		wantPage(b.t, rec, http.StatusOK, `action="/`+tenantID+page("/send", authReq)+`"`)
		return
	}
	wantRedirect(b.t, rec, "/"+tenantID+page(wantNext, authReq))
}

// send posts the send form and returns the answer.
func (b *browser) send(authReq, csrf string) *httptest.ResponseRecorder {
	return b.do(http.MethodPost, page("/send", authReq), url.Values{"csrf": {csrf}})
}

// resend posts the code page's resend form and returns the answer.
func (b *browser) resend(authReq, csrf string) *httptest.ResponseRecorder {
	return b.do(http.MethodPost, page("/resend", authReq), url.Values{"csrf": {csrf}})
}

var styleNonce = regexp.MustCompile(`nonce="[^"]*"`)

// wantCodePage checks that rec is the code page of authReq with 200: the
// very page GET /login/code shows this browser (the style nonce aside),
// with the same verify form, resend form and links.
func (b *browser) wantCodePage(rec *httptest.ResponseRecorder, authReq string) {
	b.t.Helper()
	wantPage(b.t, rec, http.StatusOK, `action="/`+tenantID+page("/verify", authReq)+`"`)
	shown := b.do(http.MethodGet, page("/code", authReq), nil)
	wantPage(b.t, shown, http.StatusOK, `autocomplete="one-time-code"`)
	got, want := styleNonce.ReplaceAllString(rec.Body.String(), ""), styleNonce.ReplaceAllString(shown.Body.String(), "")
	if got != want {
		b.t.Fatalf("the answer is not the code page:\n%s\n--- GET /login/code:\n%s", got, want)
	}
}

// verify posts a code.
func (b *browser) verify(authReq, csrf, code string) *httptest.ResponseRecorder {
	return b.do(http.MethodPost, page("/verify", authReq), url.Values{"csrf": {csrf}, "code": {code}})
}

var codeDigits = regexp.MustCompile(`\b\d{` + strconv.Itoa(canon.CodeLength) + `}\b`)

// codeIn is the passcode a mail carries.
func codeIn(t *testing.T, m mail.Message) string {
	t.Helper()
	c := codeDigits.FindString(m.Text)
	if c == "" {
		t.Fatalf("no code in the mail to %s:\n%s", m.To, m.Text)
	}
	return c
}

// codeMailed takes the browser through the email and send steps as addr
// and returns the auth request, the CSRF token and the code mailed.
func (b *browser) codeMailed(addr string) (authReq, csrf, code string) {
	b.t.Helper()
	authReq, csrf = b.toEmail()
	b.chose(authReq, csrf, addr, "/send")
	before := len(b.e.mailer.mails())
	b.wantCodePage(b.send(authReq, csrf), authReq)
	mails := b.e.mailer.wait(b.t, before+1)
	if len(mails) != before+1 {
		b.t.Fatalf("%d mails after the send, want %d", len(mails), before+1)
	}
	return authReq, csrf, codeIn(b.t, mails[before])
}

// signIn signs the browser in as the invited guest with a passcode and
// returns the auth request it completed.
func (b *browser) signIn() string {
	b.t.Helper()
	authReq, csrf, code := b.codeMailed(invited)
	wantCode(b.t, b.verify(authReq, csrf, code), http.StatusSeeOther)
	return authReq
}

func wantRedirect(t *testing.T, rec *httptest.ResponseRecorder, to string) {
	t.Helper()
	if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != to {
		t.Fatalf("answer %d to %q, want 303 to %q\n%s", rec.Code, rec.Header().Get("Location"), to, rec.Body)
	}
}

// wantCode checks that the browser was sent to the app with a code, iss
// and the app's state: status 303 after a form's POST, 302 after a GET.
func wantCode(t *testing.T, rec *httptest.ResponseRecorder, status int) {
	t.Helper()
	loc, err := url.Parse(rec.Header().Get("Location"))
	if rec.Code != status || err != nil || loc.Scheme+"://"+loc.Host+loc.Path != "https://app.example/cb" {
		t.Fatalf("answer %d to %q, want %d to the app's redirect URI\n%s", rec.Code, rec.Header().Get("Location"), status, rec.Body)
	}
	q := loc.Query()
	if q.Get("code") == "" || q.Get("iss") == "" || q.Get("state") != "st" {
		t.Fatalf("the app's answer %q lacks code, iss or state", loc)
	}
}

func wantPage(t *testing.T, rec *httptest.ResponseRecorder, status int, contains string) {
	t.Helper()
	if rec.Code != status || !strings.Contains(rec.Body.String(), contains) {
		t.Fatalf("answer %d, want %d with %q\n%s", rec.Code, status, contains, rec.Body)
	}
}

// httptestRecorder is the recorder the helpers answer with.
type httptestRecorder = httptest.ResponseRecorder
