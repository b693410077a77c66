package oidc

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/guestpass/guestpass/connectors"
	"github.com/guestpass/guestpass/pkg/store/storetest"
)

// discoveryServer serves a discovery document over TCP and counts the
// fetches; status, when set, is answered instead.
type discoveryServer struct {
	*httptest.Server
	// refuseCodes: the token endpoint answers invalid_grant (else 404).
	refuseCodes atomic.Bool
	hits        atomic.Int32
	status      atomic.Int32
	issuer      atomic.Value // string; "" means its own URL
	body        atomic.Value // []byte replacing the document, when set
}

func startDiscovery(t *testing.T) *discoveryServer {
	t.Helper()
	d := &discoveryServer{}
	d.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/token" && d.refuseCodes.Load() {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"error":"invalid_grant"}`))
			return
		}
		if r.URL.Path != "/.well-known/openid-configuration" {
			http.NotFound(w, r)
			return
		}
		d.hits.Add(1)
		if s := d.status.Load(); s != 0 {
			w.WriteHeader(int(s))
			return
		}
		if b, ok := d.body.Load().([]byte); ok {
			_, _ = w.Write(b)
			return
		}
		iss, _ := d.issuer.Load().(string)
		if iss == "" {
			iss = d.URL
		}
		_ = json.NewEncoder(w).Encode(map[string]any{
			"issuer": iss, "authorization_endpoint": d.URL + "/authorize", "token_endpoint": d.URL + "/token",
			"jwks_uri": d.URL + "/keys", "token_endpoint_auth_methods_supported": []string{"client_secret_post"},
		})
	}))
	t.Cleanup(d.Close)
	return d
}

