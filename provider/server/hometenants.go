package server

import (
	"encoding/base64"

	"github.com/guestpass/guestpass/connectors/tenant"
	"github.com/guestpass/guestpass/pkg/config"
	"github.com/guestpass/guestpass/pkg/derive"
	"github.com/guestpass/guestpass/provider/op"
)

// A tenant connector (B2, type "tenant") signs a guest in at their home
// tenant with the code flow, as a client of the home tenant's OP. That
// client is implied by the config, never written in it: one per guest
// tenant that names the home, with the guest tenant's callback URL as its
// only redirect URI and a secret derived from the code key, which both
// sides compute here and nobody configures or sees.

// impliedSecret is the secret of guest's client at home: an HMAC under the
// deployment's code key, distinct per pair, stable across restarts and
// replicas (they share the key).
func impliedSecret(codeKey []byte, home, guest string) string {
	return base64.RawURLEncoding.EncodeToString(derive.Key(codeKey, "guestpass/tenant-client/"+home+"/"+guest))
}

// impliedClients are the clients home's OP gets for the tenants whose
// tenant connectors name it as home, in config order, one per guest
// tenant. They are confidential, may use the code flow only (no
// client_credentials: not admin clients), and are not on the apps page
// (it lists configured clients only). Their name, shown on the home
// tenant's pages ("sign in to continue to Fabrikam"), is the guest
// tenant's display name.
func impliedClients(cfg *config.Config, home string) []op.Client {
	var out []op.Client
	for _, g := range cfg.Tenants {
		if !namesHome(g, home) {
			continue
		}
		out = append(out, op.Client{
			ID:           tenant.ClientID(g.ID),
			Name:         g.DisplayName,
			Secret:       impliedSecret(cfg.Secrets.Code, home, g.ID),
			RedirectURIs: []string{callbackURL(cfg.BaseURL, &g)},
		})
	}
	return out
}

// namesHome reports whether one of g's tenant connectors has home as its
// home tenant.
func namesHome(g config.Tenant, home string) bool {
	for _, cn := range g.Connectors {
		if cn.Type == tenant.Type && cn.Home == home && g.ID != home {
			return true
		}
	}
	return false
}

// callbackURL is a tenant's one redirect URI at its upstreams.
func callbackURL(baseURL string, t *config.Tenant) string {
	return t.Issuer(baseURL) + "/login/callback"
}
