package server_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/guestpass/guestpass/pkg/config"
	"github.com/guestpass/guestpass/pkg/store"
)

// jwsHeader decodes a compact JWS's protected header.
func jwsHeader(t *testing.T, raw string) map[string]string {
	t.Helper()
	head, _, _ := strings.Cut(raw, ".")
	b, err := base64.RawURLEncoding.DecodeString(head)
	var h map[string]string
	if err != nil || json.Unmarshal(b, &h) != nil {
		t.Fatalf("header of %q: %v", raw, err)
	}
	return h
}

// jwks fetches a tenant's JWKS: kid → the key's kty and alg.
func jwks(t *testing.T, e *env, tenant string) map[string][2]string {
	t.Helper()
	resp, err := http.Get(e.issuer(tenant) + "/keys")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var set struct {
		Keys []struct{ Kid, Kty, Alg, Use string }
	}
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &set) != nil {
		t.Fatalf("jwks: %d %s", resp.StatusCode, body)
	}
	out := map[string][2]string{}
	for _, k := range set.Keys {
		if k.Use != "sig" {
			t.Errorf("key %s: use %q, want sig", k.Kid, k.Use)
		}
		out[k.Kid] = [2]string{k.Kty, k.Alg}
	}
	return out
}

// PRODUCT.md B6: ES256 by default, RS256 available per client. A client
// configured for RS256 gets ID tokens that a relying party accepting
// nothing but RS256 verifies (go-oidc told so); the tenant's other clients
// keep ES256, and every access token stays ES256 (userinfo takes the
// RS256 client's). Discovery lists RS256 only where a client gets it,
// every tenant's JWKS publishes an RSA key beside the EC one,
// and the RS256 ID token is a valid id_token_hint at authorize (single
// sign-on, silently) and at end_session (logout without confirmation).
func TestRS256ClientIDTokens(t *testing.T) {
	e := newEnv(t, envOptions{configure: addRS256Client})
	const ada = "ada@guest.example"
	invite(t, e, "fabrikam", ada, "Ada")
	ctx := context.Background()

	if got := strs(t, mustDiscovery(t, e, "fabrikam"), "id_token_signing_alg_values_supported"); !sameSet(got, []string{"ES256", "RS256"}) {
		t.Errorf("fabrikam id_token_signing_alg_values_supported = %v, want ES256 and RS256", got)
	}
	if got := strs(t, mustDiscovery(t, e, "contoso"), "id_token_signing_alg_values_supported"); !sameSet(got, []string{"ES256"}) {
		t.Errorf("contoso (no RS256 client) id_token_signing_alg_values_supported = %v, want ES256", got)
	}
	// Every tenant publishes an RSA key, so a client a reload switches to
	// RS256 (or back) finds its key published on every replica.
	kinds := map[[2]string]int{}
	for _, k := range jwks(t, e, "contoso") {
		kinds[k]++
	}
	if kinds[[2]string{"RSA", "RS256"}] != 1 || kinds[[2]string{"EC", "ES256"}] != 1 {
		t.Errorf("contoso's JWKS holds %v, want one EC and one RSA key", kinds)
	}

	b := newBrowser(t)
	legacy := newRP(t, e, "fabrikam", "legacy", "legacy-secret")
	tok, _ := legacy.callback(t, e, "fabrikam", signIn(t, e, b, legacy.authURL(), ada))
	id, _ := tok.Extra("id_token").(string)
	rsOnly := legacy.prov.Verifier(&gooidc.Config{ClientID: "legacy", SupportedSigningAlgs: []string{"RS256"}})
	if _, err := rsOnly.Verify(ctx, id); err != nil {
		t.Fatalf("an RS256-only relying party refused the RS256 client's ID token: %v", err)
	}
	keys := jwks(t, e, "fabrikam")
	h := jwsHeader(t, id)
	if h["alg"] != "RS256" || h["typ"] != "JWT" || keys[h["kid"]] != [2]string{"RSA", "RS256"} {
		t.Errorf("RS256 client's ID token header %v; its key in the JWKS %v", h, keys[h["kid"]])
	}
	at := jwsHeader(t, tok.AccessToken)
	if at["alg"] != "ES256" || at["typ"] != "at+jwt" || keys[at["kid"]] != [2]string{"EC", "ES256"} {
		t.Errorf("RS256 client's access token header %v; its key in the JWKS %v", at, keys[at["kid"]])
	}
	if ui, err := legacy.prov.UserInfo(ctx, oauth2.StaticTokenSource(tok)); err != nil || ui.Email != ada {
		t.Errorf("userinfo with the RS256 client's access token: %v %v", ui, err)
	}

	// Another client of the tenant, same browser (single sign-on): ES256,
	// which the RS256-only party refuses and an ES256-only one accepts.
	portal := newRP(t, e, "fabrikam", "portal", "portal-secret")
	ptok, _ := portal.callback(t, e, "fabrikam", b.get(portal.authURL()))
	pid, _ := ptok.Extra("id_token").(string)
	if h := jwsHeader(t, pid); h["alg"] != "ES256" {
		t.Errorf("default client's ID token alg %q, want ES256", h["alg"])
	}
	if _, err := portal.prov.Verifier(&gooidc.Config{ClientID: "portal", SupportedSigningAlgs: []string{"RS256"}}).Verify(ctx, pid); err == nil {
		t.Error("an RS256-only party accepted an ES256 ID token: the check above proves nothing")
	}
	if _, err := portal.prov.Verifier(&gooidc.Config{ClientID: "portal", SupportedSigningAlgs: []string{"ES256"}}).Verify(ctx, pid); err != nil {
		t.Errorf("ES256 ID token: %v", err)
	}

	// The refresh grant signs the RS256 client's new ID token with RSA too.
	next, err := legacy.oauth.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
	if err != nil {
		t.Fatalf("refresh: %v", err)
	}
	if nid, _ := next.Extra("id_token").(string); nid == "" {
		t.Error("refresh: no ID token")
	} else if _, err := rsOnly.Verify(ctx, nid); err != nil {
		t.Errorf("refreshed ID token refused by the RS256-only party: %v", err)
	}

	// The RS256 ID token as id_token_hint: single sign-on without a page.
	q := baseAuthQuery("legacy", rpCallback)
	q.Set("id_token_hint", id)
	q.Set("prompt", "none")
	if v := readAuthResponse(t, b.get(authorizeURL(e, q)), "query").params; v.Get("code") == "" {
		t.Fatalf("RS256 id_token_hint with prompt=none: %v, want a code", v)
	}
	p := endSession(t, e, b, url.Values{"id_token_hint": {id}, "post_logout_redirect_uri": {rpHome}})
	if p.status != http.StatusFound || p.location(t) != rpHome {
		t.Fatalf("logout with the RS256 ID token: %d to %q, want %s at once", p.status, p.location(t), rpHome)
	}
	signedOut(t, e, b)
}

