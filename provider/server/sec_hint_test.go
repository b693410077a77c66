package server_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/oauth2"
)

// Issue 6 item 14 (PRODUCT.md B6): id_token_hint, logout confirmation,
// branded error pages on authorize and callback.

// B6: an id_token_hint naming another subject than the session forces a
// new sign-in (login_required with prompt=none); the session's own hint
// gives single sign-on; only ID tokens are hints.
func TestIDTokenHintOfAnotherSubject(t *testing.T) {
	e := newEnv(t, envOptions{})
	const ada, bob = "ada@guest.example", "bob@guest.example"
	invite(t, e, "fabrikam", ada, "Ada")
	invite(t, e, "fabrikam", bob, "Bob")
	b, adaTok := signedInBrowser(t, e, ada)
	_, bobTok := signedInBrowser(t, e, bob)
	adaID, _ := adaTok.Extra("id_token").(string)
	bobID, _ := bobTok.Extra("id_token").(string)
	iss := e.issuer("fabrikam")

	withHint := func(hint, prompt string) url.Values {
		q := baseAuthQuery("portal", rpCallback)
		q.Set("id_token_hint", hint)
		if prompt != "" {
			q.Set("prompt", prompt)
		}
		return q
	}
	// Bob's ID token in Ada's browser, silently: login_required, no code.
	p := b.get(authorizeURL(e, withHint(bobID, "none")))
	v := readAuthResponse(t, p, "query").params
	if v.Get("error") != "login_required" || v.Has("code") || v.Get("iss") != iss {
		t.Fatalf("other subject's hint with prompt=none: %v, want login_required", v)
	}
	// Interactively: a new sign-in, not Ada's session.
	if p := b.get(authorizeURL(e, withHint(bobID, ""))); !isEmailPage(p) {
		t.Fatalf("other subject's hint: %d %s, want the email page", p.status, p.url)
	}
	// Ada's own ID token: single sign-on, silently too.
	for _, prompt := range []string{"", "none"} {
		v := readAuthResponse(t, b.get(authorizeURL(e, withHint(adaID, prompt))), "query").params
		if v.Get("code") == "" || v.Get("iss") != iss {
			t.Fatalf("own hint (prompt=%q): %v, want a code", prompt, v)
		}
	}
	// An access token is not an ID token: refused as an invalid hint,
	// even though it is a JWT of this issuer naming Ada.
	p = b.get(authorizeURL(e, withHint(adaTok.AccessToken, "none")))
	v = readAuthResponse(t, p, "query").params
	if v.Get("error") != "login_required" || v.Has("code") {
		t.Fatalf("access token as hint: %v, want login_required and no code", v)
	}
	// A forged or foreign token: the same.
	for _, bad := range []string{"not-a-jwt", adaID[:len(adaID)-4] + "AAAA"} {
		v := readAuthResponse(t, b.get(authorizeURL(e, withHint(bad, ""))), "query").params
		if v.Get("error") != "login_required" || v.Has("code") {
			t.Fatalf("invalid hint: %v", v)
		}
	}
}

var logoutFormRe = regexp.MustCompile(`<form method="post" action="([^"]*end_session)">`)

// endSession sends a logout request (GET) from b without following.
func endSession(t *testing.T, e *env, b *browser, q url.Values) page {
	t.Helper()
	return b.raw(http.MethodGet, e.issuer("fabrikam")+"/end_session?"+q.Encode(), nil)
}

// confirmPage asserts p is the logout confirmation and returns its form.
func confirmPage(t *testing.T, p page) (string, url.Values) {
	t.Helper()
	m := logoutFormRe.FindStringSubmatch(p.body)
	if p.status != http.StatusOK || m == nil || p.header.Get("Location") != "" {
		t.Fatalf("want the logout confirmation page, got %d %q:\n%s", p.status, p.header.Get("Location"), p.body)
	}
	if !strings.Contains(p.header.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
		t.Fatalf("confirmation page without the pages' CSP: %q", p.header.Get("Content-Security-Policy"))
	}
	form := url.Values{}
	for _, h := range hiddenRe.FindAllStringSubmatch(p.body, -1) {
		form.Add(h[1], strings.ReplaceAll(h[2], "&amp;", "&"))
	}
	form.Set("csrf", csrfRe.FindStringSubmatch(p.body)[1])
	return mustURL(t, p.url).ResolveReference(mustURL(t, m[1])).String(), form
}

