package config

import (
	"fmt"
	"time"
)

// Defaults for keys that are absent from the file. An explicit value is
// never replaced, so "maxAttempts: 0" is reported instead of silently
// becoming 5.
const (
	DefaultListen    = "127.0.0.1:8080"
	DefaultLogLevel  = "info"
	DefaultLogFormat = "console"
	DefaultStoreType = "memory"
	DefaultKeyPrefix = "guestpass:"
	DefaultSMTPTLS   = "none"
	DefaultSMTPPool  = 4
	// DefaultMailQueuePerTenant is a few minutes of a busy tenant's codes.
	DefaultMailQueuePerTenant = 1024
	DefaultAccentColor        = "#0b5cad"

	// MicrosoftIssuer is the issuer of Microsoft consumer accounts (the
	// "consumers" tenant of the Microsoft identity platform).
	MicrosoftIssuer = "https://login.microsoftonline.com/9188040d-6c67-4c5b-b112-36a304b66dad/v2.0"
	GoogleIssuer    = "https://accounts.google.com"
)

// MicrosoftDomains are the consumer-account domains the microsoft preset
// claims: the four global ones and the country variants Microsoft has
// long handed out for consumer accounts (an admin lists others in
// domains). A function, not a variable, so callers cannot change the
// preset.
func MicrosoftDomains() []string {
	return []string{
		"outlook.com", "hotmail.com", "live.com", "msn.com",
		"hotmail.co.uk", "hotmail.fr", "hotmail.de", "hotmail.it", "hotmail.es",
		"live.co.uk", "live.fr", "live.de", "live.it", "live.nl", "live.ca",
		"outlook.fr", "outlook.de", "outlook.es", "outlook.it",
	}
}

// GoogleDomains are the only domains a google connector may claim.
func GoogleDomains() []string { return []string{"gmail.com", "googlemail.com"} }

// DefaultEmailOTP is the passcode policy of a tenant that sets nothing
// (PRODUCT.md B3). Handy for configs built in tests.
func DefaultEmailOTP() EmailOTP {
	return EmailOTP{
		Enabled:            true,
		CodeTTL:            30 * time.Minute,
		MaxAttempts:        5,
		ResendCooldown:     60 * time.Second,
		MaxCodesPerHour:    10,
		MaxFailuresPerHour: 20,
		AbuseLimits:        DefaultAbuseLimits(),
	}
}

// DefaultInvitationTTL is how long a redeem link is valid when the tenant
// sets nothing: 30 days, as the seed's invitations.
const DefaultInvitationTTL = 30 * 24 * time.Hour

// DefaultSession is the session policy of a tenant that sets nothing.
func DefaultSession() Session { return Session{Lifetime: 24 * time.Hour} }

// ImpliedClientPrefix starts the ids of the clients a home tenant's OP
// implies for the tenants that send it their guests' sign-ins
// ("guestpass:tenant:fabrikam"); configured client ids may not use it.
const ImpliedClientPrefix = "guestpass:"

func defaultConnectorName(typ string) string {
	switch typ {
	case "directory":
		return "Organisation account"
	case "microsoft":
		return "Microsoft account"
	case "google":
		return "Google"
	case "oidc":
		return "Single sign-on"
	case "ldap":
		return "Organisation account"
	}
	return typ
}

