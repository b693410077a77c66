package otp

import (
	"context"
	"errors"

	"github.com/guestpass/guestpass/connectors"
	"github.com/guestpass/guestpass/pkg/policy"
	"github.com/guestpass/guestpass/pkg/store"
)

// Connector is the email one-time passcode as a member of a tenant's chain
// (PRODUCT.md B2 step 4): it claims every address, so it comes last, and it
// is Toggled by the tenant's run-time policy (B5). It is the tenant's
// TenantIssuer with its policy and its switch.
//
// Besides the CodeConnector contract it offers its reads as typed reads
// (ReadEnabled, ReadCode) so that the login steps send them in their one
// batch, and VerifyRead verifies from what was read: verify keeps its two
// round trips.
type Connector struct {
	issuer   *TenantIssuer
	policy   Policy
	policies *policy.Policies
	tenant   string
	// byDefault is the config's default of the switch (a stored override
	// wins).
	byDefault bool
}

// connectorID is the passcode's id in a chain.
const connectorID = "otp"

// NewConnector binds a tenant's issuer to its passcode policy and its
// switch: policies holds the stored override, byDefault is the config's.
func NewConnector(i *TenantIssuer, p Policy, policies *policy.Policies, byDefault bool) *Connector {
	return &Connector{issuer: i, policy: p, policies: policies, tenant: i.tenant, byDefault: byDefault}
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

// Enabled reports the tenant's passcode switch (one round trip).
func (c *Connector) Enabled(ctx context.Context) (bool, error) {
	return c.policies.EmailOTPEnabled(ctx, c.tenant, c.byDefault)
}

// ReadEnabled is Enabled as a read of a step's batch.
func (c *Connector) ReadEnabled() *store.Read[bool] {
	return c.policies.ReadEmailOTP(c.tenant, c.byDefault)
}

// Policy is the tenant's passcode policy (the pages show the code's
// validity).
func (c *Connector) Policy() Policy { return c.policy }

// PrepareCode draws a code for the request. The issue script reads the
// switch itself: while passcodes are off it counts and stores nothing and
// the result is ErrDisabled.
func (c *Connector) PrepareCode(req connectors.CodeRequest) (connectors.PendingCode, error) {
	o := Origin{Flow: req.Flow, ClientIP: req.ClientIP, Device: req.Device}
	pi, err := c.issuer.PrepareIssueFrom(c.policy, o, policy.EmailOTPSwitch(c.tenant, c.byDefault), req.Challenge, req.Canonical)
	if err != nil {
		return nil, err
	}
	return pi, nil
}

// ReadCode is the read of the request's stored code, for a step's batch
// (VerifyRead takes its result).
func (c *Connector) ReadCode(req connectors.CodeRequest) *store.Read[Code] {
	return c.issuer.ReadCode(req.Challenge, req.Canonical)
}

// VerifyCode checks a typed code: the read of the record, then the check
// (two round trips; a step that read the record in its batch uses
// VerifyRead, one).
func (c *Connector) VerifyCode(ctx context.Context, req connectors.CodeRequest, code string) (connectors.Identity, error) {
	if req.Canonical == "" {
		return connectors.Identity{}, errors.New("otp: the address is required")
	}
	if err := c.issuer.VerifyOnDevice(ctx, c.policy, req.Challenge, req.Canonical, code, req.Device); err != nil {
		return connectors.Identity{}, err
	}
	return verified(req), nil
}

// VerifyRead checks a typed code against the record a step read
// (ReadCode): one round trip, the script.
func (c *Connector) VerifyRead(ctx context.Context, req connectors.CodeRequest, rec Code, code string) (connectors.Identity, error) {
	if req.Canonical == "" {
		return connectors.Identity{}, errors.New("otp: the address is required")
	}
	if err := c.issuer.VerifyCode(ctx, c.policy, rec, req.Challenge, req.Canonical, code, req.Device); err != nil {
		return connectors.Identity{}, err
	}
	return verified(req), nil
}

// verified is the identity a right code proves: the address itself,
// verified (the guest read the code from its mailbox).
func verified(req connectors.CodeRequest) connectors.Identity {
	return connectors.Identity{UserID: req.Canonical, Email: req.Canonical, EmailVerified: true}
}

var (
	_ connectors.CodeConnector = (*Connector)(nil)
	_ connectors.BatchToggled  = (*Connector)(nil)
)
