// Package config loads, expands and validates the guestpass YAML file.
//
// The shape is the admins' interface (PRODUCT.md "Config shape"): keys are
// extended, never renamed.
package config

import "time"

// Config is the whole file.
type Config struct {
	BaseURL string   `yaml:"baseURL"`
	Listen  string   `yaml:"listen"`
	Log     Log      `yaml:"log"`
	Store   Store    `yaml:"store"`
	Secrets Secrets  `yaml:"secrets"`
	Mail    Mail     `yaml:"mail"`
	Tenants []Tenant `yaml:"tenants"`
	// Metrics is the Prometheus endpoint's own listener (off when empty).
	Metrics Metrics `yaml:"metrics"`
	// Keys is the signing keys' rotation period.
	Keys Keys `yaml:"keys"`

	// Network holds the keys about the network in front of the server
	// (trustedProxies), inlined at the top level.
	Network `yaml:",inline"`

	// TemplatesDir optionally replaces the embedded templates (B9): its
	// pages/ replaces the sign-in pages, its mail/ the mails; either may be
	// absent.
	TemplatesDir string `yaml:"templatesDir"`

	// Dev is true when the file opts into development mode (dev: true):
	// missing secrets are generated at start (and lost on restart) instead
	// of refusing to start.
	Dev bool `yaml:"dev"`

	// Path is the file the config was read from (for messages and reloads).
	Path string `yaml:"-"`

	// GeneratedSecrets is true when dev mode generated missing secrets at
	// load time: serve should log that sessions and codes will not survive
	// a restart.
	GeneratedSecrets bool `yaml:"-"`

	// Warnings are problems that do not stop the service but that an admin
	// should see (e.g. a referenced environment variable that is unset where
	// an empty value is allowed). check-config and serve log them.
	Warnings []string `yaml:"-"`

	// Lookup indexes, built once by Parse so per-request lookups are O(1).
	tenantsByID     map[string]*Tenant
	tenantsByDomain map[string]*Tenant
}

// Log selects the zap logger.
type Log struct {
	Level  string `yaml:"level"`  // debug | info | warn | error
	Format string `yaml:"format"` // console | json
}

// Store selects where state lives.
type Store struct {
	Type  string `yaml:"type"` // memory | redis
	Redis Redis  `yaml:"redis"`
}

// Redis is go-redis's universal client shape: one addr = single node,
// several = Cluster, masterName set = Sentinel.
type Redis struct {
	Addrs      []string `yaml:"addrs"`
	MasterName string   `yaml:"masterName"`
	Username   string   `yaml:"username"`
	Password   string   `yaml:"password"`
	DB         int      `yaml:"db"`
	KeyPrefix  string   `yaml:"keyPrefix"`
}

// Secrets are base64 strings in the file; the decoded bytes are filled in
// by Load.
type Secrets struct {
	CookieHashKey  string `yaml:"cookieHashKey"`
	CookieBlockKey string `yaml:"cookieBlockKey"`
	CodeKey        string `yaml:"codeKey"`

	// Decoded values (not YAML).
	CookieHash  []byte `yaml:"-"`
	CookieBlock []byte `yaml:"-"`
	Code        []byte `yaml:"-"`
}

// Mail configures outgoing mail.
type Mail struct {
	From   string `yaml:"from"`
	Driver string `yaml:"driver"` // smtp | log
	SMTP   SMTP   `yaml:"smtp"`
	// QueuePerTenant is how many mails of one tenant may wait for
	// delivery; when they are that many, a guest hears at once that the
	// code could not be sent (B8).
	QueuePerTenant int `yaml:"queuePerTenant"`
}

// SMTP is the outgoing mail server.
type SMTP struct {
	Addr     string `yaml:"addr"`
	Username string `yaml:"username"`
	Password string `yaml:"password"`
	TLS      string `yaml:"tls"` // none | starttls | tls
	PoolSize int    `yaml:"poolSize"`
}