// stillSignedIn asserts b's session still gives single sign-on.
func stillSignedIn(t *testing.T, e *env, b *browser) {
	t.Helper()
	r := newRP(t, e, "fabrikam", "portal", "portal-secret")
	r.callback(t, e, "fabrikam", b.get(r.authURL()))
}

func signedOut(t *testing.T, e *env, b *browser) {
	t.Helper()
	r := newRP(t, e, "fabrikam", "portal", "portal-secret")
	if p := b.get(r.authURL()); !isEmailPage(p) {
		t.Fatalf("after logout: %d %s, want a new sign-in", p.status, p.url)
	}
}

// B6: end_session without an ID token of the current session asks the
// guest to confirm; the confirmation is a POST whose CSRF token is bound
// to the browser's session; access tokens are not hints.
func TestEndSessionAsksToConfirm(t *testing.T) {
	e := newEnv(t, envOptions{})
	const ada, bob = "ada@guest.example", "bob@guest.example"
	invite(t, e, "fabrikam", ada, "Ada")
	invite(t, e, "fabrikam", bob, "Bob")
	b, tok := signedInBrowser(t, e, ada)
	oldID, _ := tok.Extra("id_token").(string)
	bobB, _ := signedInBrowser(t, e, bob)

	// No parameters (any site can link here): a page, and nothing ends.
	action, form := confirmPage(t, endSession(t, e, b, nil))
	stillSignedIn(t, e, b)

	// An access token as hint is refused outright.
	p := endSession(t, e, b, url.Values{"id_token_hint": {tok.AccessToken}})
	if p.status != http.StatusBadRequest || p.header.Get("Location") != "" {
		t.Fatalf("access token as hint: %d %q, want 400", p.status, p.header.Get("Location"))
	}
	stillSignedIn(t, e, b)

	// The confirmation needs this browser's token: none, a made-up one,
	// or another browser's are refused and end nothing.
	_, bobForm := confirmPage(t, endSession(t, e, bobB, nil))
	for name, csrf := range map[string]string{"none": "", "forged": forge(form.Get("csrf")), "other browser": bobForm.Get("csrf")} {
		f := url.Values{"csrf": {csrf}}
		if p := b.raw(http.MethodPost, action, f); p.status != http.StatusForbidden {
			t.Fatalf("confirmation with %s CSRF token: %d, want 403", name, p.status)
		}
	}
	stillSignedIn(t, e, b)

	// A hint of an earlier session of the same guest is not this
	// session's: confirm. The confirmation keeps the app's parameters and
	// goes back exactly to its post_logout_redirect_uri.
	e.clock.Advance(61e9)
	r := newRP(t, e, "fabrikam", "portal", "portal-secret")
	b2 := newBrowser(t)
	r.callback(t, e, "fabrikam", signIn(t, e, b2, r.authURL(), ada)) // b2: a new session of Ada
	action, form = confirmPage(t, endSession(t, e, b2, url.Values{"id_token_hint": {oldID},
		"post_logout_redirect_uri": {rpHome}, "state": {"s1"}}))
	if form.Get("client_id") != "portal" || form.Get("post_logout_redirect_uri") != rpHome || form.Has("id_token_hint") {
		t.Fatalf("confirmation form carries %v", form)
	}
	p = b2.raw(http.MethodPost, action, form)
	if loc := p.location(t); p.status != http.StatusSeeOther || loc != rpHome+"?state=s1" {
		t.Fatalf("confirmed logout: %d to %q, want %s?state=s1", p.status, loc, rpHome)
	}
	signedOut(t, e, b2)
	stillSignedIn(t, e, b) // Ada's first session was not this one

	// Without parameters, confirmed: the signed-out page.
	action, form = confirmPage(t, endSession(t, e, b, nil))
	p = b.raw(http.MethodPost, action, form)
	if loc := p.location(t); p.status != http.StatusSeeOther || !strings.HasSuffix(loc, "/fabrikam/logged-out") {
		t.Fatalf("confirmed logout: %d to %q, want the signed-out page", p.status, loc)
	}
	signedOut(t, e, b)
}

