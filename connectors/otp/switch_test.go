package otp

import (
	"errors"
	"testing"
	"time"

	"github.com/guestpass/guestpass/pkg/policy"
	"github.com/guestpass/guestpass/pkg/store"
)

// While the tenant's passcode switch is off, an issue is refused before
// anything is counted or stored: no code, no cooldown, no hourly count,
// no flow entry. It is read in the issue's own atomic step, so the send
// step can issue in the round trip that reads the guest.
func TestIssueObeysThePolicySwitch(t *testing.T) {
	eachBackend(t, func(t *testing.T, e env) {
		const tenant, flow, ada = "fabrikam", "flow", "ada@example.com"
		p := open()
		p.ResendCooldown = time.Minute
		pol := policy.New(e.st)
		issue := func(dflt bool) (string, error) {
			t.Helper()
			pi, err := e.iss.For(tenant).PrepareIssueFrom(p, Origin{Flow: flow, ClientIP: "192.0.2.1"},
				policy.EmailOTPSwitch(tenant, dflt), flow, ada)
			if err != nil {
				t.Fatal(err)
			}
			if err := e.st.Pipeline(ctx, pi.Op()); err != nil {
				t.Fatal(err)
			}
			return pi.Result()
		}
		keys := func() []string {
			cool, sent := e.iss.addressKeys(tenant, e.iss.addrID(tenant, ada), ada, "")
			return []string{cool, sent, e.iss.codeKey(tenant, flow, ada), e.iss.flowKey(tenant, flow),
				e.iss.clientKey(tenant, "192.0.2.1"), store.Key(tenant, "otp", "tenant")}
		}
		nothingStored := func(when string) {
			t.Helper()
			for _, k := range keys() {
				if _, err := e.st.Get(ctx, k); err == nil {
					t.Fatalf("%s: %s was written", when, k)
				}
			}
		}

		// Off by the YAML default, no override.
		if _, err := issue(false); !errors.Is(err, ErrDisabled) {
			t.Fatalf("default off: %v, want ErrDisabled", err)
		}
		nothingStored("default off")
		// Off by an override, whatever the YAML says.
		if err := pol.SetEmailOTP(ctx, tenant, false); err != nil {
			t.Fatal(err)
		}
		if _, err := issue(true); !errors.Is(err, ErrDisabled) {
			t.Fatalf("override off: %v, want ErrDisabled", err)
		}
		nothingStored("override off")
		// On by an override: issued, and the code verifies.
		if err := pol.SetEmailOTP(ctx, tenant, true); err != nil {
			t.Fatal(err)
		}
		code, err := issue(false)
		if err != nil {
			t.Fatalf("override on: %v", err)
		}
		if err := e.iss.For(tenant).Verify(ctx, p, flow, ada, code); err != nil {
			t.Fatalf("Verify: %v", err)
		}
	})
}
