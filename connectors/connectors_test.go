package connectors

import (
	"context"
	"errors"
	"testing"

	"github.com/guestpass/guestpass/pkg/store"
)

// fake is a connector claiming one domain, optionally Toggled.
type fake struct {
	id, domain string
	source     Source
}

func (f fake) ID() string     { return f.id }
func (f fake) Name() string   { return f.id }
func (f fake) Source() Source { return f.source }
func (f fake) Claims(canonical string) bool {
	return f.domain == "*" || DomainOf(canonical) == f.domain
}

// switched is a fake that reports its switch, like the passcode.
type switched struct {
	fake
	on  bool
	err error
}

func (s switched) Enabled(context.Context) (bool, error) { return s.on, s.err }

// TestResolve is the chain's table: address × tenant chain × the guest's
// recorded source → the method.
func TestResolve(t *testing.T) {
	a := fake{"a", "contoso.example", OIDC("a")}
	b := fake{"b", "contoso.example", Directory("b")}
	g := fake{"google", "gmail.com", SourceGoogle}
	otpOn := switched{fake: fake{"otp", "*", SourceOTP}, on: true}
	otpOff := switched{fake: fake{"otp", "*", SourceOTP}, on: false}
	on := NewChain(a, b, g, otpOn)
	off := NewChain(a, b, g, otpOff)
	bare := NewChain(a, otpOn)
	cases := []struct {
		name   string
		chain  *Chain
		addr   string
		source Source
		kind   Kind
		conn   string
	}{
		{"first claiming connector wins", on, "x@contoso.example", "", KindConnector, "a"},
		{"a preset claims its domains", on, "x@gmail.com", "", KindConnector, "google"},
		{"unclaimed address falls back to the passcode", on, "x@other.example", "", KindConnector, "otp"},
		{"passcodes off, nothing claims", off, "x@other.example", "", KindNone, ""},
		{"passcodes off do not stop a connector", off, "x@contoso.example", "", KindConnector, "a"},
		{"otp source is sticky even when a connector claims", on, "x@contoso.example", SourceOTP, KindConnector, "otp"},
		{"otp source with passcodes off: disabled", off, "x@contoso.example", SourceOTP, KindDisabled, "otp"},
		{"connector source is sticky", on, "x@other.example", Directory("b"), KindConnector, "b"},
		{"connector source is sticky with passcodes off", off, "x@other.example", OIDC("a"), KindConnector, "a"},
		{"removed connector: no fall back to the passcode", on, "x@other.example", OIDC("gone"), KindNone, ""},
		{"removed preset: no fall back", bare, "x@gmail.com", SourceGoogle, KindNone, ""},
		{"unconfigured preset's domain goes to the passcode", bare, "x@gmail.com", "", KindConnector, "otp"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m, err := tc.chain.Resolve(context.Background(), tc.addr, tc.source)
			if err != nil {
				t.Fatal(err)
			}
			if m.Kind != tc.kind {
				t.Fatalf("kind = %v, want %v", m.Kind, tc.kind)
			}
			got := ""
			if m.Connector != nil {
				got = m.Connector.ID()
			}
			if got != tc.conn {
				t.Fatalf("connector = %q, want %q", got, tc.conn)
			}
		})
	}
}

// A switch that cannot be read is an error, not a verdict: the page says
// the service is unavailable rather than "no method".
func TestResolveSwitchError(t *testing.T) {
	boom := errors.New("store down")
	c := NewChain(switched{fake: fake{"otp", "*", SourceOTP}, err: boom})
	if _, err := c.Resolve(context.Background(), "x@y.example", ""); !errors.Is(err, boom) {
		t.Fatalf("err = %v, want %v", err, boom)
	}
	if _, err := c.Resolve(context.Background(), "x@y.example", SourceOTP); !errors.Is(err, boom) {
		t.Fatalf("sticky: err = %v, want %v", err, boom)
	}
}

