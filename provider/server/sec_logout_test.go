package server_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
	"go.uber.org/zap/zapcore"
)

// Logout requests are checked by guestpass itself (PRODUCT.md B4, B6):
// client and post_logout_redirect_uri exactly, before the confirmation is
// shown and again before its POST is acted on. A refusal is the branded
// page (400), logged at info at most, and ends nothing.
func TestEndSessionRefusalsAreBrandedPages(t *testing.T) {
	e := newEnv(t, envOptions{})
	_, b, tok := signedInTokens(t, e)
	id, _ := tok.Extra("id_token").(string)
	anon := newBrowser(t)

	for name, q := range map[string]url.Values{
		"unknown client":             {"client_id": {"nobody"}},
		"unknown client and uri":     {"client_id": {"nobody"}, "post_logout_redirect_uri": {rpHome}},
		"unregistered uri":           {"client_id": {"portal"}, "post_logout_redirect_uri": {"https://evil.example/"}},
		"uri variant":                {"client_id": {"portal"}, "post_logout_redirect_uri": {rpHome + "?x=1"}},
		"another client's uri":       {"client_id": {"spa"}, "post_logout_redirect_uri": {rpHome}},
		"uri without a client":       {"post_logout_redirect_uri": {rpHome}},
		"client_id against the hint": {"id_token_hint": {id}, "client_id": {"admin"}},
		"session hint, bad uri":      {"id_token_hint": {id}, "post_logout_redirect_uri": {"https://evil.example/"}},
	} {
		t.Run(name, func(t *testing.T) {
			// With a session and without one: the page, never JSON or a
			// redirect, and never the confirmation.
			brandedPage(t, endSession(t, e, b, q), http.StatusBadRequest)
			brandedPage(t, endSession(t, e, anon, q), http.StatusBadRequest)
			// A confirmation whose parameters were changed (the form is
			// the browser's to edit) is refused and ends nothing, even
			// with this session's CSRF token.
			action, form := confirmPage(t, endSession(t, e, b, nil))
			for k, v := range q {
				if k != "id_token_hint" {
					form[k] = v
				}
			}
			if !q.Has("id_token_hint") {
				brandedPage(t, b.raw(http.MethodPost, action, form), http.StatusBadRequest)
			}
			stillSignedIn(t, e, b)
		})
	}
	// Anyone can send these: no error in the log (no alert noise).
	if errs := e.logs.FilterLevelExact(zapcore.ErrorLevel); errs.Len() > 0 {
		t.Fatalf("refused logout requests logged errors: %v", errs.All()[0].Message)
	}
	if e.logs.FilterMessage("logout request refused").Len() == 0 {
		t.Fatal("refused logout requests are not logged at all")
	}

	// The checks do not stand in the way of a correct request.
	action, form := confirmPage(t, endSession(t, e, b, url.Values{"client_id": {"portal"},
		"post_logout_redirect_uri": {rpHome}, "state": {"s2"}}))
	if p := b.raw(http.MethodPost, action, form); p.status != http.StatusSeeOther || p.location(t) != rpHome+"?state=s2" {
		t.Fatalf("confirmed logout: %d to %q", p.status, p.location(t))
	}
	signedOut(t, e, b)
}

// An id_token_hint that cannot be verified (garbage, a forged signature,
// a key retired since) is no hint: the guest is asked to confirm, and the
// app still gets back to its registered post_logout_redirect_uri. A token
// of ours of the wrong type (an access token) stays refused
// (TestEndSessionAsksToConfirm).
func TestEndSessionUnverifiableHintAsksToConfirm(t *testing.T) {
	e := newEnv(t, envOptions{})
	_, b, tok := signedInTokens(t, e)
	id, _ := tok.Extra("id_token").(string)

	for name, q := range map[string]url.Values{
		"garbage":        {"id_token_hint": {"not-a-jwt"}, "client_id": {"portal"}},
		"bad signature":  {"id_token_hint": {id[:len(id)-4] + "AAAA"}},
		"retired key":    {"id_token_hint": {resign(t, id)}},
		"retired key+id": {"id_token_hint": {resign(t, id)}, "client_id": {"portal"}},
	} {
		t.Run(name, func(t *testing.T) {
			q.Set("post_logout_redirect_uri", rpHome)
			q.Set("state", "s3")
			_, form := confirmPage(t, endSession(t, e, b, q))
			if form.Get("client_id") != "portal" || form.Get("post_logout_redirect_uri") != rpHome || form.Has("id_token_hint") {
				t.Fatalf("confirmation form carries %v", form)
			}
			stillSignedIn(t, e, b)
		})
	}
	// Being no hint, it cannot contradict the app's client_id either.
	_, form := confirmPage(t, endSession(t, e, b, url.Values{"id_token_hint": {resign(t, id)}, "client_id": {"spa"}}))
	if form.Get("client_id") != "spa" {
		t.Fatalf("unverifiable hint and client_id=spa: confirmation form carries %v", form)
	}
	action, form := confirmPage(t, endSession(t, e, b, url.Values{"id_token_hint": {resign(t, id)},
		"post_logout_redirect_uri": {rpHome}, "state": {"s3"}}))
	if p := b.raw(http.MethodPost, action, form); p.status != http.StatusSeeOther || p.location(t) != rpHome+"?state=s3" {
		t.Fatalf("confirmed logout: %d to %q", p.status, p.location(t))
	}
	signedOut(t, e, b)
}

// resign returns the claims of tok signed by a key the tenant does not
// (or no longer) publish, as an ID token from before a key rotation.
func resign(t *testing.T, tok string) string {
	t.Helper()
	parts := strings.Split(tok, ".")
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: key, KeyID: "retired"}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		t.Fatal(err)
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	s, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return s
}
