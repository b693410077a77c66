package otp

import (
	"errors"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/guestpass/guestpass/pkg/policy"
	"github.com/guestpass/guestpass/pkg/store"
)

// counter reads an hourly counter; absent is 0.
func counter(t *testing.T, e env, key string) int64 {
	t.Helper()
	b, err := e.st.Get(ctx, key)
	if errors.Is(err, store.ErrNotFound) {
		return 0
	}
	if err != nil {
		t.Fatalf("read %s: %v", key, err)
	}
	n, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		t.Fatalf("counter %s = %q: %v", key, b, err)
	}
	return n
}

// issueFrom issues through the full entry point the sign-in pages use.
func issueFrom(e env, p Policy, o Origin, tenant, challenge, email string) (string, error) {
	pi, err := e.iss.For(tenant).PrepareIssueFrom(p, o, policy.EmailOTPSwitch(tenant, true), challenge, email)
	if err != nil {
		return "", err
	}
	if err := e.st.Pipeline(ctx, pi.Op()); err != nil {
		return "", err
	}
	return pi.Result()
}

// One sign-in flow may mail only MaxAddressesPerFlow distinct mailboxes,
// across its auth requests; addresses it already mailed stay usable.
func TestFlowAddressCap(t *testing.T) {
	eachBackend(t, func(t *testing.T, e env) {
		p := open()
		p.MaxAddressesPerFlow = 3
		o := Origin{Flow: "browser-1", ClientIP: "192.0.2.1"}
		for i := range 3 {
			if _, err := issueFrom(e, p, o, "fabrikam", fmt.Sprint("req-", i), fmt.Sprintf("u%d@example.com", i)); err != nil {
				t.Fatalf("address %d: %v", i, err)
			}
		}
		if _, err := issueFrom(e, p, o, "fabrikam", "req-9", "u3@example.com"); !errors.Is(err, ErrTooManyAddresses) {
			t.Fatalf("4th address in one flow = %v, want ErrTooManyAddresses", err)
		}
		// An address already mailed, also as a plus-address of it, is no new mailbox.
		for _, a := range []string{"u1@example.com", "u1+news@example.com"} {
			if _, err := issueFrom(e, p, o, "fabrikam", "req-10", a); err != nil {
				t.Fatalf("%s again in the same flow: %v", a, err)
			}
		}
		// Another flow has its own list.
		if _, err := issueFrom(e, p, Origin{Flow: "browser-2", ClientIP: "192.0.2.1"}, "fabrikam", "req-11", "u3@example.com"); err != nil {
			t.Fatalf("another flow: %v", err)
		}
	})
}

func TestClientAndTenantHourlyCaps(t *testing.T) {
	eachBackend(t, func(t *testing.T, e env) {
		p := open()
		p.MaxCodesPerIPPerHour, p.MaxCodesPerTenantPerHour = 2, 3
		a := Origin{Flow: "f-a", ClientIP: "192.0.2.1"}
		for i := range 2 {
			if _, err := issueFrom(e, p, a, "fabrikam", "c", fmt.Sprintf("a%d@example.com", i)); err != nil {
				t.Fatal(err)
			}
		}
		var le *LimitError
		_, err := issueFrom(e, p, Origin{Flow: "f-a2", ClientIP: "192.0.2.1"}, "fabrikam", "c", "a9@example.com")
		if !errors.Is(err, ErrTooManyRequests) || !errors.As(err, &le) || le.Scope != ScopeClient {
			t.Fatalf("3rd code from one client = %v, want the client cap", err)
		}
		// Another client may, until the tenant's cap.
		b := Origin{Flow: "f-b", ClientIP: "198.51.100.7"}
		if _, err := issueFrom(e, p, b, "fabrikam", "c", "b0@example.com"); err != nil {
			t.Fatalf("another client: %v", err)
		}
		_, err = issueFrom(e, p, Origin{Flow: "f-c", ClientIP: "203.0.113.9"}, "fabrikam", "c", "c0@example.com")
		if !errors.As(err, &le) || le.Scope != ScopeTenant {
			t.Fatalf("4th code of the tenant = %v, want the tenant cap", err)
		}
		// The refused requests counted nothing: neither the client's nor
		// the tenant's codes, nor the refused addresses' codes, cooldowns
		// or flows.
		const tenant = "fabrikam"
		for key, want := range map[string]int64{
			e.iss.clientKey(tenant, "192.0.2.1"):   2,
			e.iss.clientKey(tenant, "203.0.113.9"): 0,
			store.Key(tenant, "otp", "tenant"):     3,
		} {
			if got := counter(t, e, key); got != want {
				t.Errorf("%s = %d after refused requests, want %d", key, got, want)
			}
		}
		for _, refused := range []struct{ flow, email string }{{"f-a2", "a9@example.com"}, {"f-c", "c0@example.com"}} {
			cool, sent := e.iss.addressKeys(tenant, e.iss.addrID(tenant, refused.email), refused.email, "")
			for _, key := range []string{cool, sent, e.iss.flowKey(tenant, refused.flow)} {
				if _, err := e.st.Get(ctx, key); !errors.Is(err, store.ErrNotFound) {
					t.Errorf("refused request for %s left %s (%v)", refused.email, key, err)
				}
			}
		}
		// Other tenants are apart.
		if _, err := issueFrom(e, p, b, "contoso", "c", "a9@example.com"); err != nil {
			t.Fatalf("other tenant: %v", err)
		}
		if e.storeFollowsClock {
			e.clock.Advance(time.Hour + time.Second)
			if _, err := issueFrom(e, p, a, "fabrikam", "c", "a9@example.com"); err != nil {
				t.Fatalf("after the hour: %v", err)
			}
		}
	})
}