// B6: with the ID token of the current session the logout is immediate
// (the app proved it knows the session).
func TestEndSessionWithSessionHint(t *testing.T) {
	e := newEnv(t, envOptions{})
	_, b, tok := signedInTokens(t, e)
	id, _ := tok.Extra("id_token").(string)
	p := endSession(t, e, b, url.Values{"id_token_hint": {id}, "post_logout_redirect_uri": {rpHome}})
	if p.status != http.StatusFound || p.location(t) != rpHome {
		t.Fatalf("logout with the session's ID token: %d to %q", p.status, p.location(t))
	}
	signedOut(t, e, b)
}

// B6: errors of /authorize and /authorize/callback that cannot go back to
// the app are the branded error page, never plain text with internal
// detail; a callback for a request nobody signed in to goes back to the
// app as interaction_required, with iss.
func TestAuthorizeErrorsAreBrandedPages(t *testing.T) {
	e := newEnv(t, envOptions{})
	b := newBrowser(t)
	for name, q := range map[string]url.Values{
		"unknown client":        func() url.Values { q := baseAuthQuery("nosuch", rpCallback); return q }(),
		"unlisted redirect_uri": baseAuthQuery("portal", "https://evil.example/cb"),
		"no redirect_uri":       func() url.Values { q := baseAuthQuery("portal", rpCallback); q.Del("redirect_uri"); return q }(),
		"no client_id":          func() url.Values { q := baseAuthQuery("portal", rpCallback); q.Del("client_id"); return q }(),
	} {
		t.Run(name, func(t *testing.T) {
			brandedPage(t, b.raw(http.MethodGet, authorizeURL(e, q), nil), http.StatusBadRequest)
		})
	}
	t.Run("callback unknown id", func(t *testing.T) {
		brandedPage(t, b.raw(http.MethodGet, e.issuer("fabrikam")+"/authorize/callback?id=nope", nil), http.StatusBadRequest)
		brandedPage(t, b.raw(http.MethodGet, e.issuer("fabrikam")+"/authorize/callback", nil), http.StatusBadRequest)
	})
	t.Run("callback before sign-in", func(t *testing.T) {
		r := newRP(t, e, "fabrikam", "portal", "portal-secret")
		p := b.raw(http.MethodGet, r.authURL(oauth2.SetAuthURLParam("response_mode", "fragment")), nil)
		id := authRequestID(t, p)
		p = b.get(e.issuer("fabrikam") + "/authorize/callback?id=" + url.QueryEscape(id))
		v := readAuthResponse(t, p, "fragment").params
		if v.Get("error") != "interaction_required" || v.Get("iss") != e.issuer("fabrikam") || v.Get("state") != r.state {
			t.Fatalf("callback before sign-in: %v", v)
		}
	})
}

// brandedPage asserts p is fabrikam's branded error page with status:
// HTML with the pages' CSP, no redirect, no internal detail.
func brandedPage(t *testing.T, p page, status int) {
	t.Helper()
	if p.status != status || p.header.Get("Location") != "" {
		t.Fatalf("%s: %d %q, want a %d page", p.url, p.status, p.header.Get("Location"), status)
	}
	if !strings.HasPrefix(p.header.Get("Content-Type"), "text/html") || !strings.Contains(p.body, `<div class="brand">`) ||
		!strings.Contains(p.body, "Fabrikam") || !strings.Contains(p.header.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
		t.Fatalf("%s: not the branded page:\n%s", p.url, p.body)
	}
	for _, leak := range []string{"ErrorType", "Parent=", "unable to retrieve", "redirect_uri is missing", "not found", "client configuration"} {
		if strings.Contains(p.body, leak) {
			t.Fatalf("%s: page shows internal detail %q:\n%s", p.url, leak, p.body)
		}
	}
}

// forge changes the first character of a token, so that it always differs
// from the real one (a fixed replacement would equal it one time in 64).
func forge(tok string) string {
	if tok == "" {
		return "x"
	}
	c := byte('x')
	if tok[0] == c {
		c = 'y'
	}
	return string(c) + tok[1:]
}
