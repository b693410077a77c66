// Package clientip finds the address of the client behind a request, for
// limits per client IP (PRODUCT.md B8). The TCP peer is the client unless
// it is a configured trusted proxy; only then is X-Forwarded-For read, from
// the right (the hop the trusted proxy itself appended) leftwards, and the
// first address that is not a trusted proxy is the client. Anything to the
// left of it was written by the client and proves nothing.
package clientip

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// maxHops bounds the X-Forwarded-For entries looked at: a header of
// thousands of entries costs nothing more than one of a few.
const maxHops = 32

// Resolver tells the client address of requests. The zero value trusts
// no proxy.
type Resolver struct {
	trusted []netip.Prefix
}

// New returns a Resolver that believes X-Forwarded-For only from peers
// inside trusted.
func New(trusted []netip.Prefix) Resolver {
	return Resolver{trusted: append([]netip.Prefix(nil), trusted...)}
}

// Addr is the client's address, or the invalid Addr when the peer's own
// address cannot be read (never the case over TCP).
func (r Resolver) Addr(req *http.Request) netip.Addr {
	peer := peerAddr(req.RemoteAddr)
	if !peer.IsValid() || !r.isTrusted(peer) {
		return peer
	}
	client := peer
	hops := forwardedHops(req.Header.Values("X-Forwarded-For"))
	for i := len(hops) - 1; i >= 0 && i >= len(hops)-maxHops; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			// Garbage where an address should be: the hop that
			// appended it (the last one believed) is as far as we know.
			return client
		}
		client = a.Unmap()
		if !r.isTrusted(client) {
			return client
		}
	}
	return client
}

// Key is the address a limit counts by: the client's IPv4 address, or
// the /64 of an IPv6 one (one subscriber gets a whole /64, so single v6
// addresses would be free for the asking). "unknown" when there is none.
func (r Resolver) Key(req *http.Request) string {
	a := r.Addr(req)
	if !a.IsValid() {
		return "unknown"
	}
	if a.Is6() {
		return netip.PrefixFrom(a, 64).Masked().String()
	}
	return a.String()
}

func (r Resolver) isTrusted(a netip.Addr) bool {
	for _, p := range r.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// peerAddr parses http.Request.RemoteAddr ("ip:port").
func peerAddr(remote string) netip.Addr {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}
	}
	return a.Unmap().WithZone("")
}

// forwardedHops joins every X-Forwarded-For header (proxies may add a
// header line of their own instead of appending) in order.
func forwardedHops(values []string) []string {
	var hops []string
	for _, v := range values {
		for _, h := range strings.Split(v, ",") {
			if h = strings.TrimSpace(h); h != "" {
				hops = append(hops, h)
			}
		}
	}
	return hops
}
