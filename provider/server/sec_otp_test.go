package server_test

import (
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/guestpass/guestpass/pkg/policy"
	"github.com/guestpass/guestpass/pkg/store/redistest"
)

// B3 single use: 100 simultaneous submissions of the right code from the
// same browser flow give exactly one sign-in.
func TestSecCodeReplayConcurrent(t *testing.T) {
	e := newEnv(t, envOptions{redis: redistest.Start(t)})
	invite(t, e, "fabrikam", "ada@guest.example", "Ada")
	r := newRP(t, e, "fabrikam", "portal", "portal-secret")
	b := newBrowser(t)
	cp := toCodePage(t, b, r.authURL(), "ada@guest.example")
	code := waitCode(t, e.smtp, "ada@guest.example")
	action, csrf := cp.form(t, 0)
	body := url.Values{"csrf": {csrf}, "code": {code}}.Encode()

	const n = 100
	var wg sync.WaitGroup
	start := make(chan struct{})
	status := make([]int, n)
	locs := make([]string, n)
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest(http.MethodPost, action, strings.NewReader(body))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Accept", "text/html")
			<-start
			resp, err := b.c.Do(req)
			if err != nil {
				errs[i] = err
				return
			}
			resp.Body.Close()
			status[i], locs[i] = resp.StatusCode, resp.Header.Get("Location")
		}()
	}
	close(start)
	wg.Wait()
	b.c.CloseIdleConnections()
	wins := 0
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("request %d: %v", i, errs[i])
		}
		if status[i] == http.StatusSeeOther && strings.HasPrefix(locs[i], rpCallback) {
			wins++
		}
	}
	if wins != 1 {
		t.Fatalf("%d of %d simultaneous right submissions reached the app with a code, want exactly 1 (statuses %v)", wins, n, status)
	}
}

// B3 attempts: after 5 wrong codes the right one fails too, with the same
// message as a wrong code.
func TestSecFiveWrongThenRight(t *testing.T) {
	e := newEnv(t, envOptions{})
	invite(t, e, "fabrikam", "ada@guest.example", "Ada")
	r := newRP(t, e, "fabrikam", "portal", "portal-secret")
	b := newBrowser(t)
	cp := toCodePage(t, b, r.authURL(), "ada@guest.example")
	code := waitCode(t, e.smtp, "ada@guest.example")
	for i := range 5 {
		if msg := rejected(t, enter(t, b, cp, wrongCode(code, i)), http.StatusBadRequest); msg != msgCodeInvalid {
			t.Fatalf("wrong code %d: message %q", i+1, msg)
		}
	}
	if msg := rejected(t, enter(t, b, cp, code), http.StatusBadRequest); msg != msgCodeInvalid {
		t.Fatalf("right code after 5 wrong ones: message %q, want the wrong-code message", msg)
	}
}

