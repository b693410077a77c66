package server_test

import (
	"context"
	"html"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/guestpass/guestpass/pkg/mail/mailtest"
)

// Helpers of the security tests (sec_*_test.go). They drive the same real
// server as e2e_test.go, but some requests are sent raw (no redirect
// following) so a test can see exactly what the server answered.

// raw sends one request with the browser's cookies and does not follow a
// redirect.
func (b *browser) raw(method, u string, form url.Values) page {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		b.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	return b.do(req)
}

// location resolves a redirect's Location against the request URL.
func (p page) location(t testing.TB) string {
	t.Helper()
	l := p.header.Get("Location")
	if l == "" {
		return ""
	}
	return mustURL(t, p.url).ResolveReference(mustURL(t, l)).String()
}

// toCodePage walks authorize → email → send and returns the code page. The
// mail is not read.
func toCodePage(t testing.TB, b *browser, authURL, email string) page {
	t.Helper()
	return sendOn(t, b, postEmail(t, b, authURL, email))
}

// postEmail opens authURL in b, expects the email page and submits email
// on it; it returns the answer, followed (the send page for an address
// with passcodes). Every passcode walk in these tests starts here.
func postEmail(t testing.TB, b *browser, authURL, email string) page {
	t.Helper()
	p := b.get(authURL)
	if !isEmailPage(p) {
		t.Fatalf("expected the email page, got %d %s:\n%s", p.status, p.url, p.body)
	}
	action, csrf := p.form(t, 0)
	return b.post(action, url.Values{"csrf": {csrf}, "email": {email}})
}

// mustSendPage fails the test unless p is the send page.
func mustSendPage(t testing.TB, p page) {
	t.Helper()
	if p.status != http.StatusOK || !strings.Contains(p.body, "/login/send") {
		t.Fatalf("expected the send page, got %d %s:\n%s", p.status, p.url, p.body)
	}
}

// sendOn presses Send on a send page and expects the code page.
func sendOn(t testing.TB, b *browser, sendPage page) page {
	t.Helper()
	mustSendPage(t, sendPage)
	action, csrf := sendPage.form(t, 0)
	p := b.post(action, url.Values{"csrf": {csrf}})
	if !isCodePage(p) || p.status != http.StatusOK {
		t.Fatalf("expected the code page, got %d %s:\n%s", p.status, p.url, p.body)
	}
	return p
}

func isCodePage(p page) bool { return strings.Contains(p.body, `autocomplete="one-time-code"`) }

// enter posts a code on a code page's verify form and follows the answer.
func enter(t testing.TB, b *browser, codePage page, code string) page {
	t.Helper()
	action, csrf := codePage.form(t, 0)
	if !strings.Contains(action, "/login/verify") {
		t.Fatalf("form 0 of the code page posts to %s", action)
	}
	return b.post(action, url.Values{"csrf": {csrf}, "code": {code}})
}

// resendForm returns the resend form's action and CSRF token.
func resendForm(t testing.TB, codePage page) (string, string) {
	t.Helper()
	action, csrf := codePage.form(t, 1)
	if !strings.Contains(action, "/login/resend") {
		t.Fatalf("form 1 of the code page posts to %s", action)
	}
	return action, csrf
}

// signedIn asserts the answer went to the app with a code.
func signedIn(t testing.TB, p page) {
	t.Helper()
	if !strings.HasPrefix(p.url, rpCallback) || mustURL(t, p.url).Query().Get("code") == "" {
		t.Fatalf("expected a redirect to the app with a code, got %d %s:\n%s", p.status, p.url, p.body)
	}
}

var fieldErrRe = regexp.MustCompile(`<p class="field-error" id="[a-z]+-error">([^<]*)</p>`)

// fieldError returns the text of the page's field error ("" if none).
func fieldError(p page) string {
	m := fieldErrRe.FindStringSubmatch(p.body)
	if m == nil {
		return ""
	}
	return html.UnescapeString(m[1])
}

// rejected asserts a code page answered with a field error and returns it.
func rejected(t testing.TB, p page, status int) string {
	t.Helper()
	if p.status != status || !isCodePage(p) {
		t.Fatalf("expected the code page with status %d, got %d %s:\n%s", status, p.status, p.url, p.body)
	}
	msg := fieldError(p)
	if msg == "" {
		t.Fatalf("code page without a field error:\n%s", p.body)
	}
	return msg
}

// Message texts (English) the tests look for.
const (
	msgCodeInvalid  = "That code didn't work. Check the code and try again, or request a new code."
	msgCodeFormat   = "Enter the 8-digit code from the email."
	msgLocked       = "Too many wrong codes. Try again later."
	msgTooManyCodes = "Too many codes were requested for this address. Try again later."
	msgCooldown     = "A code was sent a moment ago. Wait "
	msgEmailInvalid = "Enter a valid email address, like name@example.com."
	msgOTPDisabled  = "Ask the administrator to turn it back on or to reset your account"
	msgCSRF         = "Your session for this page has expired."
	msgUnavailable  = "The service is temporarily unavailable."
)

// wrongCode returns a well-formed code different from code.
func wrongCode(code string, n int) string {
	b := []byte(code)
	b[0] = '0' + (b[0]-'0'+1+byte(n%9))%10
	b[7] = '0' + (b[7]-'0'+byte(n/9))%10
	return string(b)
}

// noMailTo asserts that no mail to addr arrives within d (the dispatcher
// is asynchronous, so absence can only be checked over a bounded wait).
func noMailTo(t testing.TB, s *mailtest.Server, addr string, d time.Duration) {
	t.Helper()
	if m, err := s.WaitFor(addr, d); err == nil {
		t.Fatalf("unexpected mail to %s: %s", addr, m.Subject)
	}
}

// cookie returns the value of a cookie the jar would send to u.
func (b *browser) cookie(u, name string) string {
	for _, c := range b.c.Jar.Cookies(mustURL(b.t, u)) {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

// authRequestID of a login page: its URL's, or for the first page, which
// /authorize shows itself, its form's.
func authRequestID(t testing.TB, p page) string {
	t.Helper()
	id := mustURL(t, p.url).Query().Get("authRequestID")
	if id == "" && isStartPage(p) {
		action, _ := p.form(t, 0)
		id = mustURL(t, action).Query().Get("authRequestID")
	}
	if id == "" {
		t.Fatalf("no authRequestID in %s", p.url)
	}
	return id
}

// isStartPage reports whether p is a sign-in's first page, which
// /authorize answers with itself: the email form, or with a login_hint
// the send page.
func isStartPage(p page) bool {
	return p.status == http.StatusOK && (strings.Contains(p.body, "/login/email?authRequestID=") ||
		strings.Contains(p.body, "/login/send?authRequestID="))
}

// startURL is the URL that opens the sign-in of p, /authorize's email
// page, again (GET /login, as "Use another email" does); the step extends
// the request like the email form.
func startURL(t testing.TB, p page) string {
	t.Helper()
	if !isStartPage(p) || !strings.Contains(p.body, "/login/email?") {
		t.Fatalf("not the email page: %d %s\n%.300s", p.status, p.url, p.body)
	}
	action, _ := p.form(t, 0)
	return strings.Replace(action, "/login/email?", "/login?", 1)
}

func bg() context.Context { return context.Background() }