func TestSources(t *testing.T) {
	for _, tc := range []struct {
		got  Source
		want string
	}{
		{SourceOTP, "otp"}, {SourceMicrosoft, "microsoft"}, {SourceGoogle, "google"},
		{Directory("staff"), "directory:staff"}, {LDAP("corp"), "ldap:corp"},
		{OIDC("contoso"), "oidc:contoso"}, {Tenant("fabrikam"), "tenant:fabrikam"},
		{SourceOf("microsoft", "msa"), "microsoft"}, {SourceOf("google", "g"), "google"},
		{SourceOf("oidc", "contoso"), "oidc:contoso"}, {SourceOf("directory", "staff"), "directory:staff"},
	} {
		if tc.got.String() != tc.want {
			t.Errorf("source %q, want %q", tc.got, tc.want)
		}
	}
	if Directory("staff").Type() != "directory" || SourceOTP.Type() != "otp" {
		t.Error("Type() does not name the connector type")
	}
}

func TestRegistry(t *testing.T) {
	r := NewRegistry().Register("fake", func(s Spec, _ Env) (Connector, error) {
		return fake{s.ID, s.Domains[0], SourceOf(s.Type, s.ID)}, nil
	})
	k, err := r.Open(Spec{Type: "fake", ID: "x", Domains: []string{"x.example"}}, Env{})
	if err != nil || k.Source() != "fake:x" || !k.Claims("a@x.example") {
		t.Fatalf("Open = %v, %v", k, err)
	}
	_, err = r.Open(Spec{Type: "ldap", ID: "corp"}, Env{})
	if !errors.Is(err, ErrNotImplemented) || err.Error() != `connector type "ldap" is not implemented yet in this version` {
		t.Fatalf("Open(ldap) = %v", err)
	}
	mustPanic(t, "a type registered twice", func() {
		NewRegistry().Register("fake", nil).Register("fake", nil)
	})
}

func mustPanic(t *testing.T, what string, f func()) {
	t.Helper()
	defer func() {
		if recover() == nil {
			t.Errorf("%s did not panic", what)
		}
	}()
	f()
}

// batchSwitched is a switched fake whose switch a step can read in its
// batch.
type batchSwitched struct{ switched }

func (b batchSwitched) ReadEnabled() *store.Read[bool] {
	return store.NewRead(nil, func(*store.Op) (bool, error) { return b.on, b.err })
}

// TestResolveWithToggles: a member's switch as the step read it decides,
// and the member is not asked again; a member the step did not read is
// asked as by Resolve.
func TestResolveWithToggles(t *testing.T) {
	otp := batchSwitched{switched{fake: fake{id: "otp", domain: "*", source: SourceOTP}, on: true}}
	other := switched{fake: fake{id: "other", domain: "other.example", source: "x:other"}, err: errors.New("asked")}
	c := NewChain(other, otp)

	reads := c.ReadToggles()
	if len(reads) != 1 || reads["otp"] == nil {
		t.Fatalf("ReadToggles = %v, want the passcode's switch only", reads)
	}
	on, err := reads.Result()
	if err != nil || !on["otp"] {
		t.Fatalf("Result = %v, %v", on, err)
	}
	// Read off in the batch: a passcode guest hears that it is off, a new
	// address finds no method; the connector itself (on) is not asked.
	off := Toggles{"otp": false}
	if m, err := c.ResolveWith(context.Background(), "x@y.example", SourceOTP, off); err != nil || m.Kind != KindDisabled {
		t.Fatalf("sticky, read off: %+v, %v", m, err)
	}
	if m, err := c.ResolveWith(context.Background(), "x@y.example", "", off); err != nil || m.Kind != KindNone {
		t.Fatalf("new address, read off: %+v, %v", m, err)
	}
	// A member not read is asked (its error comes back).
	if _, err := c.ResolveWith(context.Background(), "x@other.example", "", off); err == nil {
		t.Fatal("a member the step did not read was not asked")
	}
}

// Resolve is ResolveWith with no switches read beforehand: every Toggled
// member reached is asked.
func (c *Chain) Resolve(ctx context.Context, canonical string, source Source) (Method, error) {
	return c.ResolveWith(ctx, canonical, source, nil)
}
