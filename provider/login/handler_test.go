package login_test

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/guestpass/guestpass/connectors/otp"
	"github.com/guestpass/guestpass/pkg/canon"
	"github.com/guestpass/guestpass/pkg/session"
)

// Message texts the tests look for (English, as the pages render them).
const (
	textExpired       = "This sign-in request has expired"
	textCSRF          = "Your session for this page has expired"
	textEmailInvalid  = "Enter a valid email address"
	textCooldown      = "A code was sent a moment ago"
	textCodeInvalid   = "Check the code and try again"
	textPasswordWrong = "That email address and password"
)

// The start page: an unknown request is the expired page, a fresh one the
// email page, prompt=none without a session goes back to the app with
// login_required, and a browser with a session goes straight on to the OP
// (single sign-on) with no page.
func TestStart(t *testing.T) {
	cases := []struct {
		name  string
		query func(b *browser) string
		check func(t *testing.T, b *browser, authReq string, rec *httptestRecorder)
	}{
		{"unknown request", func(*browser) string { return "nosuch" }, func(t *testing.T, _ *browser, _ string, rec *httptestRecorder) {
			wantPage(t, rec, http.StatusBadRequest, textExpired)
		}},
		{"no session: the email page", func(b *browser) string { return b.authorize(nil) }, func(t *testing.T, b *browser, _ string, rec *httptestRecorder) {
			wantPage(t, rec, http.StatusOK, `name="email"`)
			if b.csrf(rec) == "" {
				t.Fatal("no CSRF token")
			}
		}},
		{"prompt=none without a session", func(b *browser) string { return b.authorize(url.Values{"prompt": {"none"}}) },
			func(t *testing.T, _ *browser, _ string, rec *httptestRecorder) {
				loc, err := url.Parse(rec.Header().Get("Location"))
				if err != nil || !strings.HasPrefix(loc.String(), redirectURI) || loc.Query().Get("error") != "login_required" {
					t.Fatalf("answer %d to %q, want the app with login_required", rec.Code, rec.Header().Get("Location"))
				}
			}},
		{"a session: single sign-on", func(b *browser) string {
			b.signIn()
			return b.authorize(nil)
		}, func(t *testing.T, b *browser, authReq string, rec *httptestRecorder) {
			wantCode(t, rec, http.StatusFound) // the start page is a GET
		}},
		{"a session and prompt=login: the email page", func(b *browser) string {
			b.signIn()
			return b.authorize(url.Values{"prompt": {"login"}})
		}, func(t *testing.T, _ *browser, _ string, rec *httptestRecorder) {
			wantPage(t, rec, http.StatusOK, `name="email"`)
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := newEnv(t).browser(t)
			authReq := c.query(b)
			c.check(t, b, authReq, b.do(http.MethodGet, page("", authReq), nil))
		})
	}
}

// The email form: a POST without the CSRF token is refused; an invalid
// address gets the email page again with a 400; a valid one goes on to
// the chain's choice: the passcode's send page, or the password page of
// the connector that claims its domain.
func TestEmail(t *testing.T) {
	e := newEnv(t)
	t.Run("no CSRF token", func(t *testing.T) {
		b := e.browser(t)
		authReq, _ := b.toEmail()
		rec := b.do(http.MethodPost, page("/email", authReq), url.Values{"email": {invited}})
		wantPage(t, rec, http.StatusForbidden, textCSRF)
	})
	for _, c := range []struct{ name, addr, next string }{
		{"invited guest: passcode", invited, "/send"},
		// No enumeration: an address that may not sign in goes down the
		// same path (it is never mailed, see TestSend).
		{"stranger: passcode all the same", "eve@example.com", "/send"},
		{"claimed domain: password connector", staffUser, "/password"},
		{"claimed domain, typed in capitals", "Bob@STAFF.example", "/password"},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := e.browser(t)
			authReq, csrf := b.toEmail()
			b.chose(authReq, csrf, c.addr, c.next)
		})
	}
	for _, typed := range []string{"not an address", "ada@", "a@b@c.example"} {
		t.Run("invalid "+typed, func(t *testing.T) {
			b := e.browser(t)
			authReq, csrf := b.toEmail()
			rec := b.do(http.MethodPost, page("/email", authReq), url.Values{"csrf": {csrf}, "email": {typed}})
			wantPage(t, rec, http.StatusBadRequest, textEmailInvalid)
		})
	}
}

