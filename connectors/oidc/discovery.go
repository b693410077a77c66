package oidc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/guestpass/guestpass/connectors"
)

// RefreshAfter is how long a fetched discovery document is used before it
// is fetched again (endpoints and key URLs change rarely; a failure
// invalidates it sooner).
const RefreshAfter = time.Hour

// maxBody bounds every answer read from an upstream (discovery, JWKS,
// token, userinfo): a misbehaving upstream cannot make guestpass read
// without end.
const maxBody = 1 << 20

// provider is one fetched discovery document, with the key set its
// jwks_uri names.
type provider struct {
	Issuer      string   `json:"issuer"`
	AuthURL     string   `json:"authorization_endpoint"`
	TokenURL    string   `json:"token_endpoint"`
	JWKSURL     string   `json:"jwks_uri"`
	UserInfoURL string   `json:"userinfo_endpoint"`
	AuthMethods []string `json:"token_endpoint_auth_methods_supported"`
	SigningAlgs []string `json:"id_token_signing_alg_values_supported"`
	fetched     time.Time
	keys        *gooidc.RemoteKeySet
}

// authStyle follows discovery: client_secret_basic unless the upstream
// lists only client_secret_post (basic is the default when it lists
// nothing, OpenID Connect Discovery 1.0 §3).
func (p *provider) authStyle() oauth2.AuthStyle {
	if len(p.AuthMethods) == 0 || slices.Contains(p.AuthMethods, "client_secret_basic") {
		return oauth2.AuthStyleInHeader
	}
	if slices.Contains(p.AuthMethods, "client_secret_post") {
		return oauth2.AuthStyleInParams
	}
	return oauth2.AuthStyleInHeader
}

// verifier checks signature, iss, aud and exp on the injected clock.
func (p *provider) verifier(clientID string, now func() time.Time) *gooidc.IDTokenVerifier {
	return gooidc.NewVerifier(p.Issuer, p.keys, &gooidc.Config{
		ClientID: clientID, Now: now, SupportedSigningAlgs: p.algs(),
	})
}

// algs are the asymmetric algorithms discovery lists (never "none" or an
// HMAC keyed with the client secret); RS256 when it lists none.
func (p *provider) algs() []string {
	var out []string
	for _, a := range p.SigningAlgs {
		if a != "none" && !strings.HasPrefix(a, "HS") {
			out = append(out, a)
		}
	}
	if len(out) == 0 {
		return []string{gooidc.RS256}
	}
	return out
}

// cache holds the discovery document of one issuer: fetched on first
// use, again after RefreshAfter on the clock, and again after a failure.
type cache struct {
	issuer string
	client *http.Client
	now    func() time.Time

	mu  sync.Mutex
	cur *provider
}

func newCache(issuer string, client *http.Client, now func() time.Time) *cache {
	return &cache{issuer: issuer, client: client, now: now}
}

// get returns the current document, fetching it when there is none or it
// is older than RefreshAfter. Concurrent sign-ins wait for one fetch.
func (c *cache) get(ctx context.Context) (*provider, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cur != nil && c.now().Sub(c.cur.fetched) < RefreshAfter {
		return c.cur, nil
	}
	p, err := c.fetch(ctx)
	if err != nil {
		return nil, err
	}
	c.cur = p
	return p, nil
}

// invalidate drops p if it is still the current document, so the next
// sign-in fetches discovery (and keys) again.
func (c *cache) invalidate(p *provider) {
	c.mu.Lock()
	if c.cur == p {
		c.cur = nil
	}
	c.mu.Unlock()
}

func (c *cache) fetch(ctx context.Context) (*provider, error) {
	u := strings.TrimSuffix(c.issuer, "/") + "/.well-known/openid-configuration"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("discovery: %v: %w", err, connectors.ErrBadResponse)
	}
	var p provider
	if err := getJSON(c.client, req, &p); err != nil {
		return nil, fmt.Errorf("discovery at %s: %w", u, err)
	}
	// The document must be the issuer's own (OpenID Connect Discovery
	// §4.3): a mismatch is a misconfiguration or an impostor.
	if p.Issuer != c.issuer {
		return nil, fmt.Errorf("discovery at %s names issuer %q, not %q: %w", u, p.Issuer, c.issuer, connectors.ErrBadResponse)
	}
	if p.AuthURL == "" || p.TokenURL == "" || p.JWKSURL == "" {
		return nil, fmt.Errorf("discovery at %s lacks an authorization, token or jwks endpoint: %w", u, connectors.ErrBadResponse)
	}
	p.fetched = c.now()
	// The key set fetches with our bounded client; a context without
	// cancellation is only its configuration (go-oidc's convention).
	p.keys = gooidc.NewRemoteKeySet(gooidc.ClientContext(context.Background(), c.client), p.JWKSURL)
	return &p, nil
}

