package otp

import "github.com/guestpass/guestpass/pkg/policy"

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

// PrepareCheck builds the check of a code typed for (challenge, email),
// for a caller that sends it in its step's batch (see
// Issuer.prepareCheck); a browser with a device cookie (device: its id,
// "" for none) spends a failure budget of its own.
func (t *TenantIssuer) PrepareCheck(p Policy, on policy.Switch, challenge, email, code, device string) (*PendingCheck, error) {
	return t.i.prepareCheck(p, on, t.tenant, challenge, email, code, device)
}
