package op

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/url"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/guestpass/guestpass/pkg/canon"
)

// client adapts one configured client to op.Client. Clients come from the
// config and are served from memory: GetClientByClientID runs several times
// per code flow.
type client struct {
	cfg        Client
	loginURL   string // "/{tenant}/login?authRequestID="
	secretHash [32]byte
	// loopbackOnly: every http:// redirect URI is on a loopback host.
	loopbackOnly bool
}

// httpOnlyLoopback reports whether every http:// URI of uris is on a
// loopback host (127.0.0.0/8, ::1 or localhost).
// The host rule is canon.LoopbackHost, config's: the library's check is
// case-sensitive, so a client check-config let through with
// http://LocalHost/ would have been refused at /authorize.
func httpOnlyLoopback(uris []string) bool {
	for _, raw := range uris {
		u, err := url.Parse(raw)
		if err != nil {
			return false
		}
		if u.Scheme == "http" && !canon.LoopbackHost(u.Hostname()) {
			return false
		}
	}
	return true
}

func newClient(tenant string, c Client) *client {
	return &client{
		cfg:          c,
		loginURL:     "/" + tenant + "/login?authRequestID=",
		secretHash:   sha256.Sum256([]byte(c.Secret)),
		loopbackOnly: httpOnlyLoopback(c.RedirectURIs),
	}
}

// idTokenAlg is the algorithm of the client's ID tokens.
func (c *client) idTokenAlg() jose.SignatureAlgorithm { return idTokenAlg(c.cfg) }

// idTokenAlg is the algorithm of c's ID tokens: RS256 when configured,
// else ES256.
func idTokenAlg(c Client) jose.SignatureAlgorithm {
	if c.IDTokenSigningAlg == string(jose.RS256) {
		return jose.RS256
	}
	return jose.ES256
}

// public reports whether the client has no secret (PKCE S256 required).
func (c *client) public() bool { return c.cfg.Secret == "" }

// checkSecret compares in constant time (over hashes, so the length of the
// configured secret does not leak either).
func (c *client) checkSecret(secret string) bool {
	if c.public() {
		return false
	}
	h := sha256.Sum256([]byte(secret))
	return subtle.ConstantTimeCompare(h[:], c.secretHash[:]) == 1
}

// authenticates reports whether secret authenticates the client: the
// configured secret for a confidential client; none at all for a public
// one (presenting a secret is then an error of the caller, not a method
// we would silently skip).
func (c *client) authenticates(secret string) bool {
	if c.public() {
		return secret == ""
	}
	return c.checkSecret(secret)
}

func (c *client) GetID() string                    { return c.cfg.ID }
func (c *client) RedirectURIs() []string           { return c.cfg.RedirectURIs }
func (c *client) PostLogoutRedirectURIs() []string { return c.cfg.PostLogoutRedirectURIs }
func (c *client) ApplicationType() op.ApplicationType {
	if c.public() {
		return op.ApplicationTypeUserAgent
	}
	return op.ApplicationTypeWeb
}
func (c *client) AuthMethod() oidc.AuthMethod {
	if c.public() {
		return oidc.AuthMethodNone
	}
	return oidc.AuthMethodBasic
}
func (c *client) ResponseTypes() []oidc.ResponseType {
	return []oidc.ResponseType{oidc.ResponseTypeCode}
}
func (c *client) GrantTypes() []oidc.GrantType {
	g := []oidc.GrantType{oidc.GrantTypeCode, oidc.GrantTypeRefreshToken}
	if c.cfg.Admin {
		g = append(g, oidc.GrantTypeClientCredentials)
	}
	return g
}
func (c *client) LoginURL(id string) string { return c.loginURL + id }

// AccessTokenType is JWT for every client: the token is checked against
// the issuer and keys of the tenant it is presented to, so a token of one
// tenant is worthless at another even before the store is consulted.
func (c *client) AccessTokenType() op.AccessTokenType { return op.AccessTokenTypeJWT }
func (c *client) IDTokenLifetime() time.Duration      { return time.Hour }

// DevMode is what lets the library accept an http redirect URI of a
// public (user-agent) client; otherwise it relaxes nothing (the URI must
// still be registered exactly). It is on only for a public client whose
// http redirect URIs are all loopback (RFC 8252 §7.3, RFC 9700 §2.6): a
// SPA under development on 127.0.0.1, never plain http over a network.
func (c *client) DevMode() bool { return c.public() && c.loopbackOnly }
func (c *client) RestrictAdditionalIdTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}
func (c *client) RestrictAdditionalAccessTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}
func (c *client) IsScopeAllowed(scope string) bool { return false }

// IDTokenUserinfoClaimsAssertion puts email and name in the ID token even
// when an access token is issued too (PRODUCT.md B6 lists them as claims).
func (c *client) IDTokenUserinfoClaimsAssertion() bool { return true }
func (c *client) ClockSkew() time.Duration             { return 0 }