// A refusal by a cap beyond the address neither counts against the
// address nor starts its cooldown.
func TestRefusedIssueCostsNothing(t *testing.T) {
	eachBackend(t, func(t *testing.T, e env) {
		p := open()
		p.MaxCodesPerHour, p.ResendCooldown, p.MaxCodesPerIPPerHour = 1, time.Minute, 1
		if _, err := issueFrom(e, p, Origin{Flow: "f", ClientIP: "192.0.2.1"}, "fabrikam", "c", "x@example.com"); err != nil {
			t.Fatal(err)
		}
		if _, err := issueFrom(e, p, Origin{Flow: "f", ClientIP: "192.0.2.1"}, "fabrikam", "c", "ada@example.com"); !errors.Is(err, ErrTooManyRequests) {
			t.Fatalf("over the client cap = %v", err)
		}
		if _, err := issueFrom(e, p, Origin{Flow: "g", ClientIP: "192.0.2.2"}, "fabrikam", "c", "ada@example.com"); err != nil {
			t.Fatalf("ada's first code after a refused request: %v", err)
		}
	})
}

// Plus-addresses reach the base mailbox, so every limit counts them as it:
// cooldown, hourly cap and failure budget. The code stays bound to the
// address it was issued for.
func TestPlusAddressesCountAsBaseMailbox(t *testing.T) {
	eachBackend(t, func(t *testing.T, e env) {
		p := open()
		p.MaxCodesPerHour = 2
		const tenant = "fabrikam"
		mustIssue(t, e, p, tenant, "f1", "ada+1@example.com")
		code := mustIssue(t, e, p, tenant, "f2", "ada+2@example.com")
		if _, err := e.iss.For(tenant).Issue(ctx, p, "f3", "ada@example.com"); !errors.Is(err, ErrTooManyCodes) {
			t.Fatalf("3rd code to one mailbox via plus-addresses = %v, want ErrTooManyCodes", err)
		}
		if err := e.iss.For(tenant).Verify(ctx, p, "f2", "ada@example.com", code); !errors.Is(err, ErrInvalid) {
			t.Fatalf("code of ada+2 accepted for ada: %v", err)
		}
		p.ResendCooldown = time.Minute
		mustIssue(t, e, p, tenant, "f1", "bob@example.com")
		if _, err := e.iss.For(tenant).Issue(ctx, p, "f1", "bob+x@example.com"); !errors.Is(err, ErrCooldown) {
			t.Fatalf("plus-address during the base's cooldown = %v, want ErrCooldown", err)
		}
		// Failures on a plus-address spend the base mailbox's budget.
		p = open()
		p.MaxFailuresPerHour = 5
		c := mustIssue(t, e, p, tenant, "g1", "cy+a@example.com")
		for i := range 5 {
			_ = e.iss.For(tenant).Verify(ctx, p, "g1", "cy+a@example.com", wrongCode(c, i))
		}
		c = mustIssue(t, e, p, tenant, "g2", "cy@example.com")
		if err := e.iss.For(tenant).Verify(ctx, p, "g2", "cy@example.com", c); !errors.Is(err, ErrLocked) {
			t.Fatalf("base mailbox after its plus-address spent the budget = %v, want ErrLocked", err)
		}
	})
}

