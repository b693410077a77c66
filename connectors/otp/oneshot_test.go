package otp

// The issue, verify and locked entry points of one call each: only the tests
// use them. The sign-in pages send the same work in their steps' batches
// (Connector.PrepareCode, PrepareVerify).

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/guestpass/guestpass/pkg/policy"
	"github.com/guestpass/guestpass/pkg/store"
)

// Issue makes a new code for one sign-in flow (challenge) of one address,
// replacing that flow's earlier one (see Issuer.issue).
func (t *TenantIssuer) Issue(ctx context.Context, p Policy, challenge, email string) (string, error) {
	return t.i.issue(ctx, p, t.tenant, challenge, email)
}

// Verify checks a code typed for (challenge, email); nil means success and
// the code is consumed (see Issuer.verify).
func (t *TenantIssuer) Verify(ctx context.Context, p Policy, challenge, email, code string) error {
	return t.i.verify(ctx, p, t.tenant, challenge, email, code)
}

// VerifyOnDevice is Verify for a browser with a device cookie (device: its
// id, "" for none), which spends a failure budget of its own.
func (t *TenantIssuer) VerifyOnDevice(ctx context.Context, p Policy, challenge, email, code, device string) error {
	return t.i.verifyOnDevice(ctx, p, t.tenant, challenge, email, code, device)
}

// Locked reports whether the address has spent its failure budget.
func (t *TenantIssuer) Locked(ctx context.Context, p Policy, email string) (bool, error) {
	return t.i.locked(ctx, p, t.tenant, email)
}

// issue makes a new code for one sign-in flow (challenge) of one address in
// one tenant, replacing that flow's earlier code. The address must already
// be canonical. It refuses with a *CooldownError (errors.Is ErrCooldown)
// during the resend cooldown and with ErrTooManyCodes past the hourly cap.
// Replacing a code starts a fresh per-code attempt count but leaves the
// address's failure budget alone.
//
// The requester is known only by the challenge, which stands for its flow:
// no limit per client IP applies. The sign-in pages use PrepareIssueFrom.
func (i *Issuer) issue(ctx context.Context, p Policy, tenant, challenge, email string) (string, error) {
	pi, err := i.prepareIssueFrom(p, Origin{Flow: challenge}, policy.EmailOTPSwitch(tenant, true), tenant, challenge, email)
	if err != nil {
		return "", err
	}
	// Sent as a step sends it (see sendAsStep).
	sendAsStep(ctx, i.st, pi.Op())
	return pi.Result()
}

// verify checks a code typed for (tenant, challenge, email) with no device
// cookie (see Issuer.prepareCheck and PendingCheck.Result).
func (i *Issuer) verify(ctx context.Context, p Policy, tenant, challenge, email, code string) error {
	return i.verifyOnDevice(ctx, p, tenant, challenge, email, code, "")
}

// verifyOnDevice runs a check on its own, with passcodes on by default.
func (i *Issuer) verifyOnDevice(ctx context.Context, p Policy, tenant, challenge, email, code, device string) error {
	pc, err := i.prepareCheck(p, policy.EmailOTPSwitch(tenant, true), tenant, challenge, email, code, device)
	if err != nil {
		return err
	}
	sendAsStep(ctx, i.st, pc.Op())
	return pc.Result()
}

// sendAsStep runs op the way the sign-in steps send theirs, in a batch
// (store.Batch: one Pipeline), so that the security tests built on these
// helpers cover the transport the pages use (on Redis, EVALSHA in a
// pipeline and its reading of the answer) and not a path of their own.
// The op keeps its error, which Result reads.
func sendAsStep(ctx context.Context, st store.Store, op *store.Op) {
	_ = store.Batch(ctx, st, op)
}

// locked reports whether the address has spent its failure budget, so a
// page can say so before asking for a code.
func (i *Issuer) locked(ctx context.Context, p Policy, tenant, email string) (bool, error) {
	if len(i.key) < minKeyLen {
		return false, ErrNoKey
	}
	p = p.withDefaults()
	raw, err := i.st.Get(ctx, i.failKey(tenant, email, ""))
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("otp: locked: %w", err)
	}
	n, err := strconv.ParseInt(string(raw), 10, 64)
	if err != nil {
		return false, fmt.Errorf("otp: locked: counter %q: %w", raw, err)
	}
	return n >= int64(p.MaxFailuresPerHour), nil
}