// addRS256Client gives fabrikam a client whose ID tokens are RS256.
func addRS256Client(c *config.Config) {
	c.Tenant("fabrikam").Clients = append(c.Tenant("fabrikam").Clients, config.Client{ID: "legacy", Name: "Legacy",
		Secret: "legacy-secret", RedirectURIs: []string{rpCallback}, PostLogoutRedirectURIs: []string{rpHome},
		IDTokenSigningAlg: "RS256"})
}

// rsaKeysDown refuses every read of the RSA key set while down is set:
// an outage that strikes between a grant's own reads and its key's.
type rsaKeysDown struct {
	store.Store
	down atomic.Bool
	// damaged: reads of the RSA key set give what no ring can open.
	damaged atomic.Bool
}

func (s *rsaKeysDown) Get(ctx context.Context, key string) ([]byte, error) {
	if strings.HasSuffix(key, "signing-keys-rsa") {
		if s.down.Load() {
			return nil, fmt.Errorf("read %s: %w", key, store.ErrUnavailable)
		}
		if s.damaged.Load() {
			return []byte(`{"keys":[{"kid":"x","alg":"RS256","sealed":"AAAA","created":"2026-01-01T00:00:00Z","active":"2999-01-01T00:00:00Z"}]}`), nil
		}
	}
	return s.Store.Get(ctx, key)
}

// A key set that does not open (damaged, or sealed under other secrets)
// makes the JWKS a logged 500 in the OAuth JSON of every error, not
// cacheable, rather than the library's "{}" under the JWKS's public cache
// lifetime.
func TestJWKSWithADamagedKeySet(t *testing.T) {
	faulty := &rsaKeysDown{}
	faulty.damaged.Store(true)
	e := newEnv(t, envOptions{wrapStore: func(s store.Store) store.Store {
		faulty.Store = s
		return faulty
	}})
	resp, err := http.Get(e.issuer("fabrikam") + "/keys")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var oe struct{ Error string }
	if resp.StatusCode != http.StatusInternalServerError || json.Unmarshal(body, &oe) != nil || oe.Error != "server_error" ||
		resp.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("JWKS over a damaged key set: %d, Cache-Control %q, body %s; want 500 server_error, no-store",
			resp.StatusCode, resp.Header.Get("Cache-Control"), body)
	}
	faulty.damaged.Store(false)
	if keys := jwks(t, e, "fabrikam"); len(keys) != 2 {
		t.Fatalf("JWKS once the set opens: %v", keys)
	}
}

// While a tenant's RSA keys cannot be loaded, its JWKS is a 503, and the
// token endpoint, which finds its signing keys before it spends anything,
// answers an RS256 client's code exchange with a 503 that leaves the code
// as it was: the same code works once the keys can be loaded.
func TestRS256KeysBeforeTheCodeIsSpent(t *testing.T) {
	faulty := &rsaKeysDown{}
	e := newEnv(t, envOptions{configure: addRS256Client, wrapStore: func(s store.Store) store.Store {
		faulty.Store = s
		return faulty
	}})
	const ada = "ada@guest.example"
	invite(t, e, "fabrikam", ada, "Ada")
	legacy := newRP(t, e, "fabrikam", "legacy", "legacy-secret")
	p := signIn(t, e, newBrowser(t), legacy.authURL(), ada)
	code := mustURL(t, p.url).Query().Get("code")

	faulty.down.Store(true)
	// The JWKS cannot be had whole: a 503, not the library's 500 or a
	// key set without the RSA keys.
	keys, err := http.Get(e.issuer("fabrikam") + "/keys")
	if err != nil {
		t.Fatal(err)
	}
	keys.Body.Close()
	if keys.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("JWKS with the RSA keys unreachable: %d, want 503", keys.StatusCode)
	}
	resp, body := tokenRequest(t, e, url.Values{"grant_type": {"authorization_code"}, "code": {code},
		"redirect_uri": {rpCallback}, "code_verifier": {legacy.verifier}}, "legacy", "legacy-secret", "")
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, "temporarily_unavailable") {
		t.Fatalf("RSA keys unreachable: %d %s, want 503 temporarily_unavailable", resp.StatusCode, body)
	}
	faulty.down.Store(false)
	legacy.callback(t, e, "fabrikam", p) // the same code, spent only now
}

func mustDiscovery(t *testing.T, e *env, tenant string) map[string]any {
	t.Helper()
	doc, _ := discovery(t, e, tenant, "")
	return doc
}