func TestBaseMailbox(t *testing.T) {
	for in, want := range map[string]string{
		"user+tag@x.example":  "user@x.example",
		"user+a+b@x.example":  "user@x.example",
		"user@x.example":      "user@x.example",
		"+tag@x.example":      "+tag@x.example", // no base to fall back to
		"us.er+t@x+y.example": "us.er@x+y.example",
		"not-an-address+tag":  "not-an-address+tag",
	} {
		if got := baseMailbox(in); got != want {
			t.Errorf("baseMailbox(%q) = %q, want %q", in, got, want)
		}
	}
}

// A browser with a device cookie spends its own failure budget: a
// stranger who locked the address does not lock it out, and its own
// failures are limited too.
func TestDeviceHasItsOwnFailureBudget(t *testing.T) {
	eachBackend(t, func(t *testing.T, e env) {
		p := open() // 5 per code, 20 per address
		const tenant, email = "fabrikam", "ada@example.com"
		for f := range 4 { // the stranger: 4 codes × 5 wrong tries
			flow := fmt.Sprint("stranger-", f)
			code := mustIssue(t, e, p, tenant, flow, email)
			for i := range p.MaxAttempts {
				_ = e.iss.For(tenant).Verify(ctx, p, flow, email, wrongCode(code, i))
			}
		}
		code := mustIssue(t, e, p, tenant, "stranger-5", email)
		if err := e.iss.For(tenant).Verify(ctx, p, "stranger-5", email, code); !errors.Is(err, ErrLocked) {
			t.Fatalf("the address is not locked: %v", err)
		}
		// Ada's own browser, with its device cookie, gets in.
		code = mustIssue(t, e, p, tenant, "ada-flow", email)
		if err := e.iss.For(tenant).VerifyOnDevice(ctx, p, "ada-flow", email, wrongCode(code, 1), "device-1"); !errors.Is(err, ErrInvalid) {
			t.Fatalf("a typo on the device = %v, want ErrInvalid", err)
		}
		if err := e.iss.For(tenant).VerifyOnDevice(ctx, p, "ada-flow", email, code, "device-1"); err != nil {
			t.Fatalf("the device browser is locked out by a stranger: %v", err)
		}
		// The device's own failures are limited: 20 per hour, then locked.
		locked := false
		for c := 0; c < 6 && !locked; c++ {
			flow := fmt.Sprint("ada-", c)
			code := mustIssue(t, e, p, tenant, flow, email)
			for i := range p.MaxAttempts {
				if err := e.iss.For(tenant).VerifyOnDevice(ctx, p, flow, email, wrongCode(code, i), "device-1"); errors.Is(err, ErrLocked) {
					locked = true
					break
				}
			}
		}
		if !locked {
			t.Fatal("a device's failures are not limited")
		}
		// Another device of the same address has a budget of its own.
		code = mustIssue(t, e, p, tenant, "other", email)
		if err := e.iss.For(tenant).VerifyOnDevice(ctx, p, "other", email, code, "device-2"); err != nil {
			t.Fatalf("a second device: %v", err)
		}
	})
}