// B3 binding: the same digits fail in another tenant, another browser flow
// and for another address; the failed tries do not consume the code.
func TestSecCodeBinding(t *testing.T) {
	e := newEnv(t, envOptions{})
	const ada, bob = "ada@guest.example", "bob@guest.example"
	invite(t, e, "fabrikam", ada, "Ada")
	invite(t, e, "fabrikam", bob, "Bob")
	fab := newRP(t, e, "fabrikam", "portal", "portal-secret")
	con := newRP(t, e, "contoso", "portal", "contoso-secret")

	b1 := newBrowser(t)
	cp1 := toCodePage(t, b1, fab.authURL(), ada)
	code1 := waitCode(t, e.smtp, ada)

	t.Run("other tenant", func(t *testing.T) {
		// The same browser, same address, at contoso (self-service).
		cp := toCodePage(t, b1, con.authURL(), ada)
		own := waitCode(t, e.smtp, ada)
		if own == code1 {
			t.Skip("the two codes collided (1 in 10^8)")
		}
		if msg := rejected(t, enter(t, b1, cp, code1), http.StatusBadRequest); msg != msgCodeInvalid {
			t.Fatalf("fabrikam's code at contoso: %q", msg)
		}
	})
	t.Run("other flow", func(t *testing.T) {
		e.clock.Advance(61 * time.Second) // the per-address resend cooldown
		b2 := newBrowser(t)
		cp := toCodePage(t, b2, fab.authURL(), ada)
		own := waitCode(t, e.smtp, ada)
		if own == code1 {
			t.Skip("the two codes collided (1 in 10^8)")
		}
		if msg := rejected(t, enter(t, b2, cp, code1), http.StatusBadRequest); msg != msgCodeInvalid {
			t.Fatalf("browser 1's code in browser 2: %q", msg)
		}
	})
	t.Run("other address", func(t *testing.T) {
		// Same browser, same flow and auth request: "use another email".
		b3 := newBrowser(t)
		r3 := newRP(t, e, "fabrikam", "portal", "portal-secret")
		e.clock.Advance(61 * time.Second)
		cpA := toCodePage(t, b3, r3.authURL(), ada)
		codeA := waitCode(t, e.smtp, ada)
		restart := mustURL(t, cpA.url).ResolveReference(mustURL(t, "?authRequestID="+url.QueryEscape(authRequestID(t, cpA))+"&restart=1"))
		restart.Path = "/fabrikam/login"
		p := b3.get(restart.String())
		action, csrf := p.form(t, 0)
		p = b3.post(action, url.Values{"csrf": {csrf}, "email": {bob}})
		action, csrf = p.form(t, 0)
		cpB := b3.post(action, url.Values{"csrf": {csrf}})
		if !isCodePage(cpB) {
			t.Fatalf("expected the code page for bob, got %d:\n%s", cpB.status, cpB.body)
		}
		if own := waitCode(t, e.smtp, bob); own == codeA {
			t.Skip("the two codes collided (1 in 10^8)")
		}
		if msg := rejected(t, enter(t, b3, cpB, codeA), http.StatusBadRequest); msg != msgCodeInvalid {
			t.Fatalf("ada's code for bob: %q", msg)
		}
	})
	// None of that consumed browser 1's code.
	signedIn(t, enter(t, b1, cp1, code1))
}

// B3 validity: 29m59s works, 30m01s fails with the wrong-code message.
func TestSecCodeExpiry(t *testing.T) {
	for _, tc := range []struct {
		wait time.Duration
		ok   bool
	}{{29*time.Minute + 59*time.Second, true}, {30*time.Minute + time.Second, false}} {
		t.Run(tc.wait.String(), func(t *testing.T) {
			e := newEnv(t, envOptions{})
			invite(t, e, "fabrikam", "ada@guest.example", "Ada")
			r := newRP(t, e, "fabrikam", "portal", "portal-secret")
			b := newBrowser(t)
			cp := toCodePage(t, b, r.authURL(), "ada@guest.example")
			code := waitCode(t, e.smtp, "ada@guest.example")
			e.clock.Advance(tc.wait)
			p := enter(t, b, cp, code)
			if tc.ok {
				r.callback(t, e, "fabrikam", p)
				return
			}
			if msg := rejected(t, p, http.StatusBadRequest); msg != msgCodeInvalid {
				t.Fatalf("expired code: %q, want the wrong-code message", msg)
			}
		})
	}
}