func open(t *testing.T, issuer string, clk *storetest.Clock, mod func(*Options)) *Connector {
	t.Helper()
	o := Options{Issuer: issuer, ClientID: "cid", ClientSecret: "sec"}
	if mod != nil {
		mod(&o)
	}
	c, err := New(connectors.Spec{Tenant: "t", Type: TypeOIDC, ID: "partner", Name: "Partner", Domains: []string{"Partner.example"}, Options: o},
		connectors.Env{HTTPClient: &http.Client{Timeout: 5 * time.Second}, Clock: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	return c.(*Connector)
}

func loginURL(t *testing.T, c *Connector, req connectors.LoginRequest) (url.Values, error) {
	t.Helper()
	if req.CallbackURL == "" {
		req.CallbackURL = "http://127.0.0.1:1/t/login/callback"
	}
	to, _, err := c.LoginURL(context.Background(), req)
	if err != nil {
		return nil, err
	}
	u, err := url.Parse(to)
	if err != nil {
		t.Fatal(err)
	}
	return u.Query(), nil
}

// The factory does no I/O; the first sign-in fetches discovery, later ones
// reuse it until RefreshAfter has passed on the clock.
func TestDiscoveryCachedAndRefreshed(t *testing.T) {
	d := startDiscovery(t)
	clk := storetest.NewClock(time.Unix(1_700_000_000, 0))
	c := open(t, d.URL, clk, nil)
	if n := d.hits.Load(); n != 0 {
		t.Fatalf("the factory fetched discovery %d times", n)
	}
	for i := 0; i < 3; i++ {
		if _, err := loginURL(t, c, connectors.LoginRequest{State: "s"}); err != nil {
			t.Fatal(err)
		}
		clk.Advance(RefreshAfter / 4)
	}
	if n := d.hits.Load(); n != 1 {
		t.Fatalf("discovery fetched %d times within the hour, want 1", n)
	}
	clk.Advance(RefreshAfter / 4) // now exactly RefreshAfter after the fetch
	if _, err := loginURL(t, c, connectors.LoginRequest{State: "s"}); err != nil {
		t.Fatal(err)
	}
	if n := d.hits.Load(); n != 2 {
		t.Fatalf("discovery fetched %d times after the hour, want 2", n)
	}
}

// A failed fetch is not cached: the next sign-in asks again. A failed
// code exchange drops the cached document.
func TestDiscoveryRefetchedAfterFailure(t *testing.T) {
	d := startDiscovery(t)
	clk := storetest.NewClock(time.Unix(1_700_000_000, 0))
	c := open(t, d.URL, clk, nil)
	d.status.Store(http.StatusServiceUnavailable)
	if _, err := loginURL(t, c, connectors.LoginRequest{State: "s"}); !errors.Is(err, connectors.ErrUnreachable) {
		t.Fatalf("discovery 503: %v, want ErrUnreachable", err)
	}
	d.status.Store(0)
	if _, err := loginURL(t, c, connectors.LoginRequest{State: "s"}); err != nil {
		t.Fatal(err)
	}
	if n := d.hits.Load(); n != 2 {
		t.Fatalf("discovery fetched %d times, want 2", n)
	}
	// The token endpoint (a 404 here) refuses the code: the document is
	// dropped and fetched again on the next sign-in.
	_, state, err := c.LoginURL(context.Background(), connectors.LoginRequest{State: "s", CallbackURL: "http://127.0.0.1:1/cb"})
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest(http.MethodGet, "/t/login/callback?code=c&state=s", nil)
	if _, err := c.HandleCallback(context.Background(), state, r); !errors.Is(err, connectors.ErrBadResponse) {
		t.Fatalf("refused code: %v, want ErrBadResponse", err)
	}
	if _, err := loginURL(t, c, connectors.LoginRequest{State: "s"}); err != nil {
		t.Fatal(err)
	}
	if n := d.hits.Load(); n != 3 {
		t.Fatalf("discovery fetched %d times after a failed exchange, want 3", n)
	}
	// A code the token endpoint reads and refuses (invalid_grant: what
	// anyone posting a made-up callback gets) keeps the document.
	d.refuseCodes.Store(true)
	for range 3 {
		if _, err := c.HandleCallback(context.Background(), state, r); !errors.Is(err, connectors.ErrBadResponse) {
			t.Fatalf("refused code: %v, want ErrBadResponse", err)
		}
	}
	if _, err := loginURL(t, c, connectors.LoginRequest{State: "s"}); err != nil {
		t.Fatal(err)
	}
	if n := d.hits.Load(); n != 3 {
		t.Fatalf("discovery fetched %d times after refused codes, want still 3", n)
	}
}

// Discovery answers that cannot be used are bad responses; an upstream
// where nothing listens is unreachable.
func TestDiscoveryBadAnswers(t *testing.T) {
	clk := storetest.NewClock(time.Unix(1_700_000_000, 0))
	d := startDiscovery(t)
	d.issuer.Store("https://impostor.example")
	if _, err := loginURL(t, open(t, d.URL, clk, nil), connectors.LoginRequest{}); !errors.Is(err, connectors.ErrBadResponse) || !strings.Contains(err.Error(), "impostor") {
		t.Fatalf("issuer mismatch: %v", err)
	}
	big := startDiscovery(t)
	big.body.Store([]byte(`{"issuer":"` + strings.Repeat("x", maxBody) + `"}`))
	if _, err := loginURL(t, open(t, big.URL, clk, nil), connectors.LoginRequest{}); !errors.Is(err, connectors.ErrBadResponse) || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("oversized discovery: %v", err)
	}
	dead := startDiscovery(t)
	dead.Close()
	if _, err := loginURL(t, open(t, dead.URL, clk, nil), connectors.LoginRequest{}); !errors.Is(err, connectors.ErrUnreachable) {
		t.Fatalf("nothing listening: %v", err)
	}
}

// LoginURL forwards what the app asked for and keeps the verifier, nonce
// and redirect URI for the callback.
func TestLoginURLParameters(t *testing.T) {
	d := startDiscovery(t)
	c := open(t, d.URL, storetest.NewClock(time.Unix(1_700_000_000, 0)), func(o *Options) { o.Scopes = []string{"email"} })
	maxAge := 90 * time.Second
	to, raw, err := c.LoginURL(context.Background(), connectors.LoginRequest{
		CallbackURL: "http://127.0.0.1:1/t/login/callback", State: "partner.a.b", LoginHint: "ada@partner.example",
		ForceLogin: true, MaxAge: &maxAge, UILocales: []string{"fr-CA", "en"}})
	if err != nil {
		t.Fatal(err)
	}
	q := mustQuery(t, to)
	var st connState
	if err := json.Unmarshal(raw, &st); err != nil || st.Verifier == "" || st.Nonce == "" || st.Redirect != "http://127.0.0.1:1/t/login/callback" {
		t.Fatalf("connector state %s (%v)", raw, err)
	}
	for k, want := range map[string]string{
		"state": "partner.a.b", "nonce": st.Nonce, "login_hint": "ada@partner.example", "prompt": "login",
		"max_age": "90", "ui_locales": "fr-CA en", "code_challenge_method": "S256", "scope": "openid email",
		"redirect_uri": "http://127.0.0.1:1/t/login/callback", "response_type": "code", "client_id": "cid",
	} {
		if q.Get(k) != want {
			t.Errorf("%s = %q, want %q", k, q.Get(k), want)
		}
	}
	if q.Get("code_challenge") == "" || strings.Contains(to, st.Verifier) {
		t.Errorf("PKCE: challenge %q, verifier leaked: %v", q.Get("code_challenge"), strings.Contains(to, st.Verifier))
	}
	// Two sign-ins never share a nonce or a verifier.
	_, raw2, _ := c.LoginURL(context.Background(), connectors.LoginRequest{State: "s"})
	var st2 connState
	_ = json.Unmarshal(raw2, &st2)
	if st2.Nonce == st.Nonce || st2.Verifier == st.Verifier {
		t.Fatal("nonce or verifier reused")
	}
}

func mustQuery(t *testing.T, s string) url.Values {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u.Query()
}

// error=access_denied from the upstream is ErrDenied, before any exchange;
// a callback without state of ours or without a code is a bad response.
func TestCallbackErrors(t *testing.T) {
	d := startDiscovery(t)
	c := open(t, d.URL, storetest.NewClock(time.Unix(1_700_000_000, 0)), nil)
	_, state, err := c.LoginURL(context.Background(), connectors.LoginRequest{State: "s"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		query string
		state []byte
		want  error
	}{
		{"error=access_denied&state=s", state, connectors.ErrDenied},
		{"state=s", state, connectors.ErrBadResponse},
		{"code=c&state=s", nil, connectors.ErrBadResponse},
		{"code=c&state=s", []byte("{}"), connectors.ErrBadResponse},
	} {
		r := httptest.NewRequest(http.MethodGet, "/t/login/callback?"+tc.query, nil)
		if _, err := c.HandleCallback(context.Background(), tc.state, r); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.query, err, tc.want)
		}
	}
}

