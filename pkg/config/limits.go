package config

import (
	"fmt"
	"net/netip"
)

// Network describes the network in front of the server.
type Network struct {
	// TrustedProxies lists the reverse proxies (IP addresses or CIDRs)
	// whose X-Forwarded-For is believed when the limits per client IP
	// need the client's address. Empty: the TCP peer is the client, and
	// X-Forwarded-For is ignored.
	TrustedProxies []string `yaml:"trustedProxies"`

	// TrustedNets is TrustedProxies parsed (an address becomes a /32 or
	// /128), filled by Parse.
	TrustedNets []netip.Prefix `yaml:"-"`

	// AuthorizePerIPPerMinute caps the authorization requests (each one
	// stored until it expires) one client IP may make to a tenant per
	// minute; over it /authorize answers 429 and stores nothing.
	AuthorizePerIPPerMinute int `yaml:"authorizePerIPPerMinute"`
}

// DefaultAuthorizePerIPPerMinute lets a person (or an office behind one
// address) start many sign-ins, and a script store at most 60 requests a
// minute per tenant from each address.
const DefaultAuthorizePerIPPerMinute = 60

// AbuseLimits cap passcode mail beyond one address (PRODUCT.md B8): one
// browser cannot mail many inboxes, one client cannot mail without end,
// and one tenant's hourly volume has a ceiling. Addresses count by their
// base mailbox (user+tag@x counts as user@x).
type AbuseLimits struct {
	// MaxAddressesPerFlow caps the distinct addresses one sign-in flow
	// (one browser's flow cookie) may be sent codes for.
	MaxAddressesPerFlow int `yaml:"maxAddressesPerFlow"`
	// MaxCodesPerIPPerHour caps the codes requested from one client IP
	// (an IPv6 client counts by its /64).
	MaxCodesPerIPPerHour int `yaml:"maxCodesPerIPPerHour"`
	// MaxCodesPerTenantPerHour caps the codes of the whole tenant.
	MaxCodesPerTenantPerHour int `yaml:"maxCodesPerTenantPerHour"`
}

// DefaultAbuseLimits are limits a real deployment keeps: generous for
// people, a wall for scripts.
func DefaultAbuseLimits() AbuseLimits {
	return AbuseLimits{MaxAddressesPerFlow: 5, MaxCodesPerIPPerHour: 30, MaxCodesPerTenantPerHour: 1000}
}

// applyAbuseDefaults fills the absent limit keys of tenant i.
func (v *validator) applyAbuseDefaults(l *AbuseLimits, i int) {
	has := func(k string) bool { return v.tree.present[fmt.Sprintf("tenants[%d].emailOTP.%s", i, k)] }
	def := DefaultAbuseLimits()
	if !has("maxAddressesPerFlow") {
		l.MaxAddressesPerFlow = def.MaxAddressesPerFlow
	}
	if !has("maxCodesPerIPPerHour") {
		l.MaxCodesPerIPPerHour = def.MaxCodesPerIPPerHour
	}
	if !has("maxCodesPerTenantPerHour") {
		l.MaxCodesPerTenantPerHour = def.MaxCodesPerTenantPerHour
	}
}

// abuseLimits checks a tenant's limits; o is the key prefix
// ("tenants[0].emailOTP.").
func (v *validator) abuseLimits(o string, l AbuseLimits) {
	def := DefaultAbuseLimits()
	v.intRange(o+"maxAddressesPerFlow", l.MaxAddressesPerFlow, 1, 100, def.MaxAddressesPerFlow)
	v.intRange(o+"maxCodesPerIPPerHour", l.MaxCodesPerIPPerHour, 1, 100000, def.MaxCodesPerIPPerHour)
	v.intRange(o+"maxCodesPerTenantPerHour", l.MaxCodesPerTenantPerHour, 1, 10000000, def.MaxCodesPerTenantPerHour)
}

// network checks trustedProxies and fills TrustedNets.
func (v *validator) network(n *Network) {
	v.intRange("authorizePerIPPerMinute", n.AuthorizePerIPPerMinute, 1, 1000000, DefaultAuthorizePerIPPerMinute)
	n.TrustedNets = nil
	for i, s := range n.TrustedProxies {
		p, ok := parseProxy(s)
		if !ok {
			v.add(fmt.Sprintf("trustedProxies[%d]", i),
				"%q is neither an IP address nor a CIDR; write e.g. 10.0.0.0/8, 192.0.2.7 or fd00::/8", s)
			continue
		}
		n.TrustedNets = append(n.TrustedNets, p)
	}
}

// parseProxy reads "192.0.2.7" (one address) or "10.0.0.0/8". Addresses
// are unmapped so that an IPv4 proxy matches however the socket reports it.
func parseProxy(s string) (netip.Prefix, bool) {
	if a, err := netip.ParseAddr(s); err == nil {
		a = a.Unmap()
		return netip.PrefixFrom(a, a.BitLen()), true
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, false
	}
	if p.Addr().Is4In6() && p.Bits() >= 96 {
		p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
	}
	return p.Masked(), true
}
