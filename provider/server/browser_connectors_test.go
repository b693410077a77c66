package server_test

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/guestpass/guestpass/connectors"
	"github.com/guestpass/guestpass/pkg/config"
	"github.com/guestpass/guestpass/provider/pages"
	"github.com/guestpass/guestpass/templates"
)

// Headless Chromium through the two kinds of connector: the password page
// of a directory, and the round trip to an upstream OpenID provider. Both
// end at an independent RP (coreos/go-oidc) that verifies the ID token.
// The committed screenshots (GUESTPASS_SCREENSHOTS=1) are the README's
// "Connectors" table.

// message is the shipped English text of a page message, so the tests
// follow a rewording of the catalogue instead of duplicating it.
func message(t *testing.T, key string) string {
	t.Helper()
	pg, err := pages.New(templates.FS)
	if err != nil {
		t.Fatal(err)
	}
	return pg.T("en", key)
}

// submitAddress types an address on the email page the tab shows and
// submits it.
func submitAddress(t *testing.T, tab context.Context, addr string) {
	t.Helper()
	step(t, tab, "submit "+addr,
		chromedp.WaitVisible(chromedp.ID("email")),
		clearField("email"),
		chromedp.SendKeys(chromedp.ID("email"), addr),
		chromedp.Click(chromedp.CSS(`form button[type="submit"]`)),
	)
}

// documents records the URL of every document request the tab makes,
// redirects included (which never commit a page of their own), so a test
// can tell which way the browser went.
type documents struct {
	mu   sync.Mutex
	urls []string
}

