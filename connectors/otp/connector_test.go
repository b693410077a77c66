package otp

import (
	"errors"
	"testing"

	"github.com/guestpass/guestpass/connectors"
	"github.com/guestpass/guestpass/pkg/policy"
	"github.com/guestpass/guestpass/pkg/store"
)

// The passcode connector is the only way the sign-in pages issue and
// verify codes: its switch is a typed read and its verification an op
// that a step sends in its own batch (one round trip for both), as the
// enter-code step does; an issue while the switch is off is ErrDisabled.
func TestConnectorReadsAndVerifies(t *testing.T) {
	eachBackend(t, func(t *testing.T, e env) {
		const tenant = "fabrikam"
		pol := policy.New(e.st)
		c := NewConnector(e.iss.For(tenant), open(), pol, true)
		req := connectors.CodeRequest{Canonical: "ada@example.com", Challenge: "flow|req", Flow: "flow"}

		issue := func() (string, error) {
			t.Helper()
			pc, err := c.PrepareCode(req)
			if err != nil {
				t.Fatal(err)
			}
			if err := e.st.Pipeline(ctx, pc.Op()); err != nil {
				t.Fatal(err)
			}
			return pc.Result()
		}
		// verify sends the check in one batch with the switch's read.
		verify := func(code string) (connectors.Identity, error) {
			t.Helper()
			v, err := c.PrepareVerify(req, code)
			if err != nil {
				t.Fatal(err)
			}
			on := c.ReadEnabled()
			if err := store.Batch(ctx, e.st, on.Op(), v.Op()); err != nil {
				t.Fatal(err)
			}
			if _, err := on.Result(); err != nil {
				t.Fatal(err)
			}
			return v.Result()
		}
		code, err := issue()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := verify(wrongCode(code, 1)); !errors.Is(err, ErrInvalid) {
			t.Fatalf("wrong code: %v, want ErrInvalid", err)
		}
		ident, err := verify(code)
		if err != nil {
			t.Fatal(err)
		}
		if ident.Email != req.Canonical || ident.UserID != req.Canonical || !ident.EmailVerified {
			t.Fatalf("identity %+v", ident)
		}
		// Used up: it does not verify again.
		if _, err := verify(code); !errors.Is(err, ErrInvalid) {
			t.Fatalf("replayed (in a batch): %v, want ErrInvalid", err)
		}
		// A malformed code is refused before any store work.
		if _, err := c.PrepareVerify(req, "１２３４５６７８"); !errors.Is(err, ErrInvalid) {
			t.Fatalf("malformed code: %v, want ErrInvalid", err)
		}

		// Off by the tenant's override: the switch reads off and an issue
		// is refused.
		code, err = issue()
		if err != nil {
			t.Fatal(err)
		}
		if err := pol.SetEmailOTP(ctx, tenant, false); err != nil {
			t.Fatal(err)
		}
		if ok, err := c.Enabled(ctx); err != nil || ok {
			t.Fatalf("Enabled = %v, %v; want off", ok, err)
		}
		if _, err := issue(); !errors.Is(err, ErrDisabled) {
			t.Fatalf("issue while off: %v, want ErrDisabled", err)
		}
		// A verification while off is refused before it counts or
		// consumes anything: the right code, and every try of it, are
		// still there once passcodes are back on.
		for i := range open().MaxAttempts + 1 {
			if _, err := verify(wrongCode(code, i)); !errors.Is(err, ErrDisabled) {
				t.Fatalf("verify while off: %v, want ErrDisabled", err)
			}
		}
		if _, err := verify(code); !errors.Is(err, ErrDisabled) {
			t.Fatalf("right code while off: %v, want ErrDisabled", err)
		}
		if err := pol.SetEmailOTP(ctx, tenant, true); err != nil {
			t.Fatal(err)
		}
		if _, err := verify(code); err != nil {
			t.Fatalf("right code once back on: %v", err)
		}
	})
}