// The send step: the page (GET) sends nothing; a POST without the CSRF
// token is refused and issues nothing; a POST issues a code, mails it to
// the invited guest (a stranger gets the same answer and no mail) and
// answers with the code page itself. A resend within the cooldown is
// refused with 429, and after the cooldown a new code goes out.
func TestSend(t *testing.T) {
	e := newEnv(t)
	b := e.browser(t)
	authReq, csrf := b.toEmail()
	b.chose(authReq, csrf, invited, "/send")

	wantPage(t, b.do(http.MethodGet, page("/send", authReq), nil), http.StatusOK, invited)
	wantPage(t, b.do(http.MethodPost, page("/send", authReq), url.Values{}), http.StatusForbidden, textCSRF)
	wantPage(t, b.do(http.MethodPost, page("/send", authReq), url.Values{"csrf": {"forged"}}), http.StatusForbidden, textCSRF)
	if n := len(e.mailer.mails()); n != 0 {
		t.Fatalf("%d mails before the first valid POST", n)
	}

	// Nothing was issued above: the first valid POST is not in a cooldown.
	b.wantCodePage(b.send(authReq, csrf), authReq)
	mails := e.mailer.wait(t, 1)
	if len(mails) != 1 || mails[0].To != invited || mails[0].Kind != "code" || mails[0].Tenant != tenantID {
		t.Fatalf("mails %+v, want one code mail to %s", mails, invited)
	}
	codeIn(t, mails[0])

	wantPage(t, b.resend(authReq, csrf), http.StatusTooManyRequests, textCooldown)
	if n := len(e.mailer.mails()); n != 1 {
		t.Fatalf("%d mails after a resend in the cooldown", n)
	}
	e.clock.Advance(2 * time.Minute)
	b.wantCodePage(b.resend(authReq, csrf), authReq)
	if n := len(e.mailer.wait(t, 2)); n != 2 {
		t.Fatalf("%d mails after the cooldown, want 2", n)
	}

	t.Run("stranger", func(t *testing.T) {
		s := e.browser(t)
		authReq, csrf := s.toEmail()
		s.chose(authReq, csrf, "eve@example.com", "/send")
		s.wantCodePage(s.send(authReq, csrf), authReq)
		if n := len(e.mailer.mails()); n != 2 {
			t.Fatalf("a stranger was mailed: %d mails", n)
		}
	})
}

// A repeated Send (a reload of the code page it answered with, a double
// submission, Back then Send) only shows the code page again, even past
// the cooldown: no new code (the first one still signs in), no mail, and
// no counter charged (more repeats than the address may have codes in an
// hour, and another browser still gets a code for it).
func TestSendAgainShowsTheCodePage(t *testing.T) {
	e := newEnv(t)
	b := e.browser(t)
	authReq, csrf, code := b.codeMailed(invited)
	for range otp.DefaultPolicy().MaxCodesPerHour + 1 {
		e.clock.Advance(2 * time.Minute)
		b.wantCodePage(b.send(authReq, csrf), authReq)
	}
	wantCode(t, b.verify(authReq, csrf, code), http.StatusSeeOther)
	if n := len(e.mailer.mails()); n != 1 {
		t.Fatalf("%d mails after repeated sends, want 1", n)
	}
	e.browser(t).codeMailed(invited)
}

// Resend keeps its rules: a new code, mailed, that replaces the earlier
// one of the sign-in.
func TestResendReplacesTheCode(t *testing.T) {
	e := newEnv(t)
	b := e.browser(t)
	authReq, csrf, first := b.codeMailed(invited)
	e.clock.Advance(2 * time.Minute)
	b.wantCodePage(b.resend(authReq, csrf), authReq)
	mails := e.mailer.wait(t, 2)
	if len(mails) != 2 {
		t.Fatalf("%d mails after the resend, want 2", len(mails))
	}
	second := codeIn(t, mails[1])
	if second != first { // one draw in 10^8 repeats the digits
		wantPage(t, b.verify(authReq, csrf, first), http.StatusBadRequest, textCodeInvalid)
	}
	wantCode(t, b.verify(authReq, csrf, second), http.StatusSeeOther)
}

