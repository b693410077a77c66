package server

import (
	"errors"
	"fmt"

	"github.com/guestpass/guestpass/connectors"
	"github.com/guestpass/guestpass/connectors/directory"
	"github.com/guestpass/guestpass/connectors/ldap"
	"github.com/guestpass/guestpass/connectors/oidc"
	"github.com/guestpass/guestpass/connectors/otp"
	"github.com/guestpass/guestpass/connectors/tenant"
	"github.com/guestpass/guestpass/pkg/config"
	"github.com/guestpass/guestpass/pkg/policy"
)

// The tenants' connectors are opened from the config through a registry
// (type → factory). Factories do no network I/O, so opening every tenant's
// connectors again on SIGHUP never blocks the reload on an upstream.

// Builtin is the registry of the production binary: every connector type
// this version implements. A config that names another type is refused
// rather than silently ignored (CheckConnectors).
func Builtin() *connectors.Registry {
	return connectors.NewRegistry().
		Register(directory.Type, directory.New).
		Register(oidc.TypeOIDC, oidc.New).
		Register(oidc.TypeMicrosoft, oidc.New).
		Register(oidc.TypeGoogle, oidc.New).
		Register(tenant.Type, tenant.New).
		Register(ldap.Type, ldap.New)
}

// CheckConnectors opens every configured connector of cfg with reg (nil:
// Builtin) and reports those that cannot be opened, a type this
// version does not implement above all, as a *config.Error naming the file
// and the key: check-config, serve and a reload refuse such a config
// rather than silently ignore a connector.
func CheckConnectors(cfg *config.Config, reg *connectors.Registry) error {
	opened, err := openConnectors(cfg, reg, connectors.Env{})
	for _, list := range opened {
		_ = connectors.Close(list) // nothing dialled yet; frees what a factory holds
	}
	return err
}

// openConnectors opens the configured connectors of every tenant, in
// configured order, keyed by tenant id.
// env's BaseURL and Tenants come from cfg.
func openConnectors(cfg *config.Config, reg *connectors.Registry, env connectors.Env) (map[string][]connectors.Connector, error) {
	if reg == nil {
		reg = Builtin()
	}
	env.BaseURL, env.Tenants = cfg.BaseURL, tenantsOf(cfg)
	out := make(map[string][]connectors.Connector, len(cfg.Tenants))
	var probs []config.Problem
	for i, t := range cfg.Tenants {
		for j, cn := range t.Connectors {
			k, err := reg.Open(specOf(cfg, t, cn), env)
			if err != nil {
				probs = append(probs, connectorProblem(i, j, cn, err))
				continue
			}
			out[t.ID] = append(out[t.ID], k)
		}
	}
	if len(probs) > 0 {
		return nil, &config.Error{File: configFile(cfg), Problems: probs}
	}
	return out, nil
}

// configTenants answers a connector's questions about the deployment's
// tenants from the config (connectors.Tenants).
type configTenants struct {
	base    string
	tenants map[string]*config.Tenant
}

func tenantsOf(cfg *config.Config) connectors.Tenants {
	t := configTenants{base: cfg.BaseURL, tenants: make(map[string]*config.Tenant, len(cfg.Tenants))}
	for i := range cfg.Tenants {
		t.tenants[cfg.Tenants[i].ID] = &cfg.Tenants[i]
	}
	return t
}

func (c configTenants) Issuer(id string) (string, bool) {
	t, ok := c.tenants[id]
	if !ok {
		return "", false
	}
	return t.Issuer(c.base), true
}

func (c configTenants) Domains(id string) []string {
	if t, ok := c.tenants[id]; ok {
		return t.Domains
	}
	return nil
}

