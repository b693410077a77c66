package server_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
)

// /authorize grants only the scopes discovery lists (not the library's
// phone and address), and openid is required: without it (or with only
// unknown scopes) the app gets invalid_scope at its redirect URI, with
// iss (RFC 9207).
func TestAuthorizeScopes(t *testing.T) {
	e := newEnv(t, envOptions{})
	_, b, _ := signedInTokens(t, e)
	iss := e.issuer("fabrikam")
	for _, scope := range []string{"", "email", "profile email offline_access", "phone address", "nosuch", "OPENID email"} {
		q := baseAuthQuery("portal", rpCallback)
		q.Set("scope", scope)
		for _, mode := range []string{"query", "fragment"} {
			q.Set("response_mode", mode)
			v := readAuthResponse(t, b.get(authorizeURL(e, q)), mode).params
			if v.Get("error") != "invalid_scope" || v.Has("code") || v.Get("iss") != iss || v.Get("state") != "st" {
				t.Errorf("scope %q (%s): %v, want invalid_scope with iss and state", scope, mode, v)
			}
		}
	}
	// Unknown scopes are dropped, known ones kept once: the grant (seen
	// in the token response) has exactly the supported ones asked for.
	r := newRP(t, e, "fabrikam", "portal", "portal-secret")
	r.oauth.Scopes = []string{"openid", "phone", "address", "email", "nosuch", "email"}
	tok, _ := r.callback(t, e, "fabrikam", b.get(r.authURL()))
	if got := strings.Fields(tok.Extra("scope").(string)); !slices.Equal(got, []string{"openid", "email"}) {
		t.Fatalf("granted scope %v, want [openid email]", got)
	}
}

// client_credentials (admin tokens) takes an empty scope or the tenant's
// supported scopes (not offline_access: no refresh token in this grant);
// anything else, too many or too long, is invalid_scope.
func TestClientCredentialsScopes(t *testing.T) {
	e := newEnv(t, envOptions{})
	grant := func(scope string) (*http.Response, string) {
		t.Helper()
		f := url.Values{"grant_type": {"client_credentials"}}
		if scope != "" {
			f.Set("scope", scope)
		}
		return call(t, e, http.MethodPost, "fabrikam", "/oauth/token", f, "admin", "admin-secret", nil)
	}
	for scope, want := range map[string]string{"": "", "openid": "openid", "openid email email profile": "openid email profile"} {
		resp, body := grant(scope)
		var m map[string]any
		_ = json.Unmarshal([]byte(body), &m)
		got, _ := m["scope"].(string)
		if resp.StatusCode != http.StatusOK || got != want {
			t.Errorf("scope %q: %d %s, want 200 with scope %q", scope, resp.StatusCode, body, want)
		}
	}
	for _, scope := range []string{"admin", "openid phone", "offline_access", "openid " + strings.Repeat("x", 2000),
		strings.TrimSpace(strings.Repeat("email ", 40)), "OPENID"} {
		resp, body := grant(scope)
		oauthErr(t, "scope "+scope[:min(len(scope), 30)], resp, body, http.StatusBadRequest, "invalid_scope", "Basic")
	}
}