// B3 resend: cooldown, hourly cap, and the failure budget survives resends
// (and new flows).
func TestSecResend(t *testing.T) {
	const ada = "ada@guest.example"
	t.Run("cooldown", func(t *testing.T) {
		e := newEnv(t, envOptions{})
		invite(t, e, "fabrikam", ada, "Ada")
		r := newRP(t, e, "fabrikam", "portal", "portal-secret")
		b := newBrowser(t)
		cp := toCodePage(t, b, r.authURL(), ada)
		waitCode(t, e.smtp, ada)
		action, csrf := resendForm(t, cp)
		p := b.post(action, url.Values{"csrf": {csrf}})
		if p.status != http.StatusTooManyRequests || !strings.Contains(html2text(p.body), msgCooldown) {
			t.Fatalf("resend at once: %d, want 429 with the cooldown message:\n%s", p.status, p.body)
		}
		noMailTo(t, e.smtp, ada, 500*time.Millisecond)
	})
	t.Run("hourly cap", func(t *testing.T) {
		e := newEnv(t, envOptions{})
		invite(t, e, "fabrikam", ada, "Ada")
		r := newRP(t, e, "fabrikam", "portal", "portal-secret")
		b := newBrowser(t)
		cp := toCodePage(t, b, r.authURL(), ada)
		for i := 2; i <= 10; i++ {
			e.clock.Advance(61 * time.Second)
			action, csrf := resendForm(t, cp)
			if p := b.post(action, url.Values{"csrf": {csrf}}); p.status != http.StatusOK || !isCodePage(p) {
				t.Fatalf("resend %d: %d:\n%s", i, p.status, p.body)
			}
		}
		e.clock.Advance(61 * time.Second)
		action, csrf := resendForm(t, cp)
		p := b.post(action, url.Values{"csrf": {csrf}})
		if p.status != http.StatusTooManyRequests || !strings.Contains(html2text(p.body), msgTooManyCodes) {
			t.Fatalf("11th code within the hour: %d, want 429 with the cap message:\n%s", p.status, p.body)
		}
		for i := 1; i <= 10; i++ {
			waitCode(t, e.smtp, ada)
		}
		noMailTo(t, e.smtp, ada, 500*time.Millisecond)
	})
	t.Run("budget survives resends", func(t *testing.T) {
		e := newEnv(t, envOptions{})
		invite(t, e, "fabrikam", ada, "Ada")
		r := newRP(t, e, "fabrikam", "portal", "portal-secret")
		b := newBrowser(t)
		cp := toCodePage(t, b, r.authURL(), ada)
		guesses, locked := 0, false
		for codes := 1; codes <= 9 && !locked; codes++ {
			code := waitCode(t, e.smtp, ada)
			for i := 0; i < 5 && !locked; i++ {
				p := enter(t, b, cp, wrongCode(code, i))
				guesses++
				if p.status == http.StatusTooManyRequests {
					if msg := rejected(t, p, http.StatusTooManyRequests); msg != msgLocked {
						t.Fatalf("429 with %q", msg)
					}
					locked = true
					break
				}
				rejected(t, p, http.StatusBadRequest)
			}
			if locked {
				break
			}
			e.clock.Advance(61 * time.Second)
			action, csrf := resendForm(t, cp)
			if p := b.post(action, url.Values{"csrf": {csrf}}); p.status != http.StatusOK {
				t.Fatalf("resend: %d:\n%s", p.status, p.body)
			}
		}
		if !locked {
			t.Fatalf("no lock after %d wrong guesses over several codes: resending resets the failure budget", guesses)
		}
		if guesses > 21 {
			t.Fatalf("locked only after %d guesses, want ≤ 21 (budget 20 per hour)", guesses)
		}
		// The lock holds for a brand new flow, even with the right code.
		e.clock.Advance(61 * time.Second)
		b2 := newBrowser(t)
		cp2 := toCodePage(t, b2, r.authURL(), ada)
		code := waitCode(t, e.smtp, ada)
		if msg := rejected(t, enter(t, b2, cp2, code), http.StatusTooManyRequests); msg != msgLocked {
			t.Fatalf("right code in a new flow while locked: %q", msg)
		}
	})
}

// B3, Send answers with the code page itself: a repeated Send (a reload
// of that answer, Back then Send) only shows the page again (200, not the
// cooldown's 429): no code, no mail, no store round trip; two Sends at
// once (a double click) mail one code. The code mailed signs in. (Past
// the cooldown: provider/login's TestSendAgainShowsTheCodePage.)
func TestSecSendAgain(t *testing.T) {
	e := newEnv(t, envOptions{redis: redistest.Start(t)})
	const ada, bea = "ada@guest.example", "bea@guest.example"
	invite(t, e, "fabrikam", ada, "Ada")
	invite(t, e, "fabrikam", bea, "Bea")
	r := newRP(t, e, "fabrikam", "portal", "portal-secret")
	measure := roundTrips(t, e)
	t.Run("reload", func(t *testing.T) {
		b := newBrowser(t)
		sp := postEmail(t, b, r.authURL(), ada)
		cp := sendOn(t, b, sp)
		code := waitCode(t, e.smtp, ada)
		action, csrf := sp.form(t, 0)
		measure("Send again", 0, func() {
			if p := b.post(action, url.Values{"csrf": {csrf}}); p.status != http.StatusOK || !isCodePage(p) {
				t.Fatalf("Send again: %d %s, want the code page:\n%s", p.status, p.url, p.body)
			}
		})
		noMailTo(t, e.smtp, ada, 500*time.Millisecond)
		signedIn(t, enter(t, b, cp, code))
	})
	t.Run("double click", func(t *testing.T) {
		b := newBrowser(t)
		action, csrf := postEmail(t, b, r.authURL(), bea).form(t, 0)
		var wg sync.WaitGroup
		answers := make([]page, 2)
		for i := range answers {
			wg.Go(func() { answers[i] = b.post(action, url.Values{"csrf": {csrf}}) })
		}
		wg.Wait()
		for _, p := range answers {
			// The one that comes second meets the cooldown, or the mark.
			if !isCodePage(p) || (p.status != http.StatusOK && p.status != http.StatusTooManyRequests) {
				t.Fatalf("double Send: %d %s, want the code page:\n%s", p.status, p.url, p.body)
			}
		}
		code := waitCode(t, e.smtp, bea)
		noMailTo(t, e.smtp, bea, 500*time.Millisecond)
		signedIn(t, enter(t, b, answers[0], code))
	})
}

