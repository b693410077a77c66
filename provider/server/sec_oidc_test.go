package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"golang.org/x/oauth2"
)

// authorizeURL builds a raw authorize URL of fabrikam.
func authorizeURL(e *env, q url.Values) string {
	return e.issuer("fabrikam") + "/authorize?" + q.Encode()
}

func baseAuthQuery(client, redirect string) url.Values {
	_, ch := pkce()
	return url.Values{
		"client_id": {client}, "redirect_uri": {redirect}, "response_type": {"code"},
		"scope": {"openid email"}, "state": {"st"}, "nonce": {"no"},
		"code_challenge": {ch}, "code_challenge_method": {"S256"},
	}
}

// B10 redirect URIs match exactly: variants get an error page, never a
// redirect there.
func TestSecRedirectURIExact(t *testing.T) {
	e := newEnv(t, envOptions{})
	for _, ru := range []string{
		"//evil.example/callback",
		"https://trusted@evil.example/callback",
		"http://127.0.0.1:9@evil.example/callback",
		rpCallback + "/extra",
		rpCallback + "?x=1",
		rpCallback + "#frag",
		rpCallback + "/",
		"http://127.0.0.1:9/callback/../x",
		"http://127.0.0.1:9/x/../callback",
		"HTTP://127.0.0.1:9/callback",
		"http://127.0.0.1:09/callback",
	} {
		b := newBrowser(t)
		p := b.raw(http.MethodGet, authorizeURL(e, baseAuthQuery("portal", ru)), nil)
		if loc := p.header.Get("Location"); loc != "" || p.status < 400 {
			t.Fatalf("redirect_uri %q: %d Location %q, want an error page", ru, p.status, loc)
		}
	}
}

// B6 PKCE: S256 required for the public client, plain refused, S256 works
// without a secret; a wrong verifier fails for a confidential client.
func TestSecPKCE(t *testing.T) {
	e := newEnv(t, envOptions{})
	const ada = "ada@guest.example"
	invite(t, e, "fabrikam", ada, "Ada")

	refused := func(t *testing.T, q url.Values) {
		t.Helper()
		b := newBrowser(t)
		p := b.get(authorizeURL(e, q))
		if strings.HasPrefix(p.url, rpCallback) {
			if v := mustURL(t, p.url).Query(); v.Get("error") == "" || v.Get("code") != "" {
				t.Fatalf("refusal to the app without an error: %s", p.url)
			}
			return
		}
		if p.status < 400 || isEmailPage(p) {
			t.Fatalf("not refused: %d %s", p.status, p.url)
		}
	}
	t.Run("spa without challenge", func(t *testing.T) {
		q := baseAuthQuery("spa", rpCallback)
		q.Del("code_challenge")
		q.Del("code_challenge_method")
		refused(t, q)
	})
	t.Run("plain", func(t *testing.T) {
		for _, c := range []string{"spa", "portal"} {
			q := baseAuthQuery(c, rpCallback)
			q.Set("code_challenge", strings.Repeat("a", 43))
			q.Set("code_challenge_method", "plain")
			refused(t, q)
		}
	})
	t.Run("spa with S256", func(t *testing.T) {
		r := newRP(t, e, "fabrikam", "spa", "")
		r.oauth.Endpoint.AuthStyle = oauth2.AuthStyleInParams
		r.callback(t, e, "fabrikam", signIn(t, e, newBrowser(t), r.authURL(), ada))
	})
	t.Run("wrong verifier", func(t *testing.T) {
		e.clock.Advance(61e9)
		r := newRP(t, e, "fabrikam", "portal", "portal-secret")
		p := signIn(t, e, newBrowser(t), r.authURL(), ada)
		signedIn(t, p)
		code := mustURL(t, p.url).Query().Get("code")
		wrong, _ := pkce()
		if _, err := r.oauth.Exchange(context.Background(), code, oauth2.VerifierOption(wrong)); err == nil {
			t.Fatal("exchange with a wrong verifier succeeded")
		}
	})
}

