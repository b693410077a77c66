package policy_test

import (
	"context"
	"testing"

	"github.com/guestpass/guestpass/pkg/policy"
	"github.com/guestpass/guestpass/pkg/store"
	"github.com/guestpass/guestpass/pkg/store/backendtest"
	"github.com/guestpass/guestpass/pkg/store/storetest"
)

// backends runs this package's tests on memory and on the one Redis
// they share.
var backends backendtest.Shared

func TestMain(m *testing.M) { backends.Main(m) }

func TestPolicyOverride(t *testing.T) {
	backends.Each(t, func(t *testing.T, st store.Store, _ *storetest.Clock) {
		ctx := context.Background()
		// Two replicas sharing one store.
		p1, p2 := policy.New(st), policy.New(st)
		check := func(p *policy.Policies, tenant string, dflt, want bool) {
			t.Helper()
			got, err := p.EmailOTPEnabled(ctx, tenant, dflt)
			if err != nil || got != want {
				t.Fatalf("EmailOTPEnabled(%s, default %v) = %v, %v; want %v", tenant, dflt, got, err, want)
			}
		}
		// No override: the YAML default.
		check(p1, "fabrikam", true, true)
		check(p1, "fabrikam", false, false)

		// Off through one replica: the other sees it at once, whatever its default.
		if err := p1.SetEmailOTP(ctx, "fabrikam", false); err != nil {
			t.Fatal(err)
		}
		check(p2, "fabrikam", true, false)
		check(p2, "fabrikam", false, false)
		if on, set, err := p2.EmailOTPOverride(ctx, "fabrikam"); err != nil || !set || on {
			t.Fatalf("EmailOTPOverride = %v %v %v", on, set, err)
		}
		// Other tenants are untouched.
		check(p2, "contoso", true, true)

		// Back on.
		if err := p2.SetEmailOTP(ctx, "fabrikam", true); err != nil {
			t.Fatal(err)
		}
		check(p1, "fabrikam", false, true)

		// Cleared: the default again.
		if err := p1.ClearEmailOTP(ctx, "fabrikam"); err != nil {
			t.Fatal(err)
		}
		check(p2, "fabrikam", false, false)
		if _, set, err := p2.EmailOTPOverride(ctx, "fabrikam"); err != nil || set {
			t.Fatalf("override still set after Clear: %v %v", set, err)
		}
		// Clearing twice is fine.
		if err := p1.ClearEmailOTP(ctx, "fabrikam"); err != nil {
			t.Fatal(err)
		}
	})
}