// specOf is a configured connector as its factory sees it. Types that have
// settings of their own get them here, translated into their package's
// options; a tenant connector gets its implied client's secret, derived
// from cfg's code key.
func specOf(cfg *config.Config, t config.Tenant, cn config.Connector) connectors.Spec {
	s := connectors.Spec{Tenant: t.ID, Type: cn.Type, ID: cn.ID, Name: cn.Name, Domains: cn.Domains}
	switch {
	case cn.Type == directory.Type:
		s.Options = directoryOptions(cn)
	case upstreamOIDC(cn.Type):
		s.Options = oidc.Options{
			Issuer: cn.Issuer, ClientID: cn.ClientID, ClientSecret: cn.ClientSecret, Scopes: cn.Scopes,
			// Microsoft's consumer tenant sends no email_verified: its
			// addresses are the accounts' sign-in names. Only that issuer
			// is trusted so; a work tenant's email is whatever its admin
			// typed.
			AssumeVerified: cn.Type == oidc.TypeMicrosoft && cn.Issuer == config.MicrosoftIssuer,
		}
	case cn.Type == ldap.Type:
		s.Options = ldapOptions(cn.LDAPConnector)
	case cn.Type == tenant.Type:
		s.Options = tenant.Options{Home: cn.Home, ClientSecret: impliedSecret(cfg.Secrets.Code, cn.Home, t.ID)}
	}
	return s
}

// ldapOptions translates an ldap connector's keys.
func ldapOptions(l config.LDAPConnector) ldap.Options {
	o := ldap.Options{
		Host:               l.Host,
		StartTLS:           l.StartTLS,
		InsecureNoSSL:      l.InsecureNoSSL,
		InsecureSkipVerify: l.InsecureSkipVerify,
		RootCA:             l.RootCA,
		BindDN:             l.BindDN,
		BindPW:             l.BindPW,
		UserSearch: ldap.UserSearch{
			BaseDN:    l.UserSearch.BaseDN,
			Filter:    l.UserSearch.Filter,
			EmailAttr: l.UserSearch.EmailAttr,
			NameAttr:  l.UserSearch.NameAttr,
		},
		Timeout: l.Timeout,
	}
	if l.RootCAData != "" {
		o.RootCAData = []byte(l.RootCAData)
	}
	return o
}

func directoryOptions(cn config.Connector) directory.Options {
	users := make([]directory.User, len(cn.Users))
	for k, u := range cn.Users {
		users[k] = directory.User{Email: u.Email, Name: u.Name, PasswordHash: u.PasswordHash}
	}
	return directory.Options{Users: users}
}

// upstreamOIDC reports whether a connector type is an upstream OpenID
// provider (its presets included): the kinds that need a redirect URI.
func upstreamOIDC(typ string) bool {
	return typ == oidc.TypeOIDC || typ == oidc.TypeMicrosoft || typ == oidc.TypeGoogle
}

// UpstreamRedirects lists, for each tenant with upstream OpenID
// connectors, the one redirect URI to register at those upstreams
// ({baseURL}/{tenant}/login/callback), in config order.
func UpstreamRedirects(cfg *config.Config) []TenantRedirect {
	var out []TenantRedirect
	for _, t := range cfg.Tenants {
		for _, cn := range t.Connectors {
			if upstreamOIDC(cn.Type) {
				out = append(out, TenantRedirect{Tenant: t.ID, URI: callbackURL(cfg.BaseURL, &t)})
				break
			}
		}
	}
	return out
}

// TenantRedirect is a tenant's redirect URI at its upstreams.
type TenantRedirect struct{ Tenant, URI string }

func connectorProblem(i, j int, cn config.Connector, err error) config.Problem {
	key := fmt.Sprintf("tenants[%d].connectors[%d]", i, j)
	if errors.Is(err, connectors.ErrNotImplemented) {
		return config.Problem{Key: key + ".type", Message: fmt.Sprintf(
			"%v; remove this connector or comment it out until a version that has it (upstream connectors arrive with federation)", err)}
	}
	return config.Problem{Key: key, Message: fmt.Sprintf("connector %q cannot be opened: %v; fix its settings", cn.ID, err)}
}

func configFile(cfg *config.Config) string {
	if cfg.Path == "" {
		return "config"
	}
	return cfg.Path
}

// chainOf is a tenant's chain: its configured connectors in order, then
// the email passcode, which claims every address and is switched by the
// tenant's policy (the stored override, else the config's default).
func chainOf(t config.Tenant, opened []connectors.Connector, issuer *otp.Issuer, pol *policy.Policies) *connectors.Chain {
	passcode := otp.NewConnector(issuer.For(t.ID), otpPolicy(t.EmailOTP), pol, t.EmailOTP.Enabled)
	return connectors.NewChain(append(append([]connectors.Connector(nil), opened...), passcode)...)
}