// applyDefaults fills absent keys. Strings also default when empty, so
// "listen: ${LISTEN}" with LISTEN unset falls back to the default.
func (v *validator) applyDefaults(c *Config) {
	has := func(k string) bool { return v.tree.present[k] }
	if c.Listen == "" {
		c.Listen = DefaultListen
	}
	if !has("authorizePerIPPerMinute") {
		c.AuthorizePerIPPerMinute = DefaultAuthorizePerIPPerMinute
	}
	if c.Log.Level == "" {
		c.Log.Level = DefaultLogLevel
	}
	if c.Log.Format == "" {
		c.Log.Format = DefaultLogFormat
	}
	if c.Store.Type == "" {
		c.Store.Type = DefaultStoreType
	}
	if !has("store.redis.keyPrefix") {
		c.Store.Redis.KeyPrefix = DefaultKeyPrefix
	}
	if c.Mail.Driver == "" && c.Dev {
		c.Mail.Driver = "log"
	}
	if c.Mail.SMTP.TLS == "" {
		c.Mail.SMTP.TLS = DefaultSMTPTLS
	}
	if !has("mail.smtp.poolSize") {
		c.Mail.SMTP.PoolSize = DefaultSMTPPool
	}
	if !has("mail.queuePerTenant") {
		c.Mail.QueuePerTenant = DefaultMailQueuePerTenant
	}
	if !has("keys.rotation") {
		c.Keys.Rotation = DefaultKeyRotation
	}
	def := DefaultEmailOTP()
	for i := range c.Tenants {
		t := &c.Tenants[i]
		p := fmt.Sprintf("tenants[%d]", i)
		if t.DisplayName == "" {
			t.DisplayName = t.ID
		}
		if t.Branding.AccentColor == "" {
			t.Branding.AccentColor = DefaultAccentColor
		}
		o := p + ".emailOTP."
		if !has(o + "enabled") {
			t.EmailOTP.Enabled = def.Enabled
		}
		if !has(o + "codeTTL") {
			t.EmailOTP.CodeTTL = def.CodeTTL
		}
		if !has(o + "maxAttempts") {
			t.EmailOTP.MaxAttempts = def.MaxAttempts
		}
		if !has(o + "resendCooldown") {
			t.EmailOTP.ResendCooldown = def.ResendCooldown
		}
		if !has(o + "maxCodesPerHour") {
			t.EmailOTP.MaxCodesPerHour = def.MaxCodesPerHour
		}
		if !has(o + "maxFailuresPerHour") {
			t.EmailOTP.MaxFailuresPerHour = def.MaxFailuresPerHour
		}
		v.applyAbuseDefaults(&t.EmailOTP.AbuseLimits, i)
		if !has(p + ".session.lifetime") {
			t.Session = DefaultSession()
		}
		if !has(p + ".invitations.ttl") {
			t.Invitations.TTL = DefaultInvitationTTL
		}
		for j := range t.Connectors {
			cn := &t.Connectors[j]
			cp := fmt.Sprintf("%s.connectors[%d]", p, j)
			if cn.ID == "" && cn.Type == "tenant" && cn.Home != "" {
				// The guests' source reads tenant:<home> (tenant:contoso).
				cn.ID = cn.Home
			}
			if cn.ID == "" {
				cn.ID = cn.Type
			}
			if cn.Type == "tenant" {
				continue // named after the home tenant, below
			}
			if cn.Name == "" {
				cn.Name = defaultConnectorName(cn.Type)
			}
			switch cn.Type {
			case "ldap":
				v.applyLDAPDefaults(&cn.LDAPConnector, cp)
			case "microsoft":
				if cn.Issuer == "" {
					cn.Issuer = MicrosoftIssuer
				}
				if !has(cp + ".domains") {
					cn.Domains = MicrosoftDomains()
				}
			case "google":
				if cn.Issuer == "" {
					cn.Issuer = GoogleIssuer
				}
				if !has(cp + ".domains") {
					cn.Domains = GoogleDomains()
				}
			}
		}
		for j := range t.Clients {
			if t.Clients[j].Name == "" {
				t.Clients[j].Name = t.Clients[j].ID
			}
		}
	}
	// Home-tenant connectors take their name and domains from the home
	// tenant, once every tenant's own defaults are in.
	for i := range c.Tenants {
		for j := range c.Tenants[i].Connectors {
			v.homeDefaults(c, &c.Tenants[i].Connectors[j], fmt.Sprintf("tenants[%d].connectors[%d]", i, j))
		}
	}
}

// homeDefaults fills a tenant connector from its home tenant: the name its
// guests see ("Contoso"), and all of the home's verified domains unless the
// connector lists some. An unknown home is left for validation to report.
func (v *validator) homeDefaults(c *Config, cn *Connector, cp string) {
	if cn.Type != "tenant" {
		return
	}
	home := c.Tenant(cn.Home)
	if cn.Name == "" {
		cn.Name = cn.Home
		if home != nil {
			cn.Name = home.DisplayName
		}
	}
	if home != nil && !v.tree.present[cp+".domains"] {
		cn.Domains = append([]string(nil), home.Domains...)
	}
}
