package server_test

import (
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"
)

// B10 login CSRF: every form POST without the right token of this tenant
// and flow, or without the flow cookie, is a 403 and changes nothing.
func TestSecCSRF(t *testing.T) {
	e := newEnv(t, envOptions{})
	const ada, bob = "ada@guest.example", "bob@guest.example"
	invite(t, e, "fabrikam", ada, "Ada")
	invite(t, e, "fabrikam", bob, "Bob")
	r := newRP(t, e, "fabrikam", "portal", "portal-secret")
	b := newBrowser(t)
	cp := toCodePage(t, b, r.authURL(), ada)
	code := waitCode(t, e.smtp, ada)
	verifyURL, good := cp.form(t, 0)
	id := authRequestID(t, cp)
	sendURL := e.base + "/fabrikam/login/send?authRequestID=" + url.QueryEscape(id)
	emailURL := e.base + "/fabrikam/login/email?authRequestID=" + url.QueryEscape(id)

	// Another tenant's token, minted for this same browser.
	con := newRP(t, e, "contoso", "portal", "contoso-secret")
	_, contosoToken := b.get(con.authURL()).form(t, 0)
	if contosoToken == good {
		t.Fatal("contoso and fabrikam share a CSRF token")
	}
	// Past the resend cooldown, so a forged send would really send.
	e.clock.Advance(61 * time.Second)

	noJar := func() *browser {
		nb := newBrowser(t)
		jar, _ := cookiejar.New(nil)
		nb.c.Jar = jar
		// Same session cookie would not matter: the flow cookie is what
		// is missing. Keep nothing at all.
		return nb
	}
	for _, post := range []struct {
		name string
		url  string
		form url.Values
	}{
		{"verify", verifyURL, url.Values{"code": {code}}},
		{"send", sendURL, url.Values{}},
		{"email", emailURL, url.Values{"email": {bob}}},
	} {
		for _, tc := range []struct {
			name  string
			token *string // nil: no csrf field
			b     *browser
		}{
			{"no field", nil, b},
			{"wrong token", ptr("AAAA" + good[4:]), b},
			{"other tenant's token", &contosoToken, b},
			{"no flow cookie", &good, noJar()},
		} {
			form := url.Values{}
			for k, v := range post.form {
				form[k] = v
			}
			if tc.token != nil {
				form.Set("csrf", *tc.token)
			}
			p := tc.b.raw(http.MethodPost, post.url, form)
			if p.status != http.StatusForbidden || !strings.Contains(html2text(p.body), msgCSRF) {
				t.Fatalf("%s POST, %s: %d, want 403 with the CSRF page:\n%s", post.name, tc.name, p.status, p.body)
			}
		}
	}
	noMailTo(t, e.smtp, ada, 500*time.Millisecond)
	noMailTo(t, e.smtp, bob, 10*time.Millisecond)
	// Nothing changed: the flow still belongs to ada and her code works.
	r.callback(t, e, "fabrikam", enter(t, b, cp, code))
}

func ptr[T any](v T) *T { return &v }

// B3 GET is safe: GETs on the action URLs send and consume nothing, and
// prompt=none answers login_required without a page or a mail.
func TestSecGetIsSafe(t *testing.T) {
	e := newEnv(t, envOptions{})
	const ada = "ada@guest.example"
	invite(t, e, "fabrikam", ada, "Ada")
	r := newRP(t, e, "fabrikam", "portal", "portal-secret")

	t.Run("prompt=none", func(t *testing.T) {
		b := newBrowser(t)
		r0 := newRP(t, e, "fabrikam", "portal", "portal-secret")
		p := b.get(r0.authURL(oauth2Prompt("none"), oauth2LoginHint(ada)))
		if !strings.HasPrefix(p.url, rpCallback) {
			t.Fatalf("prompt=none: %d %s, want a redirect to the app:\n%s", p.status, p.url, p.body)
		}
		q := mustURL(t, p.url).Query()
		if q.Get("error") != "login_required" || q.Get("iss") != e.issuer("fabrikam") || q.Get("code") != "" {
			t.Fatalf("prompt=none answer: %s", p.url)
		}
		noMailTo(t, e.smtp, ada, 500*time.Millisecond)
	})

	b := newBrowser(t)
	cp := toCodePage(t, b, r.authURL(), ada)
	code := waitCode(t, e.smtp, ada)
	id := url.QueryEscape(authRequestID(t, cp))
	e.clock.Advance(61 * time.Second) // a send would not be held back by the cooldown
	for _, u := range []string{
		"/fabrikam/login/send?authRequestID=" + id,
		"/fabrikam/login/verify?authRequestID=" + id + "&code=" + code,
		"/fabrikam/login/resend?authRequestID=" + id,
	} {
		for _, m := range []string{http.MethodGet, http.MethodHead} {
			p := b.raw(m, e.base+u, nil)
			if p.status != http.StatusMethodNotAllowed && p.status != http.StatusOK {
				t.Fatalf("%s %s: %d, want 405 or a page", m, u, p.status)
			}
		}
	}
	noMailTo(t, e.smtp, ada, 500*time.Millisecond)
	// The code was not consumed and is still the flow's code.
	r.callback(t, e, "fabrikam", enter(t, b, cp, code))
}
