package connectors

import "testing"

type fake struct{ id, domain string }

func (f fake) ID() string                   { return f.id }
func (f fake) Source() string               { return "oidc:" + f.id }
func (f fake) Claims(canonical string) bool { return DomainOf(canonical) == f.domain }

func TestResolve(t *testing.T) {
	a, b := fake{"a", "contoso.example"}, fake{"b", "contoso.example"}
	c := NewChain(a, b)
	cases := []struct {
		name, addr, source string
		otp                bool
		kind               Kind
		conn               string
	}{
		{"first claiming connector wins", "x@contoso.example", "", true, KindConnector, "a"},
		{"unclaimed address falls back to otp", "x@other.example", "", true, KindOTP, ""},
		{"no otp, nothing claims", "x@other.example", "", false, KindNone, ""},
		{"otp source is sticky even when a connector claims", "x@contoso.example", "otp", true, KindOTP, ""},
		{"otp source with otp off", "x@contoso.example", "otp", false, KindOTPDisabled, ""},
		{"connector source is sticky", "x@other.example", "oidc:b", true, KindConnector, "b"},
		{"removed connector: no downgrade to otp", "x@other.example", "oidc:gone", true, KindNone, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := c.Resolve(tc.addr, tc.source, tc.otp)
			if m.Kind != tc.kind {
				t.Fatalf("kind = %v, want %v", m.Kind, tc.kind)
			}
			if tc.conn != "" && (m.Connector == nil || m.Connector.ID() != tc.conn) {
				t.Fatalf("connector = %v, want %s", m.Connector, tc.conn)
			}
		})
	}
}