func watchDocuments(t *testing.T, ctx context.Context) *documents {
	t.Helper()
	d := &documents{}
	err := chromedp.Listen(ctx, func(ev any) {
		if e, ok := ev.(*network.EventRequestWillBeSent); ok && e.Type == network.ResourceTypeDocument && e.Request != nil {
			d.mu.Lock()
			d.urls = append(d.urls, e.Request.URL)
			d.mu.Unlock()
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// requested says whether a document URL starting with prefix was asked for.
func (d *documents) requested(prefix string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.ContainsFunc(d.urls, func(u string) bool { return strings.HasPrefix(u, prefix) })
}

// waitFieldError waits for the element id on the page, failing at once
// (not at the budget) if the browser went on to the app instead.
func waitFieldError(t *testing.T, tab context.Context, cb *callbackWatch, id string) {
	t.Helper()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		cb.mu.Lock()
		landed := cb.url
		cb.mu.Unlock()
		if landed != "" {
			// Without the query: it carries an authorization code.
			t.Fatalf("expected #%s, but the browser went on to the app: %s", id, strings.SplitN(landed, "?", 2)[0])
		}
		// An evaluation during a navigation may fail: try again.
		if ok, err := chromedp.Run(tab, chromedp.Evaluate[bool](`document.getElementById("`+id+`") !== null`)); err == nil && ok {
			return
		}
		select {
		case <-tab.Done():
			t.Fatalf("no #%s within the browser's budget: %v", id, tab.Err())
		case <-tick.C:
		}
	}
}

// TestBrowserDirectorySignIn: email page → the directory's password page
// → a wrong password (an error on the field, nothing recorded) → the right
// one → the app, with amr pwd and idp directory:staff.
func TestBrowserDirectorySignIn(t *testing.T) {
	requireChromium(t)
	e := newDirectoryEnv(t)
	r := newRP(t, e, "fabrikam", "portal", "portal-secret")
	s := newShots(t)
	tab := startBrowser(t)
	speak(t, tab, "en-GB,en;q=0.9")
	cb := watchCallback(t, tab)

	step(t, tab, "email page", chromedp.Navigate(r.authURL()))
	submitAddress(t, tab, "Ada@Fabrikam.example")

	// The password page, with the address shown for password managers.
	step(t, tab, "password page", chromedp.WaitVisible(`input#password[type="password"]`))
	if got := evalString(t, tab, `document.getElementById("username").value`); !strings.EqualFold(got, "ada@fabrikam.example") {
		t.Errorf("password page shows the address %q", got)
	}
	if got := evalString(t, tab, `document.activeElement ? document.activeElement.id : ""`); got != "password" {
		t.Errorf("focus on %q on the password page, want the password input", got)
	}
	s.take(tab, "08-password.png", true)

	// A wrong password: the page again, the error tied to the field.
	step(t, tab, "wrong password",
		chromedp.SendKeys(chromedp.ID("password"), "analytical enginE"),
		chromedp.Click(chromedp.CSS(`form button[type="submit"]`)),
	)
	waitFieldError(t, tab, cb, "password-error")
	if got, want := evalString(t, tab, `document.getElementById("password-error").innerText`), message(t, "password_invalid"); !strings.Contains(got, want) {
		t.Errorf("wrong password error %q, want %q", got, want)
	}
	if got := evalString(t, tab, `document.getElementById("password").getAttribute("aria-invalid") || ""`); got != "true" {
		t.Errorf("password input aria-invalid = %q after a wrong password", got)
	}
	if src := guestSource(t, e, "fabrikam", "ada@fabrikam.example"); src != "" {
		t.Fatalf("a wrong password recorded a guest with source %q", src)
	}
	s.take(tab, "09-password-error.png", true)

	// The right password: the browser follows the redirects to the app.
	step(t, tab, "right password",
		clearField("password"),
		chromedp.SendKeys(chromedp.ID("password"), "analytical engine"),
		chromedp.Click(chromedp.CSS(`form button[type="submit"]`)),
	)
	loc, err := cb.wait(tab)
	if err != nil {
		t.Fatal(err)
	}
	_, idt := r.callback(t, e, "fabrikam", page{status: 303, url: loc})
	c := idClaims(t, idt)
	if !strings.EqualFold(c.Email, "ada@fabrikam.example") || !c.EmailVerified || c.IDP != "directory:staff" || !slices.Equal(c.AMR, []string{connectors.AMRPassword}) {
		t.Fatalf("claims %+v, want ada@fabrikam.example, verified, idp directory:staff, amr [pwd]", c)
	}
	if src := guestSource(t, e, "fabrikam", "ada@fabrikam.example"); src != "directory:staff" {
		t.Fatalf("guest source %q, want directory:staff", src)
	}
}

// googleStandIn is the display name of the guestpass tenant that plays
// Google upstream, so that its pages say what they are in screenshots.
const googleStandIn = "Google (test upstream)"

// newGoogleFederation starts a downstream whose tenant downTenant has a
// google connector pointed at another guestpass instance, where the
// Google account is an invited guest signing in with a passcode (a real
// upstream sign-in: its mail goes to the upstream's test SMTP server).
func newGoogleFederation(t *testing.T, account string) (down, up *env) {
	t.Helper()
	down = newEnv(t, envOptions{configure: func(c *config.Config) {
		cb := c.BaseURL + "/" + downTenant + "/login/callback"
		up = newEnv(t, envOptions{configure: func(c *config.Config) {
			tn := c.Tenant(upTenant)
			tn.DisplayName = googleStandIn
			tn.Client(upClient).RedirectURIs = []string{cb}
		}})
		c.Tenant(downTenant).Connectors = []config.Connector{{Type: "google", ID: "google", Name: "Google",
			Domains: config.GoogleDomains(), Issuer: up.issuer(upTenant), ClientID: upClient, ClientSecret: upSecret}}
	}})
	invite(t, up, upTenant, account, "Grace Hopper")
	return down, up
}

// TestBrowserUpstreamSignIn: the downstream's email page → the browser is
// redirected to the upstream provider's own pages (the address carried
// by login_hint) → the passcode there → back through
// /{tenant}/login/callback → the app, with amr fed and idp google.
func TestBrowserUpstreamSignIn(t *testing.T) {
	requireChromium(t)
	const account = "grace@gmail.com"
	down, up := newGoogleFederation(t, account)
	r := newRP(t, down, downTenant, "portal", "contoso-secret")
	s := newShots(t)
	tab := startBrowser(t)
	speak(t, tab, "en-GB,en;q=0.9")
	cb := watchCallback(t, tab)
	docs := watchDocuments(t, tab)

	step(t, tab, "downstream email page", chromedp.Navigate(r.authURL()), chromedp.WaitVisible(chromedp.ID("email")))
	if h1 := evalString(t, tab, `document.querySelector("h1").innerText`); h1 != "Sign in to Contoso" {
		t.Errorf("downstream email page h1 = %q", h1)
	}
	submitAddress(t, tab, "Grace@GMAIL.COM")

	// The upstream's send page: the hint skipped its email page.
	step(t, tab, "upstream send page", chromedp.WaitVisible(chromedp.CSS(`form[action*="/login/send"] button`)))
	loc, err := chromedp.Run(tab, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(loc, up.issuer(upTenant)+"/") {
		t.Fatalf("the send page is at %s, not at the upstream %s", loc, up.issuer(upTenant))
	}
	if body := evalString(t, tab, `document.body.innerText`); !strings.Contains(body, account) || !strings.Contains(body, googleStandIn) {
		t.Errorf("the upstream's page names neither %s nor %q:\n%s", account, googleStandIn, body)
	}
	s.take(tab, "10-upstream.png", true)

	// The passcode, mailed by the upstream, never by the downstream.
	step(t, tab, "upstream code page",
		chromedp.Click(chromedp.CSS(`form[action*="/login/send"] button`)),
		chromedp.WaitVisible(chromedp.ID("code")),
	)
	code := waitCode(t, up.smtp, account)
	step(t, tab, "upstream code",
		chromedp.SendKeys(chromedp.ID("code"), code),
		chromedp.Click(chromedp.CSS(`form[action*="/login/verify"] button`)),
	)
	back, err := cb.wait(tab)
	if err != nil {
		t.Fatal(err)
	}
	if via := down.issuer(downTenant) + "/login/callback?"; !docs.requested(via) {
		t.Errorf("the browser came back to the app without passing %s", via)
	}
	if n := len(down.smtp.Messages()); n != 0 {
		t.Errorf("the downstream sent %d mails", n)
	}
	_, idt := r.callback(t, down, downTenant, page{status: 303, url: back})
	c := idClaims(t, idt)
	if !strings.EqualFold(c.Email, account) || !c.EmailVerified || c.IDP != "google" || !slices.Equal(c.AMR, []string{"fed"}) {
		t.Fatalf("claims %+v, want %s, verified, idp google, amr [fed]", c, account)
	}
	if src := guestSource(t, down, downTenant, account); src != "google" {
		t.Fatalf("downstream guest source %q, want google", src)
	}
}