// An answer naming another issuer (RFC 9207) is refused before the code
// is sent anywhere.
func TestCallbackOtherIssuer(t *testing.T) {
	d := startDiscovery(t)
	var tokenCalls atomic.Int32
	tok := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { tokenCalls.Add(1) }))
	defer tok.Close()
	d.body.Store([]byte(`{"issuer":"` + d.URL + `","authorization_endpoint":"` + d.URL + `/a","token_endpoint":"` + tok.URL + `","jwks_uri":"` + d.URL + `/k"}`))
	c := open(t, d.URL, storetest.NewClock(time.Unix(1_700_000_000, 0)), nil)
	_, state, err := c.LoginURL(context.Background(), connectors.LoginRequest{State: "s"})
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest(http.MethodGet, "/t/login/callback?code=c&state=s&iss=https%3A%2F%2Fother.example", nil)
	if _, err := c.HandleCallback(context.Background(), state, r); !errors.Is(err, connectors.ErrBadResponse) || tokenCalls.Load() != 0 {
		t.Fatalf("another issuer: %v, token endpoint called %d times", err, tokenCalls.Load())
	}
}

// email_verified decides, as a boolean or a string; only an absent claim
// is left to AssumeVerified (Microsoft's consumer tenant), and an identity
// without an email is never verified.
func TestIdentityVerified(t *testing.T) {
	for _, tc := range []struct {
		claims string
		assume bool
		want   bool
	}{
		{`{"email":"a@x.example","email_verified":true}`, false, true},
		{`{"email":"a@x.example","email_verified":"true"}`, false, true},
		{`{"email":"a@x.example","email_verified":false}`, true, false},
		{`{"email":"a@x.example","email_verified":"false"}`, true, false},
		{`{"email":"a@x.example"}`, false, false},
		{`{"email":"a@x.example"}`, true, true},
		{`{"email_verified":true}`, true, false},
	} {
		var cl claims
		if err := json.Unmarshal([]byte(tc.claims), &cl); err != nil {
			t.Fatal(err)
		}
		c := &Connector{opts: Options{AssumeVerified: tc.assume}}
		if got := c.identity("sub", cl).EmailVerified; got != tc.want {
			t.Errorf("%s assume=%v: verified %v, want %v", tc.claims, tc.assume, got, tc.want)
		}
	}
}

// Claims matches the configured domains, case-insensitively on the
// configured side (addresses arrive canonical: lowercase domain).
func TestClaims(t *testing.T) {
	c := open(t, "http://127.0.0.1:1", storetest.NewWallClock(), nil)
	if !c.Claims("a@partner.example") || c.Claims("a@sub.partner.example") || c.Claims("a@other.example") {
		t.Fatal("Claims")
	}
	if c.Source() != "oidc:partner" {
		t.Fatalf("source %q", c.Source())
	}
}
