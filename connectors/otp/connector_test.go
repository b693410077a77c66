package otp

import (
	"errors"
	"testing"

	"github.com/guestpass/guestpass/connectors"
	"github.com/guestpass/guestpass/pkg/policy"
	"github.com/guestpass/guestpass/pkg/store"
)

// The passcode connector is the only way the sign-in pages issue and
// verify codes: its switch and its stored code are typed reads that a
// step sends in its own batch, VerifyRead verifies from what was read
// (one round trip, the script) exactly as VerifyCode does from scratch,
// and an issue while the switch is off is ErrDisabled.
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
		code, err := issue()
		if err != nil {
			t.Fatal(err)
		}

		on, rec := c.ReadEnabled(), c.ReadCode(req)
		if err := store.Batch(ctx, e.st, on.Op(), rec.Op()); err != nil {
			t.Fatal(err)
		}
		if ok, err := on.Result(); err != nil || !ok {
			t.Fatalf("ReadEnabled = %v, %v; want on", ok, err)
		}
		read, err := rec.Result()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.VerifyRead(ctx, req, read, wrongCode(code, 1)); !errors.Is(err, ErrInvalid) {
			t.Fatalf("wrong code: %v, want ErrInvalid", err)
		}
		ident, err := c.VerifyRead(ctx, req, read, code)
		if err != nil {
			t.Fatal(err)
		}
		if ident.Email != req.Canonical || ident.UserID != req.Canonical || !ident.EmailVerified {
			t.Fatalf("identity %+v", ident)
		}
		// Used up: neither way verifies it again.
		if _, err := c.VerifyRead(ctx, req, read, code); !errors.Is(err, ErrInvalid) {
			t.Fatalf("replayed (from the read): %v, want ErrInvalid", err)
		}
		if _, err := c.VerifyCode(ctx, req, code); !errors.Is(err, ErrInvalid) {
			t.Fatalf("replayed: %v, want ErrInvalid", err)
		}

		// Off by the tenant's override: the switch reads off and an issue
		// is refused.
		if err := pol.SetEmailOTP(ctx, tenant, false); err != nil {
			t.Fatal(err)
		}
		if ok, err := c.Enabled(ctx); err != nil || ok {
			t.Fatalf("Enabled = %v, %v; want off", ok, err)
		}
		if _, err := issue(); !errors.Is(err, ErrDisabled) {
			t.Fatalf("issue while off: %v, want ErrDisabled", err)
		}
	})
}
