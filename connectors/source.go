package connectors

import "strings"

// Source is what a guest's record says they redeemed with (PRODUCT.md B2,
// "Connector contract details"): "otp", "microsoft", "google", or
// "<type>:<id>" for the connector kinds an admin may configure several
// times. Admins' scripts filter guests by it, so the spellings are fixed.
type Source string

// The sources that name no configured id.
const (
	SourceOTP       Source = "otp"
	SourceMicrosoft Source = "microsoft"
	SourceGoogle    Source = "google"
)

// Directory is the source of a static directory connector.
func Directory(id string) Source { return typed("directory", id) }

// LDAP is the source of an LDAP connector.
func LDAP(id string) Source { return typed("ldap", id) }

// OIDC is the source of a generic upstream OpenID connector.
func OIDC(id string) Source { return typed("oidc", id) }

// Tenant is the source of a home-tenant connector.
func Tenant(id string) Source { return typed("tenant", id) }

// SourceOf is the source of a connector of configured type and id: the
// presets have a fixed source, every other type "<type>:<id>".
func SourceOf(typ, id string) Source {
	switch typ {
	case "microsoft":
		return SourceMicrosoft
	case "google":
		return SourceGoogle
	case "otp":
		return SourceOTP
	}
	return typed(typ, id)
}

func typed(typ, id string) Source { return Source(typ + ":" + id) }

// String is the source as recorded on a guest.
func (s Source) String() string { return string(s) }

// Type is the connector type the source belongs to ("directory" for
// "directory:staff").
func (s Source) Type() string {
	t, _, _ := strings.Cut(string(s), ":")
	return t
}
