package guests

import (
	"context"
	"errors"
	"fmt"

	"github.com/guestpass/guestpass/pkg/store"
)

// Policies holds the admin overrides of per-tenant policy (B5). The YAML
// gives the default; an override is stored without TTL in the shared store
// and read on every call — no in-process cache — so a change made through
// any replica takes effect on all of them at once.
type Policies struct {
	st store.Store
}

// NewPolicies builds Policies on st.
func NewPolicies(st store.Store) *Policies { return &Policies{st: st} }

func policyKey(tenant string) string { return store.Key(tenant, "policy") }

// ReadOp is the read EmailOTPEnabled does, for store.Prefetch.
func (p *Policies) ReadOp(tenant string) *store.Op {
	return store.HGetOp(policyKey(tenant), fieldEmailOTP)
}

const fieldEmailOTP = "emailOTP.enabled"

// EmailOTPEnabled reports whether email one-time passcodes are on for
// tenant: the stored override when there is one, dflt (the YAML) otherwise.
// A store failure is returned, not papered over with the default, so the
// caller can answer 503 rather than silently switch a policy.
func (p *Policies) EmailOTPEnabled(ctx context.Context, tenant string, dflt bool) (bool, error) {
	v, err := p.st.HGet(ctx, policyKey(tenant), fieldEmailOTP)
	if errors.Is(err, store.ErrNotFound) {
		return dflt, nil
	}
	if err != nil {
		return dflt, fmt.Errorf("guests: read policy of %s: %w", tenant, err)
	}
	switch string(v) {
	case "on":
		return true, nil
	case "off":
		return false, nil
	}
	return dflt, fmt.Errorf("guests: policy of %s: unexpected stored value %q", tenant, v)
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
		return false, false, fmt.Errorf("guests: read policy of %s: %w", tenant, err)
	}
	return string(v) == "on", true, nil
}

// SetEmailOTP stores an override for tenant.
func (p *Policies) SetEmailOTP(ctx context.Context, tenant string, enabled bool) error {
	if tenant == "" {
		return fmt.Errorf("%w: tenant is required", errInvalid)
	}
	v := "off"
	if enabled {
		v = "on"
	}
	if err := p.st.HSet(ctx, policyKey(tenant), fieldEmailOTP, []byte(v)); err != nil {
		return fmt.Errorf("guests: write policy of %s: %w", tenant, err)
	}
	return nil
}

// ClearEmailOTP removes the override; the YAML default applies again.
func (p *Policies) ClearEmailOTP(ctx context.Context, tenant string) error {
	if err := p.st.HDel(ctx, policyKey(tenant), fieldEmailOTP); err != nil {
		return fmt.Errorf("guests: clear policy of %s: %w", tenant, err)
	}
	return nil
}