// B3 no enumeration: an invited and a non-invited address see the same
// statuses, pages and cookies (of the same length: sealing hides their
// content, not their size); only the invited one gets mail.
func TestSecNoEnumeration(t *testing.T) {
	e := newEnv(t, envOptions{})
	const invited, stranger = "ada@guest.example", "eve@guest.example"
	invite(t, e, "fabrikam", invited, "Ada")
	walk := func(email string) []string {
		r := newRP(t, e, "fabrikam", "portal", "portal-secret")
		b := newBrowser(t)
		var out []string
		record := func(p page) page {
			out = append(out, http.StatusText(p.status)+"\n"+cookieSizes(p)+normalise(p, email))
			return p
		}
		p := b.raw(http.MethodGet, r.authURL(), nil)
		for p.status >= 300 && p.status < 400 {
			record(p)
			p = b.raw(http.MethodGet, p.location(t), nil)
		}
		record(p)
		action, csrf := p.form(t, 0)
		// The email form answers with the send page itself.
		p = record(b.raw(http.MethodPost, action, url.Values{"csrf": {csrf}, "email": {email}}))
		// Send answers with the code page itself, and Send again (a
		// reload of that answer) shows it again.
		action, csrf = p.form(t, 0)
		record(b.raw(http.MethodPost, action, url.Values{"csrf": {csrf}}))
		record(b.raw(http.MethodPost, action, url.Values{"csrf": {csrf}}))
		return out
	}
	a, s := walk(invited), walk(stranger)
	if len(a) != len(s) {
		t.Fatalf("%d responses for the invited address, %d for the other", len(a), len(s))
	}
	for i := range a {
		if a[i] != s[i] {
			t.Fatalf("response %d differs:\n--- invited\n%s\n--- not invited\n%s", i, a[i], s[i])
		}
	}
	waitCode(t, e.smtp, invited)
	noMailTo(t, e.smtp, stranger, time.Second)
	for _, m := range e.smtp.Messages() {
		if strings.EqualFold(m.To, stranger) {
			t.Fatalf("mail to the non-invited address")
		}
	}
}

// Per-request tokens that legitimately differ between two responses.
var (
	nonceRe  = regexp.MustCompile(`nonce="[^"]*"`)
	uuidRe   = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)
	csrfValR = regexp.MustCompile(`name="csrf" value="[^"]*"`)
)

// normalise renders a response for comparison: Location and body with the
// address, CSRF token, style nonce and auth request id replaced.
func normalise(p page, email string) string {
	s := p.header.Get("Location") + "\n" + p.body
	s = strings.ReplaceAll(s, email, "EMAIL")
	s = strings.ReplaceAll(s, url.QueryEscape(email), "EMAIL")
	s = nonceRe.ReplaceAllString(s, `nonce="N"`)
	s = csrfValR.ReplaceAllString(s, `name="csrf" value="C"`)
	return uuidRe.ReplaceAllString(s, "ID")
}

// stateName is the auth request's part of a sign-in state cookie's name.
var stateName = regexp.MustCompile(`^(guestpass_signin_)[0-9a-f]+$`)

// cookieSizes renders the cookies a response sets as their names and the
// lengths of their values.
func cookieSizes(p page) string {
	var s strings.Builder
	for _, c := range (&http.Response{Header: p.header}).Cookies() {
		fmt.Fprintf(&s, "cookie %s: %d\n", stateName.ReplaceAllString(c.Name, "${1}ID"), len(c.Value))
	}
	return s.String()
}

// html2text unescapes entities so message texts can be matched.
func html2text(s string) string { return html.UnescapeString(s) }

