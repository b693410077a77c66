package op

import (
	"time"

	"github.com/guestpass/guestpass/provider/pages"
)

// TenantSettings are what a tenant's provider is configured with. The
// server builds them from the config; this package does not read it.
type TenantSettings struct {
	ID      string // the issuer is {BaseURL}/{ID}
	Clients []Client
	// SessionLifetime bounds what a session's sign-in is worth (B4).
	SessionLifetime time.Duration
	Branding        pages.Branding // of the error and logout pages
}

// Client is one registered relying party.
type Client struct {
	ID   string
	Name string // for pages and mails; the ID when empty
	// Secret is empty for a public client (PKCE S256 required).
	Secret                 string
	RedirectURIs           []string
	PostLogoutRedirectURIs []string
	// Admin clients may use client_credentials.
	Admin bool
	// AllowedOrigins are the browser origins CORS lets call the token and
	// userinfo endpoints for this client.
	AllowedOrigins []string
	// IDTokenSigningAlg signs this client's ID tokens: "" or ES256 (the
	// tenant's EC keys), or RS256 (its RSA keys, which every tenant has).
	// Access tokens are ES256
	// for every client: only guestpass and resource servers reading our
	// JWKS verify them.
	IDTokenSigningAlg string
}
