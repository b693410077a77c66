package server

import (
	"errors"
	"fmt"

	"github.com/guestpass/guestpass/connectors"
	"github.com/guestpass/guestpass/connectors/otp"
	"github.com/guestpass/guestpass/pkg/config"
	"github.com/guestpass/guestpass/pkg/policy"
)

// The tenants' connectors are opened from the config through a registry
// (type → factory). Factories do no network I/O, so opening every tenant's
// connectors again on SIGHUP never blocks the reload on an upstream.

// CheckConnectors opens every configured connector of cfg with reg (nil:
// connectors.Builtin) and reports those that cannot be opened, a type this
// version does not implement above all, as a *config.Error naming the file
// and the key: check-config, serve and a reload refuse such a config
// rather than silently ignore a connector.
func CheckConnectors(cfg *config.Config, reg *connectors.Registry) error {
	_, err := openConnectors(cfg, reg)
	return err
}

// openConnectors opens the configured connectors of every tenant, in
// configured order, keyed by tenant id.
func openConnectors(cfg *config.Config, reg *connectors.Registry) (map[string][]connectors.Connector, error) {
	if reg == nil {
		reg = connectors.Builtin()
	}
	out := make(map[string][]connectors.Connector, len(cfg.Tenants))
	var probs []config.Problem
	for i, t := range cfg.Tenants {
		for j, cn := range t.Connectors {
			k, err := reg.Open(specOf(t, cn))
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

// specOf is a configured connector as its factory sees it. Types that have
// settings of their own get them here, translated into their package's
// options (none of this version's types has any yet).
func specOf(t config.Tenant, cn config.Connector) connectors.Spec {
	return connectors.Spec{Tenant: t.ID, Type: cn.Type, ID: cn.ID, Name: cn.Name, Domains: cn.Domains}
}

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
