// Package tenant is the home-tenant connector (PRODUCT.md B2, type
// "tenant"): a guest whose address is in a verified domain of another
// tenant of the same deployment signs in at that home tenant, by whatever
// method the home tenant uses for them (its own directory, LDAP, upstream
// or passcode), and comes back.
//
// It is an upstream OpenID connector (connectors/oidc) whose upstream is
// the home tenant's issuer, {baseURL}/{home}, reached over HTTP at the
// deployment's base URL like any other provider. The client it uses at the
// home tenant is implied, not configured: the server registers it at the
// home tenant's OP with the id ClientID(guest tenant), the guest tenant's
// callback URL as its only redirect URI, and a secret derived from the
// deployment's code key, which it hands to this factory in Options.
// (Reaching the home tenant in-process instead of over HTTP is a possible
// later optimisation; HTTP keeps the home tenant an ordinary OP.)
package tenant

import (
	"errors"
	"fmt"

	"github.com/guestpass/guestpass/connectors"
	"github.com/guestpass/guestpass/connectors/oidc"
)

// Type is the connector type this package opens.
const Type = "tenant"

// ClientID is the id of the client a home tenant's OP implies for the guest
// tenant guestTenant.
func ClientID(guestTenant string) string { return "guestpass:tenant:" + guestTenant }

// Options are a tenant connector's own settings (Spec.Options).
type Options struct {
	// Home is the id of the home tenant.
	Home string
	// ClientSecret is the implied client's secret, derived by the server
	// from the deployment's code key; never configured, never logged.
	ClientSecret string
}

// Connector signs a guest in at their home tenant.
type Connector struct {
	connectors.CallbackConnector
	spec connectors.Spec
	name string
}

// New is the factory: no network I/O (discovery of the home tenant waits
// for the first sign-in, as for any upstream).
func New(s connectors.Spec, env connectors.Env) (connectors.Connector, error) {
	o, err := optionsOf(s)
	if err != nil {
		return nil, err
	}
	if env.Tenants == nil {
		return nil, errors.New("no view of the deployment's tenants to find the home tenant in")
	}
	if o.Home == s.Tenant {
		return nil, fmt.Errorf("home %q is this tenant itself", o.Home)
	}
	issuer, ok := env.Tenants.Issuer(o.Home)
	if !ok {
		return nil, fmt.Errorf("home %q is not a tenant of this deployment", o.Home)
	}
	up := s
	up.Type = oidc.TypeOIDC
	up.Options = oidc.Options{Issuer: issuer, ClientID: ClientID(s.Tenant), ClientSecret: o.ClientSecret, Scopes: oidc.DefaultScopes()}
	inner, err := oidc.New(up, env)
	if err != nil {
		return nil, err
	}
	cb, ok := inner.(connectors.CallbackConnector)
	if !ok {
		return nil, fmt.Errorf("oidc connector of type %T cannot call back", inner)
	}
	name := s.Name
	if name == "" {
		name = o.Home
	}
	return &Connector{CallbackConnector: cb, spec: s, name: name}, nil
}

func optionsOf(s connectors.Spec) (Options, error) {
	o, err := connectors.OptionsOf[Options](s)
	if err != nil {
		return o, err
	}
	if o.Home == "" {
		return o, errors.New("home is required")
	}
	if o.ClientSecret == "" {
		return o, errors.New("the implied client's secret is missing (the server derives it from the code key)")
	}
	return o, nil
}

// Name is the configured name, else the home tenant's id.
func (c *Connector) Name() string { return c.name }

// Source is "tenant:<id>".
func (c *Connector) Source() connectors.Source { return connectors.Tenant(c.spec.ID) }

var _ connectors.CallbackConnector = (*Connector)(nil)
