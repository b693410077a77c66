package connectors

import (
	"fmt"
	"slices"

	"github.com/guestpass/guestpass/pkg/canon"
)

// Domains are the domains a connector claims (PRODUCT.md B2 step 3),
// spelled as canonical addresses spell them (B10: lowercase, IDNA ASCII
// form, no trailing dot), so that "Example.ORG." or "bücher.example" in
// the config claims what sign-in compares. Every connector type uses this
// one normalisation: they used to differ (one compared the configured
// spelling as it was).
type Domains []string

// CanonicalDomains normalises configured domains; a domain no address
// could have is an error naming it.
func CanonicalDomains(list []string) (Domains, error) {
	out := make(Domains, 0, len(list))
	for _, d := range list {
		// The domain as canonical addresses spell it, by pkg/canon's rules.
		a, err := canon.Email("x@" + d)
		if err != nil {
			return nil, fmt.Errorf("domain %q: %w", d, err)
		}
		out = append(out, DomainOf(a.Canonical))
	}
	return out, nil
}

// Claims reports whether the canonical address is in one of the domains.
func (d Domains) Claims(canonical string) bool {
	return slices.Contains(d, DomainOf(canonical))
}