// RFC 9700 an authorization code works once, even 10 at a time.
func TestSecCodeOnce(t *testing.T) {
	e := newEnv(t, envOptions{})
	_, b, _ := signedInTokens(t, e)

	t.Run("twice", func(t *testing.T) {
		r := newRP(t, e, "fabrikam", "portal", "portal-secret")
		p := b.get(r.authURL()) // SSO
		signedIn(t, p)
		code := mustURL(t, p.url).Query().Get("code")
		if _, err := r.oauth.Exchange(context.Background(), code, oauth2.VerifierOption(r.verifier)); err != nil {
			t.Fatalf("first exchange: %v", err)
		}
		if _, err := r.oauth.Exchange(context.Background(), code, oauth2.VerifierOption(r.verifier)); err == nil {
			t.Fatal("second exchange of the same code succeeded")
		}
	})
	t.Run("10 in parallel", func(t *testing.T) {
		r := newRP(t, e, "fabrikam", "portal", "portal-secret")
		p := b.get(r.authURL())
		signedIn(t, p)
		code := mustURL(t, p.url).Query().Get("code")
		var wg sync.WaitGroup
		var mu sync.Mutex
		ok := 0
		for range 10 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := r.oauth.Exchange(context.Background(), code, oauth2.VerifierOption(r.verifier)); err == nil {
					mu.Lock()
					ok++
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if ok != 1 {
			t.Fatalf("%d of 10 parallel exchanges succeeded, want 1", ok)
		}
	})
}

// tokenRequest posts to fabrikam's token endpoint.
func tokenRequest(t testing.TB, e *env, form url.Values, user, pass, origin string) (*http.Response, string) {
	t.Helper()
	hdr := map[string]string{"Accept": "application/json"}
	if origin != "" {
		hdr["Origin"] = origin
	}
	return call(t, e, http.MethodPost, "fabrikam", "/oauth/token", form, user, pass, hdr)
}

// B6 token responses are not cached; CORS only for listed origins.
func TestSecTokenHeadersAndCORS(t *testing.T) {
	e := newEnv(t, envOptions{})
	const ada = "ada@guest.example"
	invite(t, e, "fabrikam", ada, "Ada")
	r := newRP(t, e, "fabrikam", "portal", "portal-secret")
	p := signIn(t, e, newBrowser(t), r.authURL(), ada)
	signedIn(t, p)
	code := mustURL(t, p.url).Query().Get("code")

	resp, body := tokenRequest(t, e, url.Values{
		"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {rpCallback}, "code_verifier": {r.verifier},
	}, "portal", "portal-secret", "https://evil.example")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("token: %d %s", resp.StatusCode, body)
	}
	var tok map[string]any
	if err := json.Unmarshal([]byte(body), &tok); err != nil || tok["id_token"] == nil {
		t.Fatalf("token body: %s", body)
	}
	for h, want := range map[string]string{"Cache-Control": "no-store", "Pragma": "no-cache", "X-Content-Type-Options": "nosniff"} {
		if got := resp.Header.Get(h); got != want {
			t.Errorf("token response %s = %q, want %q", h, got, want)
		}
	}
	if a := resp.Header.Get("Access-Control-Allow-Origin"); a != "" {
		t.Fatalf("token endpoint allowed origin %q for https://evil.example", a)
	}
	// An error answer is not cached either.
	resp, _ = tokenRequest(t, e, url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {rpCallback}},
		"portal", "portal-secret", "")
	if resp.StatusCode == http.StatusOK || !strings.Contains(resp.Header.Get("Cache-Control"), "no-store") ||
		resp.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Fatalf("reused code: %d, Cache-Control %q, X-Content-Type-Options %q", resp.StatusCode,
			resp.Header.Get("Cache-Control"), resp.Header.Get("X-Content-Type-Options"))
	}

	for _, m := range []string{http.MethodGet, http.MethodOptions} {
		req, _ := http.NewRequest(m, e.issuer("fabrikam")+"/.well-known/openid-configuration", nil)
		req.Header.Set("Origin", "https://evil.example")
		req.Header.Set("Access-Control-Request-Method", "GET")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if a := res.Header.Get("Access-Control-Allow-Origin"); a != "" {
			t.Fatalf("%s discovery allowed origin %q for https://evil.example", m, a)
		}
	}
	// Preflight from an unknown origin to the token endpoint.
	pre := func(origin string) string {
		req, _ := http.NewRequest(http.MethodOptions, e.issuer("fabrikam")+"/oauth/token", nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", "content-type")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.Header.Get("Access-Control-Allow-Origin")
	}
	if a := pre("https://evil.example"); a != "" {
		t.Fatalf("token preflight allowed %q", a)
	}
	// The spa client's listed origin is allowed.
	if a := pre("http://127.0.0.1:9"); a != "http://127.0.0.1:9" {
		t.Fatalf("token preflight for the spa's origin: Access-Control-Allow-Origin %q", a)
	}
	resp, _ = tokenRequest(t, e, url.Values{"grant_type": {"authorization_code"}, "code": {"x"}, "client_id": {"spa"},
		"redirect_uri": {rpCallback}, "code_verifier": {r.verifier}}, "", "", "http://127.0.0.1:9")
	if a := resp.Header.Get("Access-Control-Allow-Origin"); a != "http://127.0.0.1:9" {
		t.Fatalf("token POST from the spa's origin: Access-Control-Allow-Origin %q", a)
	}
}