// "Use another email" starts the sign-in afresh: the address chosen again
// (here the same one) is sent a new code by Send, past the cooldown.
func TestSendAfterUseAnotherEmail(t *testing.T) {
	e := newEnv(t)
	b := e.browser(t)
	authReq, csrf, _ := b.codeMailed(invited)
	wantPage(t, b.do(http.MethodGet, page("", authReq)+"&restart=1", nil), http.StatusOK, `name="email"`)
	b.chose(authReq, csrf, invited, "/send")
	e.clock.Advance(2 * time.Minute)
	b.wantCodePage(b.send(authReq, csrf), authReq)
	mails := e.mailer.wait(t, 2)
	if len(mails) != 2 {
		t.Fatalf("%d mails after Send on a new choice, want 2", len(mails))
	}
	wantCode(t, b.verify(authReq, csrf, codeIn(t, mails[1])), http.StatusSeeOther)
}

// A stale sign-in state (the cookie from before the send, replayed after
// it) lacks the mark of the code sent: Send then gets a resend's
// treatment, never a free code: the cooldown, then a new code that counts.
func TestSendWithStaleStateIsAResend(t *testing.T) {
	e := newEnv(t)
	b := e.browser(t)
	authReq, csrf := b.toEmail()
	b.chose(authReq, csrf, invited, "/send")
	stale := maps.Clone(b.cookies)
	b.wantCodePage(b.send(authReq, csrf), authReq)
	e.mailer.wait(t, 1)

	b.cookies = maps.Clone(stale)
	wantPage(t, b.send(authReq, csrf), http.StatusTooManyRequests, textCooldown)
	if n := len(e.mailer.mails()); n != 1 {
		t.Fatalf("%d mails after a stale send in the cooldown, want 1", n)
	}
	e.clock.Advance(2 * time.Minute)
	b.cookies = maps.Clone(stale)
	b.wantCodePage(b.send(authReq, csrf), authReq)
	if n := len(e.mailer.wait(t, 2)); n != 2 {
		t.Fatalf("%d mails after a stale send past the cooldown, want 2", n)
	}
}

// The verify step: a wrong code is refused with 400, the right one goes
// on to the OP's callback, and the same code again (a replay) gets the
// wrong code's answer, never a second trip to the app.
func TestVerify(t *testing.T) {
	e := newEnv(t)
	b := e.browser(t)
	authReq, csrf, code := b.codeMailed(invited)
	wrong := strings.Repeat("0", len(code))
	if code == wrong {
		wrong = strings.Repeat("1", len(code))
	}

	wantPage(t, b.verify(authReq, "", code), http.StatusForbidden, textCSRF)
	wantPage(t, b.verify(authReq, csrf, wrong), http.StatusBadRequest, textCodeInvalid)
	wantCode(t, b.verify(authReq, csrf, code), http.StatusSeeOther)
	if _, ok := b.cookies[session.CookieName]; !ok {
		t.Fatalf("no session cookie after sign-in: %v", b.cookies)
	}
	wantPage(t, b.verify(authReq, csrf, code), http.StatusBadRequest, textCodeInvalid)

	// Even a valid new code for the completed request (a submission
	// racing the winning one) never leads to the app a second time (B3).
	e.clock.Advance(2 * time.Minute)
	b.wantCodePage(b.resend(authReq, csrf), authReq)
	fresh := codeIn(t, e.mailer.wait(t, 2)[1])
	wantPage(t, b.verify(authReq, csrf, fresh), http.StatusBadRequest, textCodeInvalid)

	t.Run("another browser cannot use the code", func(t *testing.T) {
		o := e.browser(t)
		authReq2, csrf2 := o.toEmail()
		o.chose(authReq2, csrf2, invited, "/send")
		wantPage(t, o.verify(authReq2, csrf2, code), http.StatusBadRequest, textCodeInvalid)
	})
}

