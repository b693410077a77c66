package server_test

import (
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/guestpass/guestpass/pkg/config"
	"github.com/guestpass/guestpass/pkg/session"
)

// Tests of issue 6 items 9, 10, 11(b) and 13: mail bombing limits, per
// tenant mail queues that never drop silently, the send page's address,
// and device cookies against a stranger's lockout (PRODUCT.md B8).

// Message texts (English) of the limits.
const (
	msgTooManyAddresses = "Codes were requested for too many different addresses in this sign-in. Try again later."
	msgTooManyRequests  = "Too many codes were requested. Try again later."
	msgMailUnavailable  = "We couldn't send the code right now. No email is on its way."
)

// limits returns an envOptions.configure that sets one tenant's abuse
// limits (zero fields keep the defaults) and the trusted proxies.
func limits(tenant string, l config.AbuseLimits, proxies ...string) func(*config.Config) {
	return func(c *config.Config) {
		cur := &c.Tenant(tenant).EmailOTP.AbuseLimits
		if l.MaxAddressesPerFlow > 0 {
			cur.MaxAddressesPerFlow = l.MaxAddressesPerFlow
		}
		if l.MaxCodesPerIPPerHour > 0 {
			cur.MaxCodesPerIPPerHour = l.MaxCodesPerIPPerHour
		}
		if l.MaxCodesPerTenantPerHour > 0 {
			cur.MaxCodesPerTenantPerHour = l.MaxCodesPerTenantPerHour
		}
		c.TrustedProxies = proxies
		c.TrustedNets = nil
		for _, p := range proxies {
			c.TrustedNets = append(c.TrustedNets, netip.MustParsePrefix(p))
		}
	}
}

// pressSend walks authorize → email → send page in b and presses Send,
// with X-Forwarded-For xff unless empty; it returns the answer, followed.
func pressSend(t *testing.T, b *browser, authURL, email, xff string) page {
	t.Helper()
	p := postEmail(t, b, authURL, email)
	mustSendPage(t, p)
	return pressSendOn(t, b, p, xff)
}

