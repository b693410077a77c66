// Package adminclient calls a tenant's admin API (PRODUCT.md B5, "Admin
// API contract") with an access token it gets through client_credentials
// at the tenant's token endpoint. It is the CLI's transport; it defines the
// contract's JSON types itself because pkg/ must not import provider/.
package adminclient

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/guestpass/guestpass/pkg/canon"
)

// DefaultTimeout bounds every HTTP call: a hung server must not hang a
// script that runs the CLI.
const DefaultTimeout = 15 * time.Second

// maxBody caps what the client reads of any answer.
const maxBody = 4 << 20

// Guest is the contract's Guest; times are RFC 3339, empty when unset.
type Guest struct {
	ID           string `json:"id"`
	Email        string `json:"email"`
	DisplayName  string `json:"displayName,omitempty"`
	State        string `json:"state"`
	Source       string `json:"source,omitempty"`
	InvitedAt    string `json:"invitedAt,omitempty"`
	RedeemedAt   string `json:"redeemedAt,omitempty"`
	LastSignInAt string `json:"lastSignInAt,omitempty"`
}

// Invitation is the answer to an invitation.
type Invitation struct {
	Guest     Guest  `json:"guest"`
	RedeemURL string `json:"redeemURL"`
	// Reinvited is true when the guest existed already (200, same id).
	Reinvited bool `json:"-"`
}

// InviteRequest is the body of POST /invitations.
type InviteRequest struct {
	Email       string `json:"email"`
	DisplayName string `json:"displayName,omitempty"`
	RedirectURL string `json:"redirectURL,omitempty"`
	SendMail    bool   `json:"sendMail"`
}

// GuestPage is one page of GET /guests.
type GuestPage struct {
	Guests        []Guest `json:"guests"`
	NextPageToken string  `json:"nextPageToken"`
}

// Policy is the answer of /policy.
type Policy struct {
	EmailOTP struct {
		Enabled bool   `json:"enabled"`
		From    string `json:"from"`
	} `json:"emailOTP"`
}

// Filter narrows a guest listing; empty fields do not filter.
type Filter struct {
	Source, State string
	PageSize      int
	PageToken     string
}

// Client is one tenant's admin API, as one admin client.
type Client struct {
	issuer       string
	clientID     string
	clientSecret string
	http         *http.Client
	token        string
}

// New returns a client of the tenant whose issuer URL is issuer. hc nil
// means a client with DefaultTimeout.
func New(issuer, clientID, clientSecret string, hc *http.Client) (*Client, error) {
	u, err := url.Parse(issuer)
	// An issuer is scheme, host and path: a query or fragment would end
	// up in the middle of every endpoint's URL.
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("%q is not an http(s) URL of a tenant issuer (e.g. http://localhost:8080/demo)", issuer)
	}
	if u.Scheme == "http" && !canon.LoopbackHost(u.Hostname()) {
		// The client secret goes out in every token request: over plain
		// http only to this machine (a dev server), never across a network.
		return nil, fmt.Errorf("%q: plain http is allowed only for localhost; use https", issuer)
	}
	if hc == nil {
		hc = &http.Client{Timeout: DefaultTimeout}
	}
	return &Client{issuer: strings.TrimRight(issuer, "/"), clientID: clientID, clientSecret: clientSecret, http: hc}, nil
}

// origin is scheme://host:port with the scheme's default port made
// explicit, so that "https://x" and "https://x:443" compare equal.
func origin(u *url.URL) string {
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[strings.ToLower(u.Scheme)]
	}
	return strings.ToLower(u.Scheme) + "://" + strings.ToLower(net.JoinHostPort(u.Hostname(), port))
}

// Invite invites an address (or re-invites it: same guest, new link).
func (c *Client) Invite(ctx context.Context, req InviteRequest) (*Invitation, []byte, error) {
	var inv Invitation
	raw, status, err := c.call(ctx, http.MethodPost, "/invitations", req, &inv)
	if err != nil {
		return nil, nil, err
	}
	inv.Reinvited = status == http.StatusOK
	return &inv, raw, nil
}

// List returns one page of guests.
func (c *Client) List(ctx context.Context, f Filter) (*GuestPage, []byte, error) {
	q := url.Values{}
	set := func(k, v string) {
		if v != "" {
			q.Set(k, v)
		}
	}
	set("source", f.Source)
	set("state", f.State)
	set("pageToken", f.PageToken)
	if f.PageSize > 0 {
		q.Set("pageSize", fmt.Sprint(f.PageSize))
	}
	path := "/guests"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	var p GuestPage
	raw, _, err := c.call(ctx, http.MethodGet, path, nil, &p)
	if err != nil {
		return nil, nil, err
	}
	return &p, raw, nil
}

