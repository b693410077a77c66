package server_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/guestpass/guestpass/pkg/session"
)

func oauth2Prompt(p string) oauth2.AuthCodeOption    { return oauth2.SetAuthURLParam("prompt", p) }
func oauth2LoginHint(h string) oauth2.AuthCodeOption { return oauth2.SetAuthURLParam("login_hint", h) }
func oauth2MaxAge(s string) oauth2.AuthCodeOption    { return oauth2.SetAuthURLParam("max_age", s) }

// isEmailPage reports whether p is the email page (a sign-in is needed).
func isEmailPage(p page) bool {
	return p.status == http.StatusOK && strings.Contains(p.body, `name="email"`)
}

// B4 SSO and forced re-authentication: a live session signs in without a
// mail; prompt=login and max_age=0 demand a new code.
func TestSecForcedReauth(t *testing.T) {
	e := newEnv(t, envOptions{})
	const ada = "ada@guest.example"
	invite(t, e, "fabrikam", ada, "Ada")
	r := newRP(t, e, "fabrikam", "portal", "portal-secret")
	b := newBrowser(t)
	r.callback(t, e, "fabrikam", signIn(t, e, b, r.authURL(), ada))

	// SSO: no pages, no mail.
	r1 := newRP(t, e, "fabrikam", "portal", "portal-secret")
	r1.callback(t, e, "fabrikam", b.get(r1.authURL()))
	noMailTo(t, e.smtp, ada, 300*time.Millisecond)

	for _, opt := range []struct {
		name string
		o    oauth2.AuthCodeOption
	}{{"prompt=login", oauth2Prompt("login")}, {"max_age=0", oauth2MaxAge("0")}} {
		t.Run(opt.name, func(t *testing.T) {
			e.clock.Advance(61 * time.Second) // the resend cooldown
			r2 := newRP(t, e, "fabrikam", "portal", "portal-secret")
			p := b.get(r2.authURL(opt.o))
			if !isEmailPage(p) {
				t.Fatalf("%s with a live session: %d %s, want the email page:\n%s", opt.name, p.status, p.url, p.body)
			}
			action, csrf := p.form(t, 0)
			p = b.post(action, url.Values{"csrf": {csrf}, "email": {ada}})
			r2.callback(t, e, "fabrikam", sendAndEnter(t, e, b, p, ada)) // a second mail arrived
		})
	}
}