// B10 bad input: each refused with a clear error, nothing sent, and
// malformed codes cost no attempt.
func TestSecBadInput(t *testing.T) {
	e := newEnv(t, envOptions{})
	const ada = "ada@guest.example"
	invite(t, e, "fabrikam", ada, "Ada")
	r := newRP(t, e, "fabrikam", "portal", "portal-secret")

	t.Run("emails", func(t *testing.T) {
		b := newBrowser(t)
		p := b.get(r.authURL())
		action, csrf := p.form(t, 0)
		for name, addr := range map[string]string{
			"too long":   strings.Repeat("a", 64) + "@" + strings.Repeat("b", 63) + "." + strings.Repeat("c", 63) + "." + strings.Repeat("d", 63) + ".example",
			"CR LF":      "ada@guest.example\r\nBcc: eve@evil.example",
			"LF":         "ada@guest.example\nx",
			"full-width": "ada＠guest.example",
			"kelvin":     "\u212Ada@guest.example",
		} {
			if name == "too long" && len(addr) <= 254 {
				t.Fatalf("test address too short: %d", len(addr))
			}
			p := b.post(action, url.Values{"csrf": {csrf}, "email": {addr}})
			if p.status != http.StatusBadRequest || !strings.Contains(p.body, `name="email"`) || fieldError(p) != msgEmailInvalid {
				t.Fatalf("%s: %d, error %q; want the email page with status 400 and an error:\n%s", name, p.status, fieldError(p), p.body)
			}
		}
		if n := len(e.smtp.Messages()); n != 0 {
			t.Fatalf("%d mails sent for bad addresses", n)
		}
	})
	t.Run("codes", func(t *testing.T) {
		b := newBrowser(t)
		cp := toCodePage(t, b, r.authURL(), ada)
		code := waitCode(t, e.smtp, ada)
		for _, c := range []string{"１２３４５６７８", code[:7], code + "1", "1234567", "123456789"} {
			if msg := rejected(t, enter(t, b, cp, c), http.StatusBadRequest); msg != msgCodeFormat {
				t.Fatalf("code %q: %q, want the format message", c, msg)
			}
		}
		// Five malformed codes cost no attempt: the right one still works.
		signedIn(t, enter(t, b, cp, code))
	})
	t.Run("2 MiB body", func(t *testing.T) {
		b := newBrowser(t)
		p := b.get(r.authURL())
		action, csrf := p.form(t, 0)
		big := url.Values{"csrf": {csrf}, "email": {ada}, "pad": {strings.Repeat("x", 2<<20)}}
		p = b.raw(http.MethodPost, action, big)
		if p.status != http.StatusRequestEntityTooLarge && p.status != http.StatusBadRequest {
			t.Fatalf("2 MiB body: %d, want 413 or 400", p.status)
		}
		if n := len(e.logs.FilterMessage("panic").All()); n != 0 {
			t.Fatalf("%d panics logged", n)
		}
	})
}

// B5 policy: with passcodes off, a guest whose source is otp gets the
// otp_disabled page with its remedy; back on, the guest signs in again.
func TestSecPolicyOff(t *testing.T) {
	e := newEnv(t, envOptions{})
	const ada = "ada@guest.example"
	invite(t, e, "fabrikam", ada, "Ada")
	r := newRP(t, e, "fabrikam", "portal", "portal-secret")
	r.callback(t, e, "fabrikam", signIn(t, e, newBrowser(t), r.authURL(), ada))
	pol := policy.New(e.store)
	if err := pol.SetEmailOTP(bg(), "fabrikam", false); err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t)
	p := b.get(r.authURL())
	action, csrf := p.form(t, 0)
	p = b.post(action, url.Values{"csrf": {csrf}, "email": {ada}})
	if p.status != http.StatusForbidden || !strings.Contains(html2text(p.body), msgOTPDisabled) {
		t.Fatalf("passcodes off: %d, want 403 with the remedy:\n%s", p.status, p.body)
	}
	noMailTo(t, e.smtp, ada, 300*time.Millisecond)
	if err := pol.SetEmailOTP(bg(), "fabrikam", true); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(61 * time.Second)
	r2 := newRP(t, e, "fabrikam", "portal", "portal-secret")
	r2.callback(t, e, "fabrikam", signIn(t, e, newBrowser(t), r2.authURL(), ada))
}
