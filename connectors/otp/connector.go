package otp

import (
	"context"
	"errors"

	"github.com/guestpass/guestpass/connectors"
)

// Connector is the email one-time passcode as a member of a tenant's chain
// (PRODUCT.md B2 step 4): it claims every address, so it comes last, and it
// is Toggled by the tenant's run-time policy (B5). It is the Issuer bound to
// one tenant and its policy.
type Connector struct {
	issuer  *Issuer
	tenant  string
	policy  Policy
	enabled func(context.Context) (bool, error)
}

// connectorID is the passcode's id in a chain.
const connectorID = "otp"

// NewConnector binds an issuer to a tenant and its passcode policy.
// enabled reads whether passcodes are on now (the stored override or the
// config's default).
func NewConnector(i *Issuer, tenant string, p Policy, enabled func(context.Context) (bool, error)) *Connector {
	return &Connector{issuer: i, tenant: tenant, policy: p, enabled: enabled}
}

// ID is "otp".
func (c *Connector) ID() string { return connectorID }

// Name says what the connector is in log lines; pages have their own
// words for the passcode.
func (c *Connector) Name() string { return "email one-time passcode" }

// Source is connectors.SourceOTP.
func (c *Connector) Source() connectors.Source { return connectors.SourceOTP }

// Claims every address: the passcode is the fallback.
func (c *Connector) Claims(string) bool { return true }

// Enabled reports the tenant's passcode policy.
func (c *Connector) Enabled(ctx context.Context) (bool, error) { return c.enabled(ctx) }

// Policy is the tenant's passcode policy (the pages show the code's
// validity).
func (c *Connector) Policy() Policy { return c.policy }

// PrepareCode draws a code for the request (Issuer.PrepareIssueFrom).
func (c *Connector) PrepareCode(req connectors.CodeRequest) (connectors.PendingCode, error) {
	pi, err := c.issuer.PrepareIssueFrom(c.policy, Origin{Flow: req.Flow, ClientIP: req.ClientIP, Device: req.Device}, c.tenant, req.Challenge, req.Canonical)
	if err != nil {
		return nil, err
	}
	return pi, nil
}

// VerifyCode checks a typed code (Issuer.VerifyOnDevice). The identity is
// the address itself, verified: the guest read the code from its mailbox.
func (c *Connector) VerifyCode(ctx context.Context, req connectors.CodeRequest, code string) (connectors.Identity, error) {
	if req.Canonical == "" {
		return connectors.Identity{}, errors.New("otp: the address is required")
	}
	err := c.issuer.VerifyOnDevice(ctx, c.policy, c.tenant, req.Challenge, req.Canonical, code, req.Device)
	if err != nil {
		return connectors.Identity{}, err
	}
	return connectors.Identity{UserID: req.Canonical, Email: req.Canonical, EmailVerified: true}, nil
}

var (
	_ connectors.CodeConnector = (*Connector)(nil)
	_ connectors.Toggled       = (*Connector)(nil)
)
