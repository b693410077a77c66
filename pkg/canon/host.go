package canon

import (
	"net"
	"strings"
)

// LoopbackHost reports whether host (a URL's Hostname: no port, no
// brackets) names this machine: localhost in any case, or a loopback
// address (127.0.0.0/8, ::1). It is the one rule for where plain text is
// allowed (PRODUCT.md B10: http redirect URIs, origins, the base URL,
// invite links, the admin CLI's issuer; an SMTP server without TLS). A
// name that merely resolves to a loopback address is not one: what a
// name resolves to is decided elsewhere and later.
func LoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
