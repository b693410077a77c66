package config

import "strings"

// IsReservedTenantID reports whether id would collide with a route of the
// server or a well-known path, so it cannot name a tenant (PRODUCT.md B1).
// The comparison is case-insensitive so "Admin" is refused as well.
func IsReservedTenantID(id string) bool {
	switch strings.ToLower(id) {
	case "admin", "common", "organizations", "consumers", "static", "assets", "public",
		"healthz", "readyz", "livez", "health", "metrics", "debug", "api",
		"oauth", "oauth2", "oidc", "openid", "authorize", "token", "keys", "jwks", "certs",
		"userinfo", "end_session", "end-session", "revoke", "revocation", "introspect",
		"introspection", "device", "device_authorization", "register", "registration",
		"login", "logout", "signin", "signout", "signup", "redeem", "apps", "callback",
		"consent", "select", "error", "errors", "well-known", ".well-known",
		"favicon.ico", "robots.txt", "sitemap.xml", "security.txt", "humans.txt":
		return true
	}
	return false
}