// The password connector (mock): a wrong password is refused on the
// password page, the right one goes on to the OP's callback.
func TestPassword(t *testing.T) {
	e := newEnv(t)
	b := e.browser(t)
	authReq, csrf := b.toEmail()
	b.chose(authReq, csrf, staffUser, "/password")
	wantPage(t, b.do(http.MethodGet, page("/password", authReq), nil), http.StatusOK, `name="password"`)

	post := func(csrf, password string) *httptestRecorder {
		return b.do(http.MethodPost, page("/password", authReq), url.Values{"csrf": {csrf}, "password": {password}})
	}
	calls := e.staff.Calls()
	wantPage(t, post("", staffPass), http.StatusForbidden, textCSRF)
	if e.staff.Calls() != calls {
		t.Fatal("a POST without the CSRF token reached the connector")
	}
	wantPage(t, post(csrf, "wrong"), http.StatusBadRequest, textPasswordWrong)
	wantCode(t, post(csrf, staffPass), http.StatusSeeOther)
	if n := len(e.mailer.mails()); n != 0 {
		t.Fatalf("a password sign-in sent %d mails", n)
	}
}

// The apps page lists the apps with a home page only; the signed-out page
// says so. Neither needs a flow or a request.
func TestAppsAndSignedOut(t *testing.T) {
	e := newEnv(t)
	b := e.browser(t)
	rec := b.do(http.MethodGet, "/apps", nil)
	wantPage(t, rec, http.StatusOK, "https://app.example/")
	if !strings.Contains(rec.Body.String(), "Contoso App") || strings.Contains(rec.Body.String(), "hidden") {
		t.Fatalf("apps page lists the wrong apps:\n%s", rec.Body)
	}
	wantPage(t, b.do(http.MethodGet, "/logged-out", nil), http.StatusOK, "You have signed out")
}

// The callback connector (mock): the email step sends the browser to the
// upstream (which answers at once at the callback URL), and the callback
// goes on to the OP; a callback whose nonce is not the one this browser's
// sign-in made, or that vouches for an address that is no guest, is
// refused and completes nothing.
func TestCallbackConnector(t *testing.T) {
	e := newEnv(t)
	for _, c := range []struct {
		name   string
		addr   string
		tamper bool
		// refused: the callback's answer (0: on to the OP).
		refused int
	}{
		{"upstream vouches", partnerUser, false, 0},
		{"forged nonce", partnerUser, true, http.StatusBadGateway},
		// The upstream vouches for an address that is no guest (and the
		// tenant has no self-service sign-up).
		{"not a guest", "dave@partner.example", false, http.StatusForbidden},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := e.browser(t)
			authReq, csrf := b.toEmail()
			rec := b.do(http.MethodPost, page("/email", authReq), url.Values{"csrf": {csrf}, "email": {c.addr}})
			up, err := url.Parse(rec.Header().Get("Location"))
			if rec.Code != http.StatusSeeOther || err != nil || up.Host != "idp.example" || up.Path != "/"+tenantID+"/login/callback" {
				t.Fatalf("answer %d to %q, want 303 to the upstream", rec.Code, rec.Header().Get("Location"))
			}
			if c.tamper {
				q := up.Query()
				q.Set("nonce", "forged")
				up.RawQuery = q.Encode()
			}
			rec = b.do(http.MethodGet, up.Path+"?"+up.RawQuery, nil)
			if c.refused == 0 {
				wantCode(t, rec, http.StatusFound)
				return
			}
			if rec.Code != c.refused {
				t.Fatalf("callback answered %d to %q, want %d", rec.Code, rec.Header().Get("Location"), c.refused)
			}
			// Nothing was completed: the request still starts over.
			wantPage(t, b.do(http.MethodGet, page("", authReq), nil), http.StatusOK, `name="email"`)
		})
	}
}

