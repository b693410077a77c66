package server_test

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"golang.org/x/oauth2"

	"github.com/guestpass/guestpass/pkg/session"
	"github.com/guestpass/guestpass/pkg/store/redistest"
)

// B8/B3 logs: after a whole flow and a failed verify, no log entry holds a
// passcode, key, cookie, client secret, token or a full address.
func TestSecLogsHoldNoSecrets(t *testing.T) {
	e := newEnv(t, envOptions{})
	const ada = "ada@guest.example"
	invite(t, e, "fabrikam", ada, "Ada")
	r := newRP(t, e, "fabrikam", "portal", "portal-secret")
	b := newBrowser(t)
	cp := toCodePage(t, b, r.authURL(), ada)
	code := waitCode(t, e.smtp, ada)
	bad := wrongCode(code, 0)
	rejected(t, enter(t, b, cp, bad), http.StatusBadRequest)
	flowCookie := b.cookie(e.base+"/fabrikam/", session.FlowCookieName)
	tok, _ := r.callback(t, e, "fabrikam", enter(t, b, cp, code))
	idToken, _ := tok.Extra("id_token").(string)
	sessCookie := b.cookie(e.base+"/fabrikam/", session.CookieName)
	if _, err := r.oauth.TokenSource(context.Background(), &oauth2.Token{RefreshToken: tok.RefreshToken}).Token(); err != nil {
		t.Fatalf("refresh: %v", err)
	}
	// Something that logs an error, too: a token request with a used code.
	_, _ = r.oauth.Exchange(context.Background(), "bogus-"+code, oauth2.VerifierOption(r.verifier))

	secrets := map[string]string{
		"passcode": code, "wrong passcode": bad, "session cookie": sessCookie, "flow cookie": flowCookie,
		"client secret": "portal-secret", "refresh token": tok.RefreshToken, "access token": tok.AccessToken,
		"id token": idToken, "email": ada,
	}
	for i, s := range e.secret {
		secrets["secret "+string(rune('0'+i))] = s
		raw, _ := base64.StdEncoding.DecodeString(s)
		secrets["secret "+string(rune('0'+i))+" (raw url-b64)"] = base64.RawURLEncoding.EncodeToString(raw)
	}
	// Token parts are long enough to be unique; a signature or payload
	// alone in a log line is a leak too.
	for _, part := range strings.Split(idToken, ".") {
		secrets["id token part"+part[:4]] = part
	}
	entries := e.logs.All()
	if len(entries) == 0 {
		t.Fatal("no log entries captured")
	}
	enc := zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig())
	for _, le := range entries {
		buf, err := enc.EncodeEntry(le.Entry, le.Context)
		if err != nil {
			t.Fatal(err)
		}
		line := buf.String()
		buf.Free()
		for name, s := range secrets {
			if s != "" && strings.Contains(line, s) {
				t.Fatalf("log entry holds the %s:\n%s", name, line)
			}
		}
	}
}

// B8 store outage: the browser's POSTs get a 503 page, the token endpoint a
// 503 JSON error, within a bounded time and without a panic; once Redis is
// back a new sign-in works.
func TestSecStoreOutage(t *testing.T) {
	rs := redistest.Start(t)
	e := newEnv(t, envOptions{redis: rs})
	const ada = "ada@guest.example"
	invite(t, e, "fabrikam", ada, "Ada")
	r := newRP(t, e, "fabrikam", "portal", "portal-secret")

	// One browser at the email page, one at the send page, and a code for
	// the token endpoint.
	be := newBrowser(t)
	pe := be.get(r.authURL())
	emailAction, emailCSRF := pe.form(t, 0)
	bs := newBrowser(t)
	ps := bs.get(r.authURL())
	a, c := ps.form(t, 0)
	ps = bs.post(a, url.Values{"csrf": {c}, "email": {ada}})
	sendAction, sendCSRF := ps.form(t, 0)
	rc := newRP(t, e, "fabrikam", "portal", "portal-secret")
	pc := signIn(t, e, newBrowser(t), rc.authURL(), ada)
	signedIn(t, pc)
	code := mustURL(t, pc.url).Query().Get("code")

	rs.Stop()
	be.c.Timeout, bs.c.Timeout = 20*time.Second, 20*time.Second
	for name, p := range map[string]page{
		"email": be.raw(http.MethodPost, emailAction, url.Values{"csrf": {emailCSRF}, "email": {ada}}),
		"send":  bs.raw(http.MethodPost, sendAction, url.Values{"csrf": {sendCSRF}}),
	} {
		if p.status != http.StatusServiceUnavailable || !strings.Contains(p.body, msgUnavailable) {
			t.Fatalf("%s POST during an outage: %d, want 503 with the page:\n%s", name, p.status, p.body)
		}
	}
	resp, body := tokenRequest(t, e, url.Values{"grant_type": {"authorization_code"}, "code": {code},
		"redirect_uri": {rpCallback}, "code_verifier": {rc.verifier}}, "portal", "portal-secret", "")
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") ||
		!strings.Contains(body, `"error"`) {
		t.Fatalf("token during an outage: %d %s %s, want 503 JSON", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	if n := len(e.logs.FilterMessage("panic").All()); n != 0 {
		t.Fatalf("%d panics logged", n)
	}

	rs.Restart()
	// Redis came back empty: the guest must be invited again.
	invite(t, e, "fabrikam", ada, "Ada")
	r2 := newRP(t, e, "fabrikam", "portal", "portal-secret")
	r2.callback(t, e, "fabrikam", signIn(t, e, newBrowser(t), r2.authURL(), ada))
}