// B4 sessions: fixation, cookie attributes, tenant isolation, absolute
// lifetime.
func TestSecSessionCookie(t *testing.T) {
	e := newEnv(t, envOptions{})
	const ada = "ada@guest.example"
	invite(t, e, "fabrikam", ada, "Ada")
	fab := e.base + "/fabrikam/"

	// A planted cookie before sign-in.
	b := newBrowser(t)
	planted := &http.Cookie{Name: session.CookieName, Value: "planted-by-an-attacker", Path: "/fabrikam"}
	b.c.Jar.SetCookies(mustURL(t, fab), []*http.Cookie{planted})

	r := newRP(t, e, "fabrikam", "portal", "portal-secret")
	cp := toCodePage(t, b, r.authURL(), ada)
	code := waitCode(t, e.smtp, ada)
	action, csrf := cp.form(t, 0)
	resp := b.raw(http.MethodPost, action, url.Values{"csrf": {csrf}, "code": {code}})
	if resp.status != http.StatusSeeOther {
		t.Fatalf("verify: %d:\n%s", resp.status, resp.body)
	}
	var set *http.Cookie
	for _, c := range (&http.Response{Header: resp.header}).Cookies() {
		if c.Name == session.CookieName {
			set = c
		}
	}
	if set == nil {
		t.Fatalf("no session cookie set on sign-in: %v", resp.header["Set-Cookie"])
	}
	if set.Path != "/fabrikam" || !set.HttpOnly || set.SameSite != http.SameSiteLaxMode || set.Value == planted.Value {
		t.Fatalf("session cookie %+v: want a new value, Path=/fabrikam, HttpOnly, SameSite=Lax", set)
	}
	r.callback(t, e, "fabrikam", b.follow(resp))
	first := b.cookie(fab, session.CookieName)
	if first != set.Value {
		t.Fatalf("jar holds %q, server set %q", first, set.Value)
	}

	t.Run("planted cookie not accepted", func(t *testing.T) {
		nb := newBrowser(t)
		nb.c.Jar.SetCookies(mustURL(t, fab), []*http.Cookie{planted})
		if p := nb.get(newRP(t, e, "fabrikam", "portal", "portal-secret").authURL()); !isEmailPage(p) {
			t.Fatalf("planted cookie gave %d %s", p.status, p.url)
		}
	})

	t.Run("new id when a session exists", func(t *testing.T) {
		e.clock.Advance(61 * time.Second)
		r2 := newRP(t, e, "fabrikam", "portal", "portal-secret")
		r2.callback(t, e, "fabrikam", func() page {
			p := b.get(r2.authURL(oauth2Prompt("login")))
			action, csrf := p.form(t, 0)
			p = b.post(action, url.Values{"csrf": {csrf}, "email": {ada}})
			return sendAndEnter(t, e, b, p, ada)
		}())
		second := b.cookie(fab, session.CookieName)
		if second == "" || second == first {
			t.Fatalf("session cookie not renewed on a new sign-in")
		}
		// The old value no longer gives SSO.
		old := newBrowser(t)
		old.c.Jar.SetCookies(mustURL(t, fab), []*http.Cookie{{Name: session.CookieName, Value: first, Path: "/fabrikam"}})
		if p := old.get(newRP(t, e, "fabrikam", "portal", "portal-secret").authURL()); !isEmailPage(p) {
			t.Fatalf("the replaced session cookie still works: %d %s", p.status, p.url)
		}
		first = second
	})

	t.Run("no SSO at another tenant", func(t *testing.T) {
		con := newBrowser(t)
		con.c.Jar.SetCookies(mustURL(t, e.base+"/contoso/"), []*http.Cookie{{Name: session.CookieName, Value: first, Path: "/contoso"}})
		if p := con.get(newRP(t, e, "contoso", "portal", "contoso-secret").authURL()); !isEmailPage(p) {
			t.Fatalf("fabrikam's session cookie gave SSO at contoso: %d %s", p.status, p.url)
		}
		// The jar itself never sends fabrikam's cookie to contoso.
		if b.cookie(e.base+"/contoso/", session.CookieName) != "" {
			t.Fatalf("session cookie is sent outside /fabrikam")
		}
	})

	t.Run("24h absolute lifetime", func(t *testing.T) {
		r3 := newRP(t, e, "fabrikam", "portal", "portal-secret")
		r3.callback(t, e, "fabrikam", b.get(r3.authURL())) // still live: SSO
		e.clock.Advance(24*time.Hour + time.Second)
		r4 := newRP(t, e, "fabrikam", "portal", "portal-secret")
		if p := b.get(r4.authURL()); !isEmailPage(p) {
			t.Fatalf("after 24h: %d %s, want a new sign-in", p.status, p.url)
		}
	})
}

// B4 RP-initiated logout: exact post_logout_redirect_uri, session gone.
func TestSecEndSession(t *testing.T) {
	e := newEnv(t, envOptions{})
	r, b, tok := signedInTokens(t, e)
	idToken, _ := tok.Extra("id_token").(string)
	var disc struct {
		EndSession string `json:"end_session_endpoint"`
	}
	if err := r.prov.Claims(&disc); err != nil || disc.EndSession == "" {
		t.Fatalf("discovery has no end_session_endpoint: %v", err)
	}
	logout := func(b *browser, redirect string) page {
		q := url.Values{"id_token_hint": {idToken}, "client_id": {"portal"}, "post_logout_redirect_uri": {redirect}}
		return b.raw(http.MethodGet, disc.EndSession+"?"+q.Encode(), nil)
	}

	for _, evil := range []string{"https://evil.example/", "http://127.0.0.1:9/x", "http://127.0.0.1:9", rpHome + "?x=1"} {
		p := logout(b, evil)
		if loc := p.location(t); loc != "" && strings.HasPrefix(loc, strings.TrimSuffix(evil, "/")) {
			t.Fatalf("unlisted post_logout_redirect_uri %s: redirected to %s", evil, loc)
		}
		if p.status >= 300 && p.status < 400 && strings.HasPrefix(p.location(t), "http://127.0.0.1:9") {
			t.Fatalf("unlisted post_logout_redirect_uri %s: redirected to the app: %s", evil, p.location(t))
		}
	}

	// Refused means nothing happened: the session still gives SSO.
	r1 := newRP(t, e, "fabrikam", "portal", "portal-secret")
	r1.callback(t, e, "fabrikam", b.get(r1.authURL()))

	p := logout(b, rpHome)
	if p.status < 300 || p.status >= 400 || p.location(t) != rpHome {
		t.Fatalf("logout: %d to %q, want a redirect to exactly %s:\n%s", p.status, p.location(t), rpHome, p.body)
	}
	r2 := newRP(t, e, "fabrikam", "portal", "portal-secret")
	if p := b.get(r2.authURL()); !isEmailPage(p) {
		t.Fatalf("after logout: %d %s, want a new sign-in", p.status, p.url)
	}
}
