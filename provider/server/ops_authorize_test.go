package server_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
	"golang.org/x/oauth2"

	"github.com/guestpass/guestpass/pkg/store"
	"github.com/guestpass/guestpass/pkg/store/redistest"
)

// authStore is an env on a private Redis whose stored auth requests the
// test can count and weigh: the store itself is the witness of what a
// request cost.
type authStore struct {
	*env
	rdb    *redis.Client
	prefix string
}

func newAuthStore(t *testing.T) *authStore {
	t.Helper()
	rs := redistest.Start(t)
	prefix := redistest.KeyPrefix(t)
	e := newEnv(t, envOptions{redis: rs, prefix: prefix})
	rdb := redis.NewClient(&redis.Options{Addr: rs.Addr, DB: rs.DB, Username: rs.Username, Password: rs.Password})
	t.Cleanup(func() { _ = rdb.Close() })
	return &authStore{env: e, rdb: rdb, prefix: prefix}
}

// stored returns how many auth requests the store holds and their bytes.
func (s *authStore) stored(t *testing.T) (n int, bytes int64) {
	t.Helper()
	ctx := context.Background()
	iter := s.rdb.Scan(ctx, 0, s.prefix+"{*}:authreq", 1000).Iterator() // {tenant:id}:authreq
	for iter.Next(ctx) {
		l, err := s.rdb.StrLen(ctx, iter.Val()).Result()
		if err != nil {
			t.Fatal(err)
		}
		n++
		bytes += l
	}
	if err := iter.Err(); err != nil {
		t.Fatal(err)
	}
	return n, bytes
}

// postAuthorize sends one POST /authorize with form as its body.
func postAuthorize(t *testing.T, e *env, form url.Values) page {
	t.Helper()
	return newBrowser(t).raw(http.MethodPost, e.issuer("fabrikam")+"/authorize", form)
}

// startedByPost reports whether p, the answer to a POST /authorize, is
// the redirect to the start page of the request it stored.
func startedByPost(t testing.TB, p page) bool {
	t.Helper()
	return p.status == http.StatusFound && strings.Contains(p.location(t), "/fabrikam/login?authRequestID=")
}