// Get returns one guest.
func (c *Client) Get(ctx context.Context, id string) (*Guest, []byte, error) {
	var g Guest
	raw, _, err := c.call(ctx, http.MethodGet, "/guests/"+url.PathEscape(id), nil, &g)
	if err != nil {
		return nil, nil, err
	}
	return &g, raw, nil
}

// Delete deletes one guest.
func (c *Client) Delete(ctx context.Context, id string) error {
	_, _, err := c.call(ctx, http.MethodDelete, "/guests/"+url.PathEscape(id), nil, nil)
	return err
}

// Reset resets a guest's redemption (the next sign-in picks its source anew).
func (c *Client) Reset(ctx context.Context, id string) (*Guest, []byte, error) {
	var g Guest
	raw, _, err := c.call(ctx, http.MethodPost, "/guests/"+url.PathEscape(id)+"/reset", nil, &g)
	if err != nil {
		return nil, nil, err
	}
	return &g, raw, nil
}

// Policy reads the passcode policy.
func (c *Client) Policy(ctx context.Context) (*Policy, []byte, error) {
	return c.policy(ctx, http.MethodGet, nil)
}

// SetEmailOTP stores the passcode switch for every replica.
func (c *Client) SetEmailOTP(ctx context.Context, enabled bool) (*Policy, []byte, error) {
	body := map[string]any{"emailOTP": map[string]bool{"enabled": enabled}}
	return c.policy(ctx, http.MethodPut, body)
}

// ClearPolicy returns to the config's value.
func (c *Client) ClearPolicy(ctx context.Context) (*Policy, []byte, error) {
	return c.policy(ctx, http.MethodDelete, nil)
}

func (c *Client) policy(ctx context.Context, method string, body any) (*Policy, []byte, error) {
	var p Policy
	raw, _, err := c.call(ctx, method, "/policy", body, &p)
	if err != nil {
		return nil, nil, err
	}
	return &p, raw, nil
}

// call sends one admin API request with the bearer token (fetched on first
// use), decodes a 2xx answer into out and returns its raw body, so that
// --json can print the API's JSON as it is.
func (c *Client) call(ctx context.Context, method, path string, body, out any) ([]byte, int, error) {
	if err := c.ensureToken(ctx); err != nil {
		return nil, 0, err
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, 0, fmt.Errorf("encode request: %w", err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.issuer+"/admin/v1"+path, rd)
	if err != nil {
		return nil, 0, fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	raw, resp, err := c.do(req)
	if err != nil {
		return nil, 0, err
	}
	if resp.StatusCode/100 != 2 {
		return nil, resp.StatusCode, apiError(resp, raw)
	}
	if out != nil && len(bytes.TrimSpace(raw)) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			return nil, resp.StatusCode, fmt.Errorf("%s %s: the answer is not the admin API's JSON: %w", method, req.URL.Path, err)
		}
	}
	return raw, resp.StatusCode, nil
}

// do sends req and reads its body; a transport failure is ErrUnreachable.
func (c *Client) do(req *http.Request) ([]byte, *http.Response, error) {
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, nil, &UnreachableError{URL: req.URL.Scheme + "://" + req.URL.Host, Err: err}
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return nil, nil, &UnreachableError{URL: req.URL.Scheme + "://" + req.URL.Host, Err: err}
	}
	return raw, resp, nil
}

// apiError turns a non-2xx answer into *APIError, with the contract's
// error body when there is one.
func apiError(resp *http.Response, raw []byte) error {
	var b struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	e := &APIError{Status: resp.StatusCode}
	if json.Unmarshal(raw, &b) == nil && b.Error.Code != "" {
		e.Code, e.Message = b.Error.Code, b.Error.Message
	} else {
		e.Message = http.StatusText(resp.StatusCode)
	}
	return e
}

// APIError is an admin API refusal.
type APIError struct {
	Status  int
	Code    string
	Message string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("admin API answered %d %s: %s", e.Status, e.Code, e.Message)
}

// UnreachableError: the server could not be reached (or timed out).
type UnreachableError struct {
	URL string
	Err error
}

func (e *UnreachableError) Error() string { return "cannot reach " + e.URL + ": " + e.Err.Error() }
func (e *UnreachableError) Unwrap() error { return e.Err }

// Token refusals, told apart so that the CLI can name the wrong setting.
var (
	// ErrBadCredentials: the token endpoint refused the client id or secret.
	ErrBadCredentials = errors.New("the token endpoint refused the client id or secret (invalid_client)")
	// ErrNotAdmin: the client exists but may not use client_credentials.
	ErrNotAdmin = errors.New("the client may not use client_credentials: it is not an admin client")
	// ErrNoTenant: the issuer URL serves no discovery document.
	ErrNoTenant = errors.New("no OpenID discovery document at this URL")
)