// Tenant is one OpenID issuer at {baseURL}/{id}.
type Tenant struct {
	ID                string      `yaml:"id"`
	DisplayName       string      `yaml:"displayName"`
	Domains           []string    `yaml:"domains"`
	Branding          Branding    `yaml:"branding"`
	SelfServiceSignUp bool        `yaml:"selfServiceSignUp"`
	EmailOTP          EmailOTP    `yaml:"emailOTP"`
	Session           Session     `yaml:"session"`
	Invitations       Invitations `yaml:"invitations"`
	Connectors        []Connector `yaml:"connectors"`
	Clients           []Client    `yaml:"clients"`

	// clientsByID is built by Parse.
	clientsByID map[string]*Client
}

// Branding is shown on the tenant's pages and mails.
type Branding struct {
	LogoURL     string `yaml:"logoURL"`
	AccentColor string `yaml:"accentColor"`
}

// EmailOTP is the passcode policy of a tenant (PRODUCT.md B3, B5).
type EmailOTP struct {
	Enabled         bool          `yaml:"enabled"`
	CodeTTL         time.Duration `yaml:"codeTTL"`
	MaxAttempts     int           `yaml:"maxAttempts"`
	ResendCooldown  time.Duration `yaml:"resendCooldown"`
	MaxCodesPerHour int           `yaml:"maxCodesPerHour"`
	// MaxFailuresPerHour is the per-address failure budget across codes.
	MaxFailuresPerHour int `yaml:"maxFailuresPerHour"`
	// AbuseLimits caps mail beyond one address (B8), inlined beside the
	// keys above.
	AbuseLimits `yaml:",inline"`
}

// Session is the tenant's sign-in session policy (PRODUCT.md B4).
type Session struct {
	Lifetime time.Duration `yaml:"lifetime"`
}

// Invitations is how long a redeem link stays valid (PRODUCT.md B5).
type Invitations struct {
	TTL time.Duration `yaml:"ttl"`
}

// Connector is one upstream way to authenticate (PRODUCT.md B2). Fields
// apply per type; validation says which are required.
type Connector struct {
	Type         string          `yaml:"type"` // directory | microsoft | google | oidc | ldap | tenant
	ID           string          `yaml:"id"`
	Name         string          `yaml:"name"`
	Domains      []string        `yaml:"domains"`
	Users        []DirectoryUser `yaml:"users"`
	Issuer       string          `yaml:"issuer"`
	ClientID     string          `yaml:"clientID"`
	ClientSecret string          `yaml:"clientSecret"`
	// Scopes asked of an upstream OpenID provider; empty means
	// openid email profile.
	Scopes []string `yaml:"scopes"`
	// Home is the id of the tenant whose users a tenant connector signs
	// in (B2B between tenants of one deployment). Its domains default to
	// all of the home tenant's verified domains, its id to Home and its
	// name to the home tenant's display name.
	Home string `yaml:"home"`
	// LDAPConnector: the keys of an ldap connector (host, userSearch, ...).
	LDAPConnector `yaml:",inline"`
}

// DirectoryUser is a static organisational account.
type DirectoryUser struct {
	Email        string `yaml:"email"`
	Name         string `yaml:"name"`
	PasswordHash string `yaml:"passwordHash"`
}

// Client is a relying-party app of a tenant.
type Client struct {
	ID                     string   `yaml:"id"`
	Name                   string   `yaml:"name"`
	Secret                 string   `yaml:"secret"` // empty: public client, PKCE S256 required
	RedirectURIs           []string `yaml:"redirectURIs"`
	PostLogoutRedirectURIs []string `yaml:"postLogoutRedirectURIs"`
	HomeURL                string   `yaml:"homeURL"`
	Admin                  bool     `yaml:"admin"`
	// AllowedOrigins lists the browser origins allowed by CORS for this
	// client's token and userinfo calls. Empty: no CORS.
	AllowedOrigins []string `yaml:"allowedOrigins"`
	// IDTokenSigningAlg is the algorithm of this client's ID tokens: ES256
	// (empty: the default) or RS256, for an app whose library verifies
	// nothing else (OIDC's registration default). Access tokens stay ES256.
	IDTokenSigningAlg string `yaml:"idTokenSigningAlg"`
}
