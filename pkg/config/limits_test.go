package config

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
)

// The abuse limits (B8) default to values a real deployment keeps, are
// read where they are written, and bad values are refused with the key.
func TestAbuseLimitsDefaultsAndKeys(t *testing.T) {
	cfg, err := Parse([]byte(base), "test.yaml", lookup(testEnv(t)))
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Tenant("fabrikam").EmailOTP.AbuseLimits; got != DefaultAbuseLimits() {
		t.Errorf("defaults: %+v", got)
	}
	if d := DefaultAbuseLimits(); d.MaxAddressesPerFlow != 5 || d.MaxCodesPerIPPerHour != 30 || d.MaxCodesPerTenantPerHour != 1000 {
		t.Errorf("DefaultAbuseLimits = %+v", d)
	}
	if len(cfg.TrustedNets) != 0 {
		t.Errorf("no trustedProxies, yet %v", cfg.TrustedNets)
	}

	text := mustEdit(t, "emailOTP: {codeTTL: 30m, maxAttempts: 5}",
		"emailOTP: {codeTTL: 30m, maxAttempts: 5, maxAddressesPerFlow: 2, maxCodesPerIPPerHour: 7, maxCodesPerTenantPerHour: 99}")
	text = "trustedProxies: [10.0.0.0/8, 192.0.2.7, \"::ffff:198.51.100.1\", \"fd00::/8\"]\n" + text
	cfg, err = Parse([]byte(text), "test.yaml", lookup(testEnv(t)))
	if err != nil {
		t.Fatal(err)
	}
	want := AbuseLimits{MaxAddressesPerFlow: 2, MaxCodesPerIPPerHour: 7, MaxCodesPerTenantPerHour: 99}
	if got := cfg.Tenant("fabrikam").EmailOTP.AbuseLimits; got != want {
		t.Errorf("limits %+v, want %+v", got, want)
	}
	nets := []netip.Prefix{
		netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.0.2.7/32"),
		netip.MustParsePrefix("198.51.100.1/32"), netip.MustParsePrefix("fd00::/8"),
	}
	if len(cfg.TrustedNets) != len(nets) {
		t.Fatalf("TrustedNets = %v", cfg.TrustedNets)
	}
	for i := range nets {
		if cfg.TrustedNets[i] != nets[i] {
			t.Errorf("TrustedNets[%d] = %v, want %v", i, cfg.TrustedNets[i], nets[i])
		}
	}
}

func TestAbuseLimitsRefused(t *testing.T) {
	cases := []struct{ edit, key, fragment string }{
		{"maxAddressesPerFlow: 0", "tenants[0].emailOTP.maxAddressesPerFlow", "0 is out of range; use a value from 1 to 100 (default 5)"},
		{"maxCodesPerIPPerHour: -1", "tenants[0].emailOTP.maxCodesPerIPPerHour", "from 1 to 100000 (default 30)"},
		{"maxCodesPerTenantPerHour: 0", "tenants[0].emailOTP.maxCodesPerTenantPerHour", "(default 1000)"},
		{"maxCodesPerIpPerHour: 3", "tenants[0].emailOTP.maxCodesPerIpPerHour", `did you mean "maxCodesPerIPPerHour"?`},
	}
	for _, tc := range cases {
		text := mustEdit(t, "maxAttempts: 5}", "maxAttempts: 5, "+tc.edit+"}")
		problemAt(t, text, tc.key, tc.fragment)
	}
	problemAt(t, "trustedProxies: [10.0.0.0/8, proxy.internal]\n"+base, "trustedProxies[1]",
		`"proxy.internal" is neither an IP address nor a CIDR; write e.g. 10.0.0.0/8`)
	problemAt(t, "trustedProxies: 10.0.0.1\n"+base, "trustedProxies", "expected a list")
}

func problemAt(t *testing.T, text, key, fragment string) {
	t.Helper()
	_, err := Parse([]byte(text), "test.yaml", lookup(testEnv(t)))
	var ce *Error
	if !errors.As(err, &ce) {
		t.Fatalf("%s: want a config error, got %v", key, err)
	}
	for _, p := range ce.Problems {
		if p.Key == key && strings.Contains(p.Message, fragment) {
			return
		}
	}
	t.Errorf("want %s: %q; got:\n%v", key, fragment, err)
}
