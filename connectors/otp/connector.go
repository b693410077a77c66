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
// Besides the CodeConnector contract it offers its store work as ops that
// the login steps send in their one batch: its switch (ReadEnabled), an
// issue (PrepareCode) and a verification (PrepareVerify), each of which
// checks the switch itself.
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

// switchOf is where the scripts find the tenant's passcode switch.
func (c *Connector) switchOf() policy.Switch { return policy.EmailOTPSwitch(c.tenant, c.byDefault) }

// PrepareCode draws a code for the request. The issue script reads the
// switch itself: while passcodes are off it counts and stores nothing and
// the result is ErrDisabled.
func (c *Connector) PrepareCode(req connectors.CodeRequest) (connectors.PendingCode, error) {
	o := Origin{Flow: req.Flow, ClientIP: req.ClientIP, Device: req.Device}
	pi, err := c.issuer.PrepareIssueFrom(c.policy, o, c.switchOf(), req.Challenge, req.Canonical)
	if err != nil {
		return nil, err
	}
	return pi, nil
}

// PendingVerify is a verification of a typed code prepared as one store
// op, for a step's batch; Result is its answer once the op has run.
type PendingVerify struct {
	check *PendingCheck
	req   connectors.CodeRequest
}

// PrepareVerify builds the check of a typed code (see
// Issuer.prepareCheck) without running it. The check script reads the
// switch itself: while passcodes are off it counts and consumes nothing
// and the result is ErrDisabled. A code that is not exactly 8 ASCII
// digits is ErrInvalid here, with no store work.
func (c *Connector) PrepareVerify(req connectors.CodeRequest, code string) (*PendingVerify, error) {
	if req.Canonical == "" {
		return nil, errors.New("otp: the address is required")
	}
	pc, err := c.issuer.PrepareCheck(c.policy, c.switchOf(), req.Challenge, req.Canonical, code, req.Device)
	if err != nil {
		return nil, err
	}
	return &PendingVerify{check: pc, req: req}, nil
}

// Op is the store op to run (once).
func (v *PendingVerify) Op() *store.Op { return v.check.Op() }

// Result is the identity the code proves, or why it proves none (see
// PendingCheck.Result).
func (v *PendingVerify) Result() (connectors.Identity, error) {
	if err := v.check.Result(); err != nil {
		return connectors.Identity{}, err
	}
	return verified(v.req), nil
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