// pressSendOn presses Send on a send page.
func pressSendOn(t *testing.T, b *browser, sendPage page, xff string) page {
	t.Helper()
	action, csrf := sendPage.form(t, 0)
	req, err := http.NewRequest(http.MethodPost, action, strings.NewReader(url.Values{"csrf": {csrf}}.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if xff != "" {
		req.Header.Set("X-Forwarded-For", xff)
	}
	return b.follow(b.do(req))
}

// refusedWith asserts a 429 code page carrying msg, and that no code was
// mailed to addr.
func refusedWith(t *testing.T, e *env, p page, msg, addr string) {
	t.Helper()
	if p.status != http.StatusTooManyRequests || !isCodePage(p) || !strings.Contains(html2text(p.body), msg) {
		t.Fatalf("want 429 with %q, got %d %s:\n%s", msg, p.status, p.url, p.body)
	}
	noMailTo(t, e.smtp, addr, 300*time.Millisecond)
}

// sent asserts the code page after Send.
func sent(t *testing.T, p page, what string) {
	t.Helper()
	if p.status != http.StatusOK || !isCodePage(p) {
		t.Fatalf("%s: want the code page, got %d %s:\n%s", what, p.status, p.url, p.body)
	}
}

// Item 9: one sign-in flow (one browser) mails at most
// maxAddressesPerFlow distinct mailboxes (default 5), across auth requests.
func TestAbuseDistinctAddressesPerFlow(t *testing.T) {
	e := newEnv(t, envOptions{})
	r := newRP(t, e, "contoso", "portal", "contoso-secret")
	b := newBrowser(t)
	addrs := []string{"a1@guest.example", "a2@guest.example", "a3@guest.example", "a4@guest.example", "a5@guest.example"}
	for _, a := range addrs {
		sent(t, pressSend(t, b, r.authURL(), a, ""), a)
		waitCode(t, e.smtp, a)
	}
	refusedWith(t, e, pressSend(t, b, r.authURL(), "a6@guest.example", ""), msgTooManyAddresses, "a6@guest.example")
	// An address this flow already mailed is no new mailbox, nor is a
	// plus-address of one.
	e.clock.Advance(61 * time.Second)
	sent(t, pressSend(t, b, r.authURL(), "a2+x@guest.example", ""), "plus-address of a mailed address")
	// Another browser starts with its own count.
	sent(t, pressSend(t, newBrowser(t), r.authURL(), "a6@guest.example", ""), "another browser")
}

// Item 9: plus-addresses count as their base mailbox for the limits, and
// the mail still goes to the address as typed.
func TestAbusePlusAddressesCountAsBase(t *testing.T) {
	e := newEnv(t, envOptions{})
	r := newRP(t, e, "contoso", "portal", "contoso-secret")
	for i, a := range []string{"bo+1@guest.example", "bo+2@guest.example", "bo+3@guest.example"} {
		if i > 0 {
			e.clock.Advance(61 * time.Second) // the base's cooldown
		}
		sent(t, pressSend(t, newBrowser(t), r.authURL(), a, ""), a)
		m, err := e.smtp.WaitFor(a, 10*time.Second)
		if err != nil || m.To != a {
			t.Fatalf("mail for %s: %v (to %q)", a, err, m.To)
		}
	}
	// The base's cooldown covers its plus-addresses.
	refusedWith(t, e, pressSend(t, newBrowser(t), r.authURL(), "bo+4@guest.example", ""), msgCooldown, "bo+4@guest.example")
	// 7 more (10 per mailbox per hour), then the base itself is capped.
	for i := 0; i < 7; i++ {
		e.clock.Advance(61 * time.Second)
		sent(t, pressSend(t, newBrowser(t), r.authURL(), "bo+x@guest.example", "198.51.100.1"), "plus-address")
	}
	e.clock.Advance(61 * time.Second)
	refusedWith(t, e, pressSend(t, newBrowser(t), r.authURL(), "bo@guest.example", ""), msgTooManyCodes, "bo@guest.example")
}

// Item 9: codes per client IP. X-Forwarded-For is ignored from a peer that
// is not a trusted proxy, believed (its rightmost untrusted hop) from one
// that is.
func TestAbuseCodesPerClientIP(t *testing.T) {
	t.Run("untrusted peer", func(t *testing.T) {
		e := newEnv(t, envOptions{configure: limits("contoso", config.AbuseLimits{MaxCodesPerIPPerHour: 2})})
		r := newRP(t, e, "contoso", "portal", "contoso-secret")
		sent(t, pressSend(t, newBrowser(t), r.authURL(), "u1@guest.example", "203.0.113.1"), "1st")
		sent(t, pressSend(t, newBrowser(t), r.authURL(), "u2@guest.example", "203.0.113.2"), "2nd")
		// A forged header does not make a new client.
		refusedWith(t, e, pressSend(t, newBrowser(t), r.authURL(), "u3@guest.example", "203.0.113.3"), msgTooManyRequests, "u3@guest.example")
	})
	t.Run("trusted proxy", func(t *testing.T) {
		e := newEnv(t, envOptions{configure: limits("contoso", config.AbuseLimits{MaxCodesPerIPPerHour: 2}, "127.0.0.1/32")})
		r := newRP(t, e, "contoso", "portal", "contoso-secret")
		sent(t, pressSend(t, newBrowser(t), r.authURL(), "u1@guest.example", "203.0.113.1"), "1st of client 1")
		// The client may prepend anything; the proxy's hop is what counts.
		sent(t, pressSend(t, newBrowser(t), r.authURL(), "u2@guest.example", "10.9.9.9, 203.0.113.1"), "2nd of client 1")
		refusedWith(t, e, pressSend(t, newBrowser(t), r.authURL(), "u3@guest.example", "198.51.100.77, 203.0.113.1"), msgTooManyRequests, "u3@guest.example")
		// Another client behind the same proxy has its own count.
		sent(t, pressSend(t, newBrowser(t), r.authURL(), "u4@guest.example", "203.0.113.2"), "client 2")
	})
}

// Item 9: codes per tenant per hour; the refusal is identical for an
// invited and an uninvited address, and nothing is mailed.
func TestAbuseCodesPerTenant(t *testing.T) {
	e := newEnv(t, envOptions{configure: limits("fabrikam", config.AbuseLimits{MaxCodesPerTenantPerHour: 2})})
	const invited, stranger = "ada@guest.example", "eve@guest.example"
	for _, a := range []string{invited, "bob@guest.example", "cy@guest.example"} {
		invite(t, e, "fabrikam", a, "")
	}
	r := newRP(t, e, "fabrikam", "portal", "portal-secret")
	sent(t, pressSend(t, newBrowser(t), r.authURL(), "bob@guest.example", ""), "1st")
	sent(t, pressSend(t, newBrowser(t), r.authURL(), "cy@guest.example", ""), "2nd")
	a := pressSend(t, newBrowser(t), r.authURL(), invited, "")
	s := pressSend(t, newBrowser(t), r.authURL(), stranger, "")
	refusedWith(t, e, a, msgTooManyRequests, invited)
	refusedWith(t, e, s, msgTooManyRequests, stranger)
	if na, ns := normalise(a, invited), normalise(s, stranger); na != ns {
		t.Fatalf("the tenant cap tells invited from uninvited:\n--- invited\n%s\n--- not invited\n%s", na, ns)
	}
	// Other tenants are not affected.
	rc := newRP(t, e, "contoso", "portal", "contoso-secret")
	sent(t, pressSend(t, newBrowser(t), rc.authURL(), invited, ""), "other tenant")
}

// Item 10: when a tenant's mail queue is full, Send answers 503 "could not
// be sent" — the same page for an invited and an uninvited address — and
// issues nothing (no cooldown: the guest can retry once there is room).
// Another tenant's queue is not affected, and every mail the guest was told
// about arrives.
func TestAbuseMailQueueFull(t *testing.T) {
	e := newEnv(t, envOptions{mailQueue: 1})
	e.smtp.Hold() // deliveries hang: the two workers are stuck, the queue fills
	t.Cleanup(e.smtp.Release)
	const invited, stranger = "ada@guest.example", "eve@guest.example"
	invite(t, e, "fabrikam", invited, "Ada")
	r := newRP(t, e, "fabrikam", "portal", "portal-secret")
	var told []string // addresses whose guests were told the code was sent
	full := false
	for i := 0; i < 6 && !full; i++ {
		a := "filler" + string(rune('a'+i)) + "@guest.example"
		invite(t, e, "fabrikam", a, "")
		p := pressSend(t, newBrowser(t), r.authURL(), a, "")
		switch {
		case p.status == http.StatusOK && isCodePage(p):
			told = append(told, a)
		case p.status == http.StatusServiceUnavailable:
			full = true
		default:
			t.Fatalf("send %d: %d:\n%s", i, p.status, p.body)
		}
	}
	if !full || len(told) > 3 {
		t.Fatalf("queue of 1 with 2 stuck workers took %d mails (full=%v)", len(told), full)
	}

	ba, bs := newBrowser(t), newBrowser(t)
	pa := pressSend(t, ba, r.authURL(), invited, "")
	ps := pressSend(t, bs, r.authURL(), stranger, "")
	for _, p := range []page{pa, ps} {
		if p.status != http.StatusServiceUnavailable || !strings.Contains(html2text(p.body), msgMailUnavailable) ||
			!strings.Contains(p.body, "/login/send") || p.header.Get("Retry-After") == "" {
			t.Fatalf("want the send page again with 503, Retry-After and %q, got %d:\n%s", msgMailUnavailable, p.status, p.body)
		}
	}
	if na, ns := normalise(pa, invited), normalise(ps, stranger); na != ns {
		t.Fatalf("a full queue tells invited from uninvited:\n--- invited\n%s\n--- not invited\n%s", na, ns)
	}

	// Another tenant still has room.
	rc := newRP(t, e, "contoso", "portal", "contoso-secret")
	sent(t, pressSend(t, newBrowser(t), rc.authURL(), "zoe@guest.example", ""), "other tenant while fabrikam's queue is full")

	// Every guest who was told "sent" gets the mail; the refused one got
	// none, and can send again at once (nothing was issued).
	e.smtp.Release()
	for _, a := range append(told, "zoe@guest.example") {
		waitCode(t, e.smtp, a)
	}
	noMailTo(t, e.smtp, invited, 300*time.Millisecond)
	p := pressSendOn(t, ba, pa, "")
	sent(t, p, "retry after the queue drained")
	r.callback(t, e, "fabrikam", enter(t, ba, p, waitCode(t, e.smtp, invited)))
	noMailTo(t, e.smtp, stranger, 300*time.Millisecond)
}

// Item 11(b): the send and code pages show the address as typed (domain in
// canonical form) for a known guest as for anyone else, never the stored
// spelling that only an invited address has.
func TestAbuseSendPageShowsTypedAddress(t *testing.T) {
	e := newEnv(t, envOptions{})
	invite(t, e, "fabrikam", "Ada.Lovelace@guest.example", "Ada")
	r := newRP(t, e, "fabrikam", "portal", "portal-secret")
	// The send page, the code page, and the code page of a resend refused
	// by the cooldown.
	walk := func(typed, shown string) []string {
		b := newBrowser(t)
		p := b.get(r.authURL())
		action, csrf := p.form(t, 0)
		send := b.post(action, url.Values{"csrf": {csrf}, "email": {typed}})
		if !strings.Contains(send.body, shown) {
			t.Fatalf("send page for %q does not show %q:\n%s", typed, shown, send.body)
		}
		code := pressSendOn(t, b, send, "")
		sent(t, code, typed)
		action, csrf = resendForm(t, code)
		cool := b.post(action, url.Values{"csrf": {csrf}})
		if cool.status != http.StatusTooManyRequests {
			t.Fatalf("resend at once: %d", cool.status)
		}
		return []string{normalise(send, shown), normalise(code, shown), normalise(cool, shown)}
	}
	inv := walk("ada.lovelace@GUEST.example", "ada.lovelace@guest.example")
	un := walk("eve.smith@GUEST.example", "eve.smith@guest.example")
	for i := range inv {
		if inv[i] != un[i] {
			t.Fatalf("page %d differs for a known guest:\n--- invited\n%s\n--- not invited\n%s", i, inv[i], un[i])
		}
	}
}

// Item 13: a stranger who spends an address's failure budget locks out
// every browser but the one that signed in as that address before: it
// carries a device cookie and its own budget.
func TestAbuseDeviceCookieSurvivesStrangerLockout(t *testing.T) {
	e := newEnv(t, envOptions{})
	const ada = "ada@guest.example"
	invite(t, e, "fabrikam", ada, "Ada")
	r := newRP(t, e, "fabrikam", "portal", "portal-secret")
	own := newBrowser(t)
	r.callback(t, e, "fabrikam", signIn(t, e, own, r.authURL(), ada))
	if own.cookie(e.issuer("fabrikam")+"/login", session.DeviceCookieName) == "" {
		t.Fatal("no device cookie after a successful sign-in")
	}

	// The stranger: 4 codes × 5 wrong tries, then the address is locked.
	stranger := newBrowser(t)
	locked := false
	for c := 0; c < 5 && !locked; c++ {
		e.clock.Advance(61 * time.Second)
		cp := toCodePage(t, stranger, r.authURL(), ada)
		code := waitCode(t, e.smtp, ada)
		for i := 0; i < 5; i++ {
			p := enter(t, stranger, cp, wrongCode(code, i))
			if p.status == http.StatusTooManyRequests {
				locked = true
				break
			}
		}
	}
	if !locked {
		t.Fatal("the stranger never locked the address")
	}

	// Ada's own browser asks for a fresh sign-in and gets in.
	e.clock.Advance(61 * time.Second)
	r2 := newRP(t, e, "fabrikam", "portal", "portal-secret")
	cp := toCodePage(t, own, r2.authURL(oauth2Prompt("login")), ada)
	r2.callback(t, e, "fabrikam", enter(t, own, cp, waitCode(t, e.smtp, ada)))

	// A browser without the cookie is still locked out, right code or not.
	e.clock.Advance(61 * time.Second)
	other := newBrowser(t)
	cp = toCodePage(t, other, r.authURL(), ada)
	if msg := rejected(t, enter(t, other, cp, waitCode(t, e.smtp, ada)), http.StatusTooManyRequests); msg != msgLocked {
		t.Fatalf("a browser without the device cookie: %q", msg)
	}
}

// Item 13 (the sending side): a stranger who spends an address's hourly
// codes and sets its cooldown does not keep the guest's own browser from
// getting a code: with its device cookie it counts both apart. Any other
// browser is refused.
func TestAbuseDeviceCookieSurvivesStrangerSends(t *testing.T) {
	e := newEnv(t, envOptions{configure: func(c *config.Config) {
		c.Tenant("fabrikam").EmailOTP.MaxCodesPerHour = 3
	}})
	const ada = "ada@guest.example"
	invite(t, e, "fabrikam", ada, "Ada")
	r := newRP(t, e, "fabrikam", "portal", "portal-secret")
	own := newBrowser(t)
	r.callback(t, e, "fabrikam", signIn(t, e, own, r.authURL(), ada)) // the address's 1st code

	// The stranger sends the address's other two codes of the hour.
	stranger := newBrowser(t)
	for i := 0; i < 2; i++ {
		e.clock.Advance(61 * time.Second)
		sent(t, pressSend(t, stranger, r.authURL(), ada, ""), "stranger's code")
		waitCode(t, e.smtp, ada)
	}
	// At once (the address's cooldown running, its codes spent), Ada's
	// own browser still gets a code and signs in.
	refusedWith(t, e, pressSend(t, newBrowser(t), r.authURL(), ada, ""), msgCooldown, ada)
	r2 := newRP(t, e, "fabrikam", "portal", "portal-secret")
	cp := toCodePage(t, own, r2.authURL(oauth2Prompt("login")), ada)
	r2.callback(t, e, "fabrikam", enter(t, own, cp, waitCode(t, e.smtp, ada)))

	// A fresh browser, after the cooldown, meets the address's spent cap.
	e.clock.Advance(61 * time.Second)
	refusedWith(t, e, pressSend(t, newBrowser(t), r.authURL(), ada, ""), msgTooManyCodes, ada)
}

// Item 11(b), the cookie: the sealed sign-in state set on the email step
// hides its content but not its length, so the length must not depend on
// whether the address is a known guest's (stored spelling, name, whether
// it may sign in).
func TestAbuseStateCookieLengthSameForInvited(t *testing.T) {
	e := newEnv(t, envOptions{})
	invite(t, e, "fabrikam", "Ada.Lovelace@guest.example", "Ada Lovelace, Countess of Lovelace")
	r := newRP(t, e, "fabrikam", "portal", "portal-secret")
	stateLen := func(typed string) int {
		b := newBrowser(t)
		action, csrf := b.get(r.authURL()).form(t, 0)
		req, err := http.NewRequest(http.MethodPost, action, strings.NewReader(url.Values{"csrf": {csrf}, "email": {typed}}.Encode()))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp := b.do(req)
		for _, c := range (&http.Response{Header: resp.header}).Cookies() {
			if strings.HasPrefix(c.Name, "guestpass_signin_") {
				return len(c.Value)
			}
		}
		t.Fatalf("no sign-in state cookie set for %s: %d %v", typed, resp.status, resp.header["Set-Cookie"])
		return 0
	}
	// Same length as typed; the invited one's stored spelling differs.
	inv, un := stateLen("ada.lovelace@guest.example"), stateLen("eve.smithson@guest.example")
	if inv != un {
		t.Fatalf("state cookie is %d bytes for an invited address, %d for an uninvited one", inv, un)
	}
}