// Issue 6 item 8 (B6, B10): oversized or repeated parameters, unknown
// values of enumerated parameters and bodies over 64 KiB are refused before
// anything is stored: with an OAuth error at the redirect URI when client
// and redirect URI are valid, else with an error page.
func TestAuthorizeBoundsRefuseAndStoreNothing(t *testing.T) {
	s := newAuthStore(t)
	long := func(n int) string { return strings.Repeat("x", n) }
	cases := map[string]func(url.Values){
		"state":                 func(q url.Values) { q.Set("state", long(2049)) },
		"nonce":                 func(q url.Values) { q.Set("nonce", long(1025)) },
		"login_hint":            func(q url.Values) { q.Set("login_hint", long(320)+"@guest.example") },
		"scope count":           func(q url.Values) { q.Set("scope", "openid"+strings.Repeat(" email", 32)) },
		"scope length":          func(q url.Values) { q.Set("scope", "openid "+long(1100)) },
		"prompt length":         func(q url.Values) { q.Set("prompt", strings.TrimSpace(strings.Repeat("login ", 20))) },
		"prompt unknown":        func(q url.Values) { q.Set("prompt", "bogus") },
		"prompt one unknown":    func(q url.Values) { q.Set("prompt", "login bogus") },
		"display unknown":       func(q url.Values) { q.Set("display", "hologram") },
		"ui_locales count":      func(q url.Values) { q.Set("ui_locales", strings.Repeat("en ", 9)) },
		"ui_locales length":     func(q url.Values) { q.Set("ui_locales", long(300)) },
		"acr_values":            func(q url.Values) { q.Set("acr_values", long(1025)) },
		"claims":                func(q url.Values) { q.Set("claims", `{"id_token":{"x":"`+long(5000)+`"}}`) },
		"id_token_hint":         func(q url.Values) { q.Set("id_token_hint", "eyJ"+long(17<<10)) },
		"response_mode length":  func(q url.Values) { q.Set("response_mode", long(65)) },
		"max_age not a number":  func(q url.Values) { q.Set("max_age", "soon") },
		"code_challenge length": func(q url.Values) { q.Set("code_challenge", long(129)) },
		"code_challenge short":  func(q url.Values) { q.Set("code_challenge", long(42)) },
		"code_challenge chars":  func(q url.Values) { q.Set("code_challenge", long(42)+"%") },
		"method unknown":        func(q url.Values) { q.Set("code_challenge_method", "S512") },
		"method plain":          func(q url.Values) { q.Set("code_challenge_method", "plain") },
		"state repeated":        func(q url.Values) { q.Add("state", "again") },
		"prompt repeated":       func(q url.Values) { q.Set("prompt", "login"); q.Add("prompt", "consent") },
	}
	for name, edit := range cases {
		t.Run(name, func(t *testing.T) {
			for _, method := range []string{http.MethodGet, http.MethodPost} {
				// A valid client and redirect URI: the error goes to the app.
				q := baseAuthQuery("portal", rpCallback)
				edit(q)
				var p page
				if method == http.MethodGet {
					p = newBrowser(t).raw(method, authorizeURL(s.env, q), nil)
				} else {
					p = postAuthorize(t, s.env, q)
				}
				loc := p.location(t)
				if !strings.HasPrefix(loc, rpCallback) {
					t.Fatalf("%s: %d Location %q, want a redirect to the app\n%s", method, p.status, loc, p.body)
				}
				v := mustURL(t, loc).Query()
				if v.Get("error") != "invalid_request" || v.Get("code") != "" {
					t.Fatalf("%s: redirect %s, want error=invalid_request", method, loc)
				}
				if st := q["state"]; len(st) == 1 && len(st[0]) < 100 && v.Get("state") != st[0] {
					t.Fatalf("%s: state %q not echoed: %s", method, st[0], loc)
				}
				if len(loc) > 4096 {
					t.Fatalf("%s: the error echoes the oversized value (%d bytes)", method, len(loc))
				}

				// An unregistered redirect URI: an error page, no redirect.
				q.Set("redirect_uri", "https://evil.example/cb")
				p = newBrowser(t).raw(method, authorizeURL(s.env, q), nil)
				if p.status != http.StatusBadRequest || p.header.Get("Location") != "" {
					t.Fatalf("%s, unregistered redirect: %d Location %q", method, p.status, p.header.Get("Location"))
				}
			}
			if n, _ := s.stored(t); n != 0 {
				t.Fatalf("%d auth requests stored for refused requests", n)
			}
		})
	}

	t.Run("body over 64 KiB", func(t *testing.T) {
		q := baseAuthQuery("portal", rpCallback)
		q.Set("pad", long(64<<10))
		p := postAuthorize(t, s.env, q)
		if p.status != http.StatusRequestEntityTooLarge || p.header.Get("Location") != "" || !strings.Contains(p.body, "<html") {
			t.Fatalf("%d Location %q, want the 413 error page\n%s", p.status, p.header.Get("Location"), p.body)
		}
		p = newBrowser(t).raw(http.MethodGet, authorizeURL(s.env, q), nil)
		if p.status != http.StatusRequestURITooLong || p.header.Get("Location") != "" {
			t.Fatalf("query over 64 KiB: %d Location %q, want 414", p.status, p.header.Get("Location"))
		}
		if n, _ := s.stored(t); n != 0 {
			t.Fatalf("%d auth requests stored for a refused body", n)
		}
	})

	t.Run("fragment response mode", func(t *testing.T) {
		q := baseAuthQuery("portal", rpCallback)
		q.Set("prompt", "bogus")
		q.Set("response_mode", "fragment")
		loc := newBrowser(t).raw(http.MethodGet, authorizeURL(s.env, q), nil).location(t)
		frag, err := url.ParseQuery(mustURL(t, loc).EscapedFragment())
		if err != nil || frag.Get("error") != "invalid_request" || frag.Get("state") != "st" {
			t.Fatalf("response_mode=fragment: %s", loc)
		}
	})

	t.Run("known values and a body just under the cap are accepted", func(t *testing.T) {
		q := baseAuthQuery("portal", rpCallback)
		q.Set("prompt", "login consent")
		q.Set("display", "touch")
		q.Set("ui_locales", "fr en")
		q.Set("max_age", "600")
		q.Set("pad", long(60<<10))
		p := postAuthorize(t, s.env, q)
		if !startedByPost(t, p) {
			t.Fatalf("%d %s\n%s", p.status, p.location(t), p.body)
		}
		if n, _ := s.stored(t); n != 1 {
			t.Fatalf("%d auth requests stored, want 1", n)
		}
	})
}

