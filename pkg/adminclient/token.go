package adminclient

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// ensureToken gets an access token once per Client: a CLI run makes a
// handful of calls, well within the token's life.
func (c *Client) ensureToken(ctx context.Context) error {
	if c.token != "" {
		return nil
	}
	endpoint, err := c.tokenEndpoint(ctx)
	if err != nil {
		return err
	}
	tok, err := c.clientCredentials(ctx, endpoint)
	if err != nil {
		return err
	}
	c.token = tok
	return nil
}

// tokenEndpoint reads the tenant's discovery document: the token endpoint
// is wherever the server says, and a discovery whose issuer differs from
// the configured URL means the URL names another tenant (or a proxy path).
func (c *Client) tokenEndpoint(ctx context.Context) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.issuer+"/.well-known/openid-configuration", nil)
	if err != nil {
		return "", fmt.Errorf("build discovery request: %w", err)
	}
	raw, resp, err := c.do(req)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("%w (%s answered %d)", ErrNoTenant, req.URL, resp.StatusCode)
	}
	var d struct {
		Issuer        string `json:"issuer"`
		TokenEndpoint string `json:"token_endpoint"`
	}
	if err := json.Unmarshal(raw, &d); err != nil {
		return "", fmt.Errorf("%w (%s is not JSON)", ErrNoTenant, req.URL)
	}
	if strings.TrimRight(d.Issuer, "/") != c.issuer {
		return "", fmt.Errorf("the discovery document at %s names the issuer %q, not %q: use the issuer as the URL", req.URL, d.Issuer, c.issuer)
	}
	if d.TokenEndpoint == "" {
		// Not advertised: the path guestpass serves it at.
		return c.issuer + "/oauth/token", nil
	}
	// The secret goes to the token endpoint: only to the issuer's own
	// origin, whatever a (tampered or misconfigured) discovery names.
	te, err := url.Parse(d.TokenEndpoint)
	if err != nil || origin(te) != c.origin() {
		return "", fmt.Errorf("the discovery document at %s names the token endpoint %q, not at the issuer's scheme, host and port: refusing to send the client secret there", req.URL, d.TokenEndpoint)
	}
	return d.TokenEndpoint, nil
}

// origin is the issuer's scheme, host and port.
func (c *Client) origin() string {
	u, err := url.Parse(c.issuer)
	if err != nil {
		return "" // New checked it; nothing matches an empty origin
	}
	return origin(u)
}

// clientCredentials runs the grant with client_secret_basic (RFC 6749
// §2.3.1: id and secret form-encoded before Basic).
func (c *Client) clientCredentials(ctx context.Context, endpoint string) (string, error) {
	form := url.Values{"grant_type": {"client_credentials"}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return "", fmt.Errorf("build token request: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.SetBasicAuth(url.QueryEscape(c.clientID), url.QueryEscape(c.clientSecret))
	raw, resp, err := c.do(req)
	if err != nil {
		return "", err
	}
	var b struct {
		AccessToken string `json:"access_token"`
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	_ = json.Unmarshal(raw, &b)
	switch {
	case resp.StatusCode == http.StatusOK && b.AccessToken != "":
		return b.AccessToken, nil
	case b.Error == "invalid_client" || resp.StatusCode == http.StatusUnauthorized:
		return "", ErrBadCredentials
	case b.Error == "unauthorized_client":
		return "", ErrNotAdmin
	}
	return "", fmt.Errorf("token endpoint answered %d %s: %s", resp.StatusCode, b.Error, b.Description)
}