func (c *Connector) getJSON(req *http.Request, v any) error { return getJSON(c.client, req, v) }

// getJSON does req and decodes a 200 JSON answer into v. No answer or a
// 5xx is ErrUnreachable; anything else unusable is ErrBadResponse.
func getJSON(client *http.Client, req *http.Request, v any) error {
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("%v: %w", scrub(err), connectors.ErrUnreachable)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode >= 500:
		return fmt.Errorf("status %d: %w", resp.StatusCode, connectors.ErrUnreachable)
	case resp.StatusCode != http.StatusOK:
		return fmt.Errorf("status %d: %w", resp.StatusCode, connectors.ErrBadResponse)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		if errors.Is(err, errTooLarge) {
			return fmt.Errorf("answer larger than %d bytes: %w", maxBody, connectors.ErrBadResponse)
		}
		return fmt.Errorf("answer not JSON: %w", connectors.ErrBadResponse)
	}
	return nil
}

// classify maps an error of the token exchange: the upstream's own
// refusal (a 4xx, invalid_grant) is a bad answer, a network failure or a
// 5xx an unreachable upstream. The upstream's error body is left out: it
// may echo what we sent.
func classify(what string, err error) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		if re.Response != nil && re.Response.StatusCode >= 500 {
			return fmt.Errorf("%s: status %d: %w", what, re.Response.StatusCode, connectors.ErrUnreachable)
		}
		code := re.ErrorCode
		if code == "" && re.Response != nil {
			code = fmt.Sprintf("status %d", re.Response.StatusCode)
		}
		return fmt.Errorf("%s refused: %s: %w", what, truncate(code, 64), connectors.ErrBadResponse)
	}
	if errors.Is(err, errTooLarge) {
		return fmt.Errorf("%s: answer larger than %d bytes: %w", what, maxBody, connectors.ErrBadResponse)
	}
	var ue interface{ Timeout() bool }
	if errors.As(err, &ue) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) || isNetErr(err) {
		return fmt.Errorf("%s: %v: %w", what, scrub(err), connectors.ErrUnreachable)
	}
	return fmt.Errorf("%s: %w", what, connectors.ErrBadResponse)
}

// scrub is an error's text without a URL query, which could carry a
// code: a *url.Error names the URL it failed on.
func scrub(err error) string {
	s := err.Error()
	if i := strings.IndexByte(s, '?'); i >= 0 {
		if j := strings.IndexAny(s[i:], "\": "); j >= 0 {
			return s[:i] + s[i+j:]
		}
		return s[:i]
	}
	return s
}

// limitedClient is client with every response body bounded to maxBody.
func limitedClient(client *http.Client) *http.Client {
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	c := *client
	rt := c.Transport
	if rt == nil {
		rt = http.DefaultTransport
	}
	c.Transport = limitTransport{rt}
	return &c
}

type limitTransport struct{ next http.RoundTripper }

func (t limitTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	resp.Body = &limitedBody{rc: resp.Body, left: maxBody}
	return resp, nil
}

var errTooLarge = errors.New("upstream answer too large")

// limitedBody fails, rather than truncates, past its limit: a cut JSON
// document must not parse as a shorter valid one.
type limitedBody struct {
	rc   io.ReadCloser
	left int64
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		// One byte more tells an answer of exactly the limit from a
		// longer one.
		var one [1]byte
		if n, _ := b.rc.Read(one[:]); n > 0 {
			return 0, errTooLarge
		}
		return 0, io.EOF
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.rc.Read(p)
	b.left -= int64(n)
	return n, err
}

func (b *limitedBody) Close() error { return b.rc.Close() }

// isNetErr reports a failure to reach the upstream at all.
func isNetErr(err error) bool {
	var ne net.Error
	return errors.As(err, &ne)
}