// Issue 6 item 8: "80 requests grew the process by 100 MB". Deterministic
// form: 80 requests at the largest accepted size and 80 abusive ones
// (a 60 KiB prompt, a 60 KiB body of unknown parameters) leave at most
// 80 bounded records in the store.
func TestAuthorizeStoredBytesBounded(t *testing.T) {
	s := newAuthStore(t)
	const n = 80
	// The largest request the bounds accept.
	big := baseAuthQuery("portal", rpCallback)
	big.Set("state", strings.Repeat("s", 2048))
	big.Set("nonce", strings.Repeat("n", 1024))
	big.Set("login_hint", strings.Repeat("a", 300)+"@g.example")
	big.Set("scope", "openid"+strings.Repeat(" email", 31))
	big.Set("prompt", "login consent select_account")
	big.Set("ui_locales", "en fr de it es pt nl sv")
	big.Set("acr_values", strings.Repeat("a", 1024))
	big.Set("claims", strings.Repeat("c", 4096))
	big.Set("pad", strings.Repeat("p", 40<<10))
	abusive := baseAuthQuery("portal", rpCallback)
	abusive.Set("prompt", strings.TrimSpace(strings.Repeat("login ", 10<<10)))
	for i := range n {
		if p := postAuthorize(t, s.env, big); !startedByPost(t, p) {
			t.Fatalf("request %d at the bounds refused: %d %s", i, p.status, p.location(t))
		}
		if p := postAuthorize(t, s.env, abusive); startedByPost(t, p) || isStartPage(p) {
			t.Fatalf("abusive request %d accepted", i)
		}
	}
	count, bytes := s.stored(t)
	const perRequest = 12 << 10
	if count != n || bytes > n*perRequest {
		t.Fatalf("%d requests at the bounds stored %d records of %d bytes; want %d records, at most %d bytes",
			n, count, bytes, n, n*perRequest)
	}
	t.Logf("%d auth requests at the bounds: %d bytes stored (%d each)", n, bytes, bytes/int64(count))
}

// /authorize answers with the sign-in's first step itself: the email page
// (no redirect to a start page of the pages' own, whose request and
// round trip every sign-in paid), or with a live session the app and its
// code (single sign-on in one request); a login_hint gets the send page.
func TestAuthorizeAnswersWithTheFirstStep(t *testing.T) {
	e := newEnv(t, envOptions{})
	invite(t, e, "fabrikam", "ada@guest.example", "Ada")
	r := newRP(t, e, "fabrikam", "portal", "portal-secret")

	p := newBrowser(t).raw(http.MethodGet, r.authURL(), nil)
	if !isStartPage(p) || !strings.Contains(p.body, `name="email"`) || p.header.Get("Location") != "" {
		t.Fatalf("authorize: %d %q, want the email page itself\n%.400s", p.status, p.header.Get("Location"), p.body)
	}
	if _, err := e.store.Get(bg(), store.TagKey("fabrikam", authRequestID(t, p), "authreq")); err != nil {
		t.Fatalf("the page's request is not stored: %v", err)
	}

	p = newBrowser(t).raw(http.MethodGet, r.authURL(oauth2.SetAuthURLParam("login_hint", "ada@guest.example")), nil)
	if p.status != http.StatusOK || !strings.Contains(p.body, "/login/send?authRequestID=") {
		t.Fatalf("authorize with login_hint: %d, want the send page\n%.400s", p.status, p.body)
	}

	b, _ := signedInBrowser(t, e, "ada@guest.example")
	r2 := newRP(t, e, "fabrikam", "portal", "portal-secret")
	p = b.raw(http.MethodGet, r2.authURL(), nil)
	loc := mustURL(t, p.location(t))
	if q := loc.Query(); !strings.HasPrefix(loc.String(), rpCallback) || q.Get("code") == "" ||
		q.Get("state") != r2.state || q.Get("iss") != e.issuer("fabrikam") {
		t.Fatalf("single sign-on: %d to %s, want the app with its code", p.status, loc)
	}
}

// A POST to /authorize (an app's form, B6: GET and POST are both served)
// is redirected to the start page instead of answered with it: a browser
// sends no SameSite=Lax cookie with a cross-site POST, so the answer would
// miss its session (no single sign-on, login_required for prompt=none) and
// replace its flow cookie. The GET after the redirect carries them: here
// the signed-in browser's session completes the request without a page.
func TestAuthorizePostRedirectsToTheStartPage(t *testing.T) {
	e := newEnv(t, envOptions{})
	invite(t, e, "fabrikam", "ada@guest.example", "Ada")
	b, _ := signedInBrowser(t, e, "ada@guest.example")
	r := newRP(t, e, "fabrikam", "portal", "portal-secret")
	form := mustURL(t, r.authURL()).Query()

	p := b.raw(http.MethodPost, e.issuer("fabrikam")+"/authorize", form)
	if !startedByPost(t, p) {
		t.Fatalf("POST /authorize: %d to %q, want a redirect to the start page\n%.400s", p.status, p.location(t), p.body)
	}
	p = b.raw(http.MethodGet, p.location(t), nil)
	loc := mustURL(t, p.location(t))
	if q := loc.Query(); !strings.HasPrefix(loc.String(), rpCallback) || q.Get("code") == "" || q.Get("state") != r.state {
		t.Fatalf("the start page of a live session: %d to %s, want the app with its code", p.status, loc)
	}
}
