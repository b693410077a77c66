package otp

import (
	"context"

	"github.com/guestpass/guestpass/pkg/policy"
	"github.com/guestpass/guestpass/pkg/store"
)

// TenantIssuer issues and verifies the codes of one tenant: an Issuer
// bound to it, so that no call lists the tenant among the challenge, the
// address, the code and the device.
type TenantIssuer struct {
	i      *Issuer
	tenant string
}

// For binds the issuer to tenant.
func (i *Issuer) For(tenant string) *TenantIssuer { return &TenantIssuer{i: i, tenant: tenant} }

// PrepareIssueFrom draws a code and builds the script that stores it, for
// a caller that sends it in its step's batch (see Issuer.prepareIssueFrom).
func (t *TenantIssuer) PrepareIssueFrom(p Policy, o Origin, on policy.Switch, challenge, email string) (*PendingIssue, error) {
	return t.i.prepareIssueFrom(p, o, on, t.tenant, challenge, email)
}

// VerifyOnDevice checks a code typed for (challenge, email) (see
// Issuer.verifyOnDevice); a browser with a device cookie (device: its id,
// "" for none) spends a failure budget of its own.
func (t *TenantIssuer) VerifyOnDevice(ctx context.Context, p Policy, challenge, email, code, device string) error {
	return t.i.verifyOnDevice(ctx, p, t.tenant, challenge, email, code, device)
}

// ReadCode is the read VerifyCode starts from, as a read of a step's batch.
func (t *TenantIssuer) ReadCode(challenge, email string) *store.Read[Code] {
	return t.i.readCode(t.tenant, challenge, email)
}

// VerifyCode is VerifyOnDevice from the record the step read (ReadCode):
// one round trip, the script.
func (t *TenantIssuer) VerifyCode(ctx context.Context, p Policy, c Code, challenge, email, code, device string) error {
	return t.i.verifyCode(ctx, p, c, t.tenant, challenge, email, code, device)
}
