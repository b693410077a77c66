package server_test

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/guestpass/guestpass/pkg/store/redistest"
)

var redeemLink = regexp.MustCompile(`https?://\S+/redeem/[A-Za-z0-9_-]+`)

// The invitation's whole story on real parts: the admin invites through
// the API, the mail reaches a real SMTP server, the guest opens its link,
// signs in with a passcode, lands on the invitation's redirect URL, and
// the API lists the guest Accepted with source otp. The link then no
// longer works.
func TestInvitationRedeemEndToEnd(t *testing.T) {
	e := newEnv(t, envOptions{redis: redistest.Start(t)})
	api := newAdminAPI(t, e, "fabrikam", clientCredentials(t, e, "fabrikam", "admin", "admin-secret"))
	welcome := rpCallback + "?welcome=1"
	api.must(http.MethodPost, "/invitations", `{"email":"Redeem@Guest.Example","displayName":"Rita","redirectURL":"`+welcome+`","sendMail":true}`, http.StatusCreated)
	m, err := e.smtp.WaitFor("Redeem@guest.example", 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	link := redeemLink.FindString(m.Text)
	if link == "" {
		t.Fatalf("no redeem link in the mail:\n%s", m.Text)
	}

	b := newBrowser(t)
	p := b.get(link) // the chain picks the passcode for the invited address
	p = sendAndEnter(t, e, b, p, "Redeem@guest.example")
	if p.url != welcome {
		t.Fatalf("after redeeming: %d %s\n%s", p.status, p.url, p.body)
	}
	var list struct{ Guests []apiGuest }
	if err := json.Unmarshal(api.must(http.MethodGet, "/guests?source=otp&state=Accepted", "", http.StatusOK).body, &list); err != nil {
		t.Fatal(err)
	}
	if len(list.Guests) != 1 || list.Guests[0].Email != "Redeem@guest.example" || list.Guests[0].RedeemedAt == "" {
		t.Fatalf("API list after redeeming: %+v", list.Guests)
	}
	// Used: the same link, even in the same browser, gets the clear page.
	for _, br := range []*browser{b, newBrowser(t)} {
		if p := br.get(link); p.status != http.StatusGone || !strings.Contains(p.body, "already been used") {
			t.Fatalf("link used twice: %d %s\n%s", p.status, p.url, p.body)
		}
	}
	// An unknown token gets the very same answer.
	if p := newBrowser(t).get(e.issuer("fabrikam") + "/redeem/" + strings.Repeat("A", 43)); p.status != http.StatusGone {
		t.Fatalf("unknown link: %d", p.status)
	}
}

// Without a redirect URL the guest lands on the tenant's apps page; a
// re-invitation voids the older link; an expired link gets the clear page.
func TestInvitationLinkLifecycle(t *testing.T) {
	e := newEnv(t, envOptions{})
	api := newAdminAPI(t, e, "fabrikam", clientCredentials(t, e, "fabrikam", "admin", "admin-secret"))
	g, old, _ := api.invite("life@guest.example", "")
	g2, link, status := api.invite("life@guest.example", "")
	if status != http.StatusOK || g2.ID != g.ID {
		t.Fatalf("re-invite: %d %v", status, g2)
	}
	if p := newBrowser(t).get(old); p.status != http.StatusGone {
		t.Fatalf("superseded link: %d %s", p.status, p.url)
	}
	b := newBrowser(t)
	p := sendAndEnter(t, e, b, b.get(link), "life@guest.example")
	if p.status != http.StatusOK || !strings.HasSuffix(p.url, "/fabrikam/apps") {
		t.Fatalf("after redeeming without redirect URL: %d %s", p.status, p.url)
	}

	// Expiry: 30 days by default, on the injected clock.
	_, link, _ = api.invite("late@guest.example", "")
	e.clock.Advance(30*24*time.Hour + time.Minute)
	p = newBrowser(t).get(link)
	if p.status != http.StatusGone || !strings.Contains(p.body, "expired") || !strings.Contains(p.body, "Fabrikam") {
		t.Fatalf("expired link: %d\n%s", p.status, p.body)
	}
}

// A person who signs in as another address than the invited one does not
// use the invitation up.
func TestInvitationOtherAddress(t *testing.T) {
	e := newEnv(t, envOptions{})
	api := newAdminAPI(t, e, "fabrikam", clientCredentials(t, e, "fabrikam", "admin", "admin-secret"))
	_, link, _ := api.invite("invited@guest.example", "")
	invite(t, e, "fabrikam", "other@guest.example", "Other")
	b := newBrowser(t)
	p := b.get(link)
	// "Use another email" leads back to the email page of the same request.
	i := strings.Index(p.body, "restart=1")
	if i < 0 {
		t.Fatalf("no way to use another email:\n%s", p.body)
	}
	start := strings.LastIndex(p.body[:i], `href="`) + len(`href="`)
	p = b.get(e.base + strings.ReplaceAll(p.body[start:i], "&amp;", "&") + "restart=1")
	action, csrf := p.form(t, 0)
	p = b.post(action, map[string][]string{"csrf": {csrf}, "email": {"other@guest.example"}})
	p = sendAndEnter(t, e, b, p, "other@guest.example")
	if p.status != http.StatusForbidden || !strings.Contains(p.body, "another address") {
		t.Fatalf("redeemed as another address: %d %s\n%s", p.status, p.url, p.body)
	}
	// The invited guest still can.
	b = newBrowser(t)
	e.clock.Advance(2 * time.Minute)
	if p := sendAndEnter(t, e, b, b.get(link), "invited@guest.example"); !strings.HasSuffix(p.url, "/fabrikam/apps") {
		t.Fatalf("invited guest after the other's attempt: %d %s", p.status, p.url)
	}
}

// The redeem token is a credential until used: no log line carries it.
func TestRedeemTokenNotLogged(t *testing.T) {
	e := newEnv(t, envOptions{})
	api := newAdminAPI(t, e, "fabrikam", clientCredentials(t, e, "fabrikam", "admin", "admin-secret"))
	_, link, _ := api.invite("logged@guest.example", "")
	newBrowser(t).get(link)
	token := link[strings.LastIndex(link, "/")+1:]
	for _, l := range e.logs.All() {
		if strings.Contains(l.Message, token) {
			t.Fatalf("token in a log message: %s", l.Message)
		}
		for k, v := range l.ContextMap() {
			if s, ok := v.(string); ok && strings.Contains(s, token) {
				t.Fatalf("token in log field %s of %q", k, l.Message)
			}
		}
	}
}