// A full mail queue: the send page again with 503, saying no code is on
// its way; nothing was mailed.
func TestSendMailQueueFull(t *testing.T) {
	e := newEnv(t)
	b := e.browser(t)
	authReq, csrf := b.toEmail()
	b.chose(authReq, csrf, invited, "/send")
	e.mailer.setFull(true)
	rec := b.send(authReq, csrf)
	wantPage(t, rec, http.StatusServiceUnavailable, "No email is on its way")
	if rec.Header().Get("Retry-After") == "" && !strings.Contains(rec.Body.String(), "few minutes") {
		t.Fatalf("no hint when to retry:\n%s", rec.Body)
	}
	if n := len(e.mailer.mails()); n != 0 {
		t.Fatalf("%d mails with a full queue", n)
	}
	e.mailer.setFull(false)
	b.wantCodePage(b.send(authReq, csrf), authReq)
}

// Passcodes turned off (the stored switch, B5): the email step refuses an
// address the passcode would serve, and a code issued before the switch
// no longer signs in; a code in the wrong format is refused before any
// of that.
func TestPasscodesOff(t *testing.T) {
	e := newEnv(t)
	b := e.browser(t)
	authReq, csrf, code := b.codeMailed(invited)
	wantPage(t, b.verify(authReq, csrf, "12ab"), http.StatusBadRequest, fmt.Sprintf("Enter the %d-digit code", canon.CodeLength))

	if err := e.policies.SetEmailOTP(context.Background(), tenantID, false); err != nil {
		t.Fatal(err)
	}
	// Refused before the code is counted or consumed: every try of it is
	// still there once passcodes are back on (the end of this test).
	for range otp.DefaultPolicy().MaxAttempts + 1 {
		wantPage(t, b.verify(authReq, csrf, code), http.StatusForbidden, "turned off")
	}
	email := func(addr string) *httptestRecorder {
		o := e.browser(t)
		authReq, csrf := o.toEmail()
		return o.do(http.MethodPost, page("/email", authReq), url.Values{"csrf": {csrf}, "email": {addr}})
	}
	toPassword := func() {
		o := e.browser(t)
		authReq, csrf := o.toEmail()
		o.chose(authReq, csrf, staffUser, "/password")
	}
	// A guest who never signed in has no method left; the password
	// connector is not the passcode: it still serves its domain.
	wantPage(t, email(invited), http.StatusForbidden, "No sign-in method")
	toPassword()

	// A guest bound to the passcode (sticky source) hears that it is off.
	if err := e.policies.SetEmailOTP(context.Background(), tenantID, true); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(2 * time.Minute)
	e.browser(t).signIn()
	if err := e.policies.SetEmailOTP(context.Background(), tenantID, false); err != nil {
		t.Fatal(err)
	}
	wantPage(t, email(invited), http.StatusForbidden, "turned off")

	if err := e.policies.SetEmailOTP(context.Background(), tenantID, true); err != nil {
		t.Fatal(err)
	}
	wantCode(t, b.verify(authReq, csrf, code), http.StatusSeeOther)
}

// B3, timing: the send step answers an invited address without waiting
// for its mail to be rendered and queued (an uninvited one has none), so
// that work cannot tell the two apart.
func TestSendAnswersBeforeTheMailIsQueued(t *testing.T) {
	e := newEnv(t)
	b := e.browser(t)
	authReq, csrf := b.toEmail()
	b.chose(authReq, csrf, invited, "/send")
	hold := make(chan struct{})
	e.mailer.mu.Lock()
	e.mailer.hold = hold
	e.mailer.mu.Unlock()
	answered := make(chan *httptestRecorder, 1)
	go func() { answered <- b.send(authReq, csrf) }()
	select {
	case rec := <-answered:
		wantPage(t, rec, http.StatusOK, `autocomplete="one-time-code"`)
	case <-time.After(5 * time.Second):
		close(hold)
		t.Fatal("the send step waited for its mail to be queued")
	}
	if n := len(e.mailer.mails()); n != 0 {
		t.Fatalf("%d mails while held", n)
	}
	close(hold)
	if mails := e.mailer.wait(t, 1); len(mails) != 1 || mails[0].To != invited {
		t.Fatalf("after the answer, mails %+v, want the code mail to %s", mails, invited)
	}
}