// A browser with a device cookie for the address has a cooldown and an
// hourly count of codes of its own: a stranger who spends the address's
// cannot keep it from getting a code. Its own are limited as the
// address's are, and the caps per client IP and per tenant apply to it
// as to anyone.
func TestDeviceHasItsOwnSendBudget(t *testing.T) {
	eachBackend(t, func(t *testing.T, e env) {
		const tenant, email = "fabrikam", "ada@example.com"
		stranger := Origin{Flow: "stranger", ClientIP: "203.0.113.66"}
		device := Origin{Flow: "ada", ClientIP: "192.0.2.1", Device: "device-1"}

		// The cooldown: the stranger's code starts the address's.
		p := open()
		p.ResendCooldown = time.Minute
		if _, err := issueFrom(e, p, stranger, tenant, "s1", email); err != nil {
			t.Fatal(err)
		}
		if _, err := issueFrom(e, p, stranger, tenant, "s2", email); !errors.Is(err, ErrCooldown) {
			t.Fatalf("the stranger at once again = %v, want ErrCooldown", err)
		}
		if _, err := issueFrom(e, p, device, tenant, "d1", email); err != nil {
			t.Fatalf("the device during the address's cooldown: %v", err)
		}
		if _, err := issueFrom(e, p, device, tenant, "d2", email); !errors.Is(err, ErrCooldown) {
			t.Fatalf("the device at once again = %v, want its own ErrCooldown", err)
		}

		// The hourly count, on another mailbox.
		const bob = "bob@example.com"
		p = open()
		p.MaxCodesPerHour = 2
		for i := range 2 {
			if _, err := issueFrom(e, p, stranger, tenant, fmt.Sprint("s-", i), bob); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := issueFrom(e, p, stranger, tenant, "s-2", bob); !errors.Is(err, ErrTooManyCodes) {
			t.Fatalf("3rd code of the address = %v, want ErrTooManyCodes", err)
		}
		for i := range 2 {
			if _, err := issueFrom(e, p, device, tenant, fmt.Sprint("d-", i), bob); err != nil {
				t.Fatalf("device code %d after the stranger spent the address's: %v", i, err)
			}
		}
		if _, err := issueFrom(e, p, device, tenant, "d-2", bob); !errors.Is(err, ErrTooManyCodes) {
			t.Fatalf("the device's 3rd code = %v, want its own ErrTooManyCodes", err)
		}
		other := Origin{Flow: "ada-2", ClientIP: "192.0.2.1", Device: "device-2"}
		if _, err := issueFrom(e, p, other, tenant, "o-0", bob); err != nil {
			t.Fatalf("another device: %v", err)
		}

		// The client's and the tenant's caps hold for a device too (7
		// codes of the tenant so far, 4 from the device's client).
		var le *LimitError
		p.MaxCodesPerIPPerHour = 4
		late := Origin{Flow: "ada-3", ClientIP: "192.0.2.1", Device: "device-3"}
		if _, err := issueFrom(e, p, late, tenant, "l-0", bob); !errors.As(err, &le) || le.Scope != ScopeClient {
			t.Fatalf("a device over its client's cap = %v, want the client cap", err)
		}
		p.MaxCodesPerIPPerHour, p.MaxCodesPerTenantPerHour = 100, 7
		if _, err := issueFrom(e, p, late, tenant, "l-1", bob); !errors.As(err, &le) || le.Scope != ScopeTenant {
			t.Fatalf("a device over the tenant's cap = %v, want the tenant cap", err)
		}
	})
}

// Every counter and list of the limits expires within the hour: nothing
// of them stays in the store for good (on Redis: PTTL).
func TestLimitKeysExpire(t *testing.T) {
	eachBackend(t, func(t *testing.T, e env) {
		const tenant, email = "fabrikam", "ada@example.com"
		p := open()
		p.ResendCooldown = time.Minute
		o := Origin{Flow: "flow-1", ClientIP: "192.0.2.1", Device: "device-1"}
		code, err := issueFrom(e, p, o, tenant, "c", email)
		if err != nil {
			t.Fatal(err)
		}
		_ = e.iss.For(tenant).VerifyOnDevice(ctx, p, "c", email, wrongCode(code, 0), o.Device)
		dcool, dsent := e.iss.addressKeys(tenant, e.iss.addrID(tenant, email), email, o.Device)
		for name, key := range map[string]string{
			"flow": e.iss.flowKey(tenant, o.Flow), "ip": e.iss.clientKey(tenant, o.ClientIP),
			"tenant": store.Key(tenant, "otp", "tenant"), "device failures": e.iss.failKey(tenant, email, o.Device),
			"device cooldown": dcool, "device codes": dsent,
		} {
			ttl, err := e.st.TTL(ctx, key)
			if err != nil || ttl <= 0 || ttl > time.Hour {
				t.Errorf("%s key %s: TTL %v (%v), want within (0, 1h]", name, key, ttl, err)
			}
		}
	})
}
