// Package policy keeps a tenant's run-time policy (PRODUCT.md B5): the
// admin's overrides of what the YAML sets, today whether email passcodes
// are on. Overrides live without TTL in the shared store and are read on
// every use — no in-process cache — so a change made through any replica
// takes effect on all of them at once.
package policy

import (
	"context"
	"errors"
	"fmt"

	"github.com/guestpass/guestpass/pkg/store"
)

// Policies reads and writes the overrides.
type Policies struct {
	st store.Store
}

// New builds Policies on st.
func New(st store.Store) *Policies { return &Policies{st: st} }

func policyKey(tenant string) string { return store.Key(tenant, "policy") }

const fieldEmailOTP = "emailOTP.enabled"

// The stored values of a switch.
const (
	valueOn  = "on"
	valueOff = "off"
)

// errInvalid is returned for arguments no caller should pass.
var errInvalid = errors.New("policy: invalid argument")

// Switch names where a script finds an on/off policy: the field Field of
// the hash at Key holds "on" or "off"; absent, Default applies. A script
// that must only write while the policy is on (the passcode issue) reads
// it in the same atomic step, so nothing is written while it is off.
type Switch struct {
	Key, Field string
	Default    bool
}

// EmailOTPSwitch is the passcode switch of tenant, whose YAML says dflt.
func EmailOTPSwitch(tenant string, dflt bool) Switch {
	return Switch{Key: policyKey(tenant), Field: fieldEmailOTP, Default: dflt}
}

// ReadEmailOTP is EmailOTPEnabled as a read of a batch.
func (p *Policies) ReadEmailOTP(tenant string, dflt bool) *store.Read[bool] {
	return store.NewRead(store.HGetOp(policyKey(tenant), fieldEmailOTP), func(op *store.Op) (bool, error) {
		return emailOTP(tenant, dflt, op.Val, op.Err)
	})
}

// EmailOTPEnabled reports whether email one-time passcodes are on for
// tenant: the stored override when there is one, dflt (the YAML) otherwise.
// A store failure is returned, not papered over with the default, so the
// caller can answer 503 rather than silently switch a policy.
func (p *Policies) EmailOTPEnabled(ctx context.Context, tenant string, dflt bool) (bool, error) {
	v, err := p.st.HGet(ctx, policyKey(tenant), fieldEmailOTP)
	return emailOTP(tenant, dflt, v, err)
}

// emailOTP decodes the stored switch (v, err as HGet returned them).
func emailOTP(tenant string, dflt bool, v []byte, err error) (bool, error) {
	if errors.Is(err, store.ErrNotFound) {
		return dflt, nil
	}
	if err != nil {
		return dflt, fmt.Errorf("policy: read policy of %s: %w", tenant, err)
	}
	switch string(v) {
	case valueOn:
		return true, nil
	case valueOff:
		return false, nil
	}
	return dflt, fmt.Errorf("policy: policy of %s: unexpected stored value %q", tenant, v)
}

// EmailOTPOverride returns the stored override, if any (set == false: the
// YAML default applies). The admin API uses it to show where the value
// comes from.
func (p *Policies) EmailOTPOverride(ctx context.Context, tenant string) (enabled, set bool, err error) {
	v, err := p.st.HGet(ctx, policyKey(tenant), fieldEmailOTP)
	if errors.Is(err, store.ErrNotFound) {
		return false, false, nil
	}
	if err != nil {
		return false, false, fmt.Errorf("policy: read policy of %s: %w", tenant, err)
	}
	return string(v) == valueOn, true, nil
}

// SetEmailOTP stores an override for tenant.
func (p *Policies) SetEmailOTP(ctx context.Context, tenant string, enabled bool) error {
	if tenant == "" {
		return fmt.Errorf("%w: tenant is required", errInvalid)
	}
	v := valueOff
	if enabled {
		v = valueOn
	}
	if err := p.st.HSet(ctx, policyKey(tenant), fieldEmailOTP, []byte(v)); err != nil {
		return fmt.Errorf("policy: write policy of %s: %w", tenant, err)
	}
	return nil
}

// ClearEmailOTP removes the override; the YAML default applies again.
func (p *Policies) ClearEmailOTP(ctx context.Context, tenant string) error {
	if err := p.st.HDel(ctx, policyKey(tenant), fieldEmailOTP); err != nil {
		return fmt.Errorf("policy: clear policy of %s: %w", tenant, err)
	}
	return nil
}
