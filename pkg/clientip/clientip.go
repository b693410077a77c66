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
	hops := hopsFromRight(req.Header.Values("X-Forwarded-For"))
	for range maxHops {
		hop, ok := hops.next()
		if !ok {
			return client
		}
		a, ok := parseHop(hop)
		if !ok {
			// Garbage where an address should be: the hop that
			// appended it (the last one believed) is as far as we know.
			return client
		}
		client = a
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

// maxHopLen bounds one X-Forwarded-For entry: the longest address with a
// port and brackets ("[ffff:...:ffff%zone]:65535") fits with room to spare.
// A longer entry is garbage, found without reading it whole.
const maxHopLen = 96

// hopScanner walks X-Forwarded-For entries from the right (the last
// header line's last entry first: proxies may append to the header or add
// a line of their own), without splitting the header: each step reads
// at most maxHopLen+1 bytes, so a header of a megabyte costs no more than
// one of a few entries.
type hopScanner struct {
	values []string // header lines not yet reached
	rest   string   // the unread part of the current line
	live   bool     // rest is a line (possibly empty) still to read
}

func hopsFromRight(values []string) *hopScanner {
	s := &hopScanner{values: values}
	s.pop()
	return s
}

// pop moves to the previous header line.
func (s *hopScanner) pop() {
	s.live = len(s.values) > 0
	if s.live {
		s.rest, s.values = s.values[len(s.values)-1], s.values[:len(s.values)-1]
	}
}

// next returns the next entry leftwards, trimmed, or false when none is
// left. An empty entry, or a piece of one longer than any address, comes
// back as it is, for parseHop to refuse.
func (s *hopScanner) next() (string, bool) {
	if !s.live {
		return "", false
	}
	tail := s.rest[max(0, len(s.rest)-maxHopLen-1):]
	comma := strings.LastIndexByte(tail, ',')
	if comma < 0 {
		if len(tail) < len(s.rest) {
			return tail, true // longer than maxHopLen: garbage
		}
		hop := s.rest
		s.pop()
		return strings.TrimSpace(hop), true
	}
	cut := len(s.rest) - len(tail) + comma
	hop := s.rest[cut+1:]
	s.rest = s.rest[:cut]
	return strings.TrimSpace(hop), true
}

// parseHop reads one entry: an address, with or without a port
// ("1.2.3.4:5678", "[2001:db8::1]:443") or brackets ("[2001:db8::1]").
func parseHop(h string) (netip.Addr, bool) {
	if len(h) > maxHopLen {
		return netip.Addr{}, false
	}
	a, err := netip.ParseAddr(h)
	if err != nil {
		ap, perr := netip.ParseAddrPort(h)
		switch {
		case perr == nil:
			a = ap.Addr()
		case len(h) > 2 && h[0] == '[' && h[len(h)-1] == ']':
			if a, err = netip.ParseAddr(h[1 : len(h)-1]); err != nil || !a.Is6() {
				return netip.Addr{}, false
			}
		default:
			return netip.Addr{}, false
		}
	}
	return a.Unmap().WithZone(""), true
}
