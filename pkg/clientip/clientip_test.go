package clientip

import (
	"net/http"
	"net/netip"
	"runtime"
	"strings"
	"testing"
)

func TestAddr(t *testing.T) {
	proxies := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}
	cases := []struct {
		name    string
		trusted []netip.Prefix
		peer    string
		xff     []string
		want    string
	}{
		{"no proxies: peer, header ignored", nil, "198.51.100.9:5000", []string{"203.0.113.1"}, "198.51.100.9"},
		{"untrusted peer: header ignored", proxies, "198.51.100.9:5000", []string{"203.0.113.1"}, "198.51.100.9"},
		{"trusted peer: rightmost hop", proxies, "10.1.2.3:5000", []string{"203.0.113.1"}, "203.0.113.1"},
		{"spoofed left part ignored", proxies, "10.1.2.3:5000", []string{"1.1.1.1, 203.0.113.1"}, "203.0.113.1"},
		{"chain of trusted proxies", proxies, "10.1.2.3:5000", []string{"203.0.113.1, 10.9.9.9", "10.8.8.8"}, "203.0.113.1"},
		{"trusted peer without header", proxies, "10.1.2.3:5000", nil, "10.1.2.3"},
		{"garbage hop stops at the last trusted", proxies, "10.1.2.3:5000", []string{"203.0.113.1, nonsense"}, "10.1.2.3"},
		{"all hops trusted: leftmost", proxies, "10.1.2.3:5000", []string{"10.7.7.7, 10.8.8.8"}, "10.7.7.7"},
		{"v6 proxy, mapped v4 client", proxies, "[fd00::1]:443", []string{"::ffff:203.0.113.5"}, "203.0.113.5"},
		{"mapped peer", proxies, "[::ffff:10.1.2.3]:5000", []string{"203.0.113.1"}, "203.0.113.1"},
		{"v4 hop with a port", proxies, "10.1.2.3:5000", []string{"1.1.1.1, 203.0.113.1:5678"}, "203.0.113.1"},
		{"v6 hop with a port", proxies, "10.1.2.3:5000", []string{"[2001:db8::1]:443"}, "2001:db8::1"},
		{"v6 hop in brackets", proxies, "10.1.2.3:5000", []string{"[2001:db8::1]"}, "2001:db8::1"},
		{"trusted hops with ports", proxies, "10.1.2.3:5000", []string{"203.0.113.1:1, 10.9.9.9:2", "[fd00::5]:3"}, "203.0.113.1"},
		{"v4 in brackets is garbage", proxies, "10.1.2.3:5000", []string{"[203.0.113.1]"}, "10.1.2.3"},
		{"empty entry is garbage", proxies, "10.1.2.3:5000", []string{"203.0.113.1,, 10.9.9.9"}, "10.9.9.9"},
		{"overlong entry is garbage", proxies, "10.1.2.3:5000", []string{"203.0.113.1, " + strings.Repeat("1", 200)}, "10.1.2.3"},
		{"blank header line", proxies, "10.1.2.3:5000", []string{"203.0.113.1", " "}, "10.1.2.3"},
		{"hops beyond 32 are not read", proxies, "10.1.2.3:5000", []string{"203.0.113.1" + strings.Repeat(", 10.0.0.7", 32)}, "10.0.0.7"},
		{"the 32nd hop is", proxies, "10.1.2.3:5000", []string{"203.0.113.1" + strings.Repeat(", 10.0.0.7", 31)}, "203.0.113.1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := &http.Request{RemoteAddr: c.peer, Header: http.Header{}}
			for _, v := range c.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if got := New(c.trusted).Addr(r).String(); got != c.want {
				t.Errorf("Addr = %s, want %s", got, c.want)
			}
		})
	}
}

func TestKeyGroupsIPv6By64(t *testing.T) {
	var r Resolver
	a := r.Key(&http.Request{RemoteAddr: "[2001:db8:1:2::1]:1"})
	b := r.Key(&http.Request{RemoteAddr: "[2001:db8:1:2:ffff::9]:1"})
	c := r.Key(&http.Request{RemoteAddr: "[2001:db8:1:3::1]:1"})
	if a != b || a == c || a != "2001:db8:1:2::/64" {
		t.Errorf("keys %q %q %q", a, b, c)
	}
	if k := r.Key(&http.Request{RemoteAddr: "192.0.2.1:1"}); k != "192.0.2.1" {
		t.Errorf("v4 key %q", k)
	}
	if k := r.Key(&http.Request{RemoteAddr: "@"}); k != "unknown" {
		t.Errorf("no peer: %q", k)
	}
}

// A megabyte of X-Forwarded-For (80,000 entries) costs what a few entries cost: the header
// is read from the right, at most maxHops entries, never split whole
// (that allocates in proportion to its size).
func TestAddrReadsOnlyTheLastHops(t *testing.T) {
	r := New([]netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")})
	req := &http.Request{RemoteAddr: "10.1.2.3:5000", Header: http.Header{}}
	req.Header.Add("X-Forwarded-For", strings.Repeat("203.0.113.1, ", 80_000)+"10.0.0.7")
	req.Header.Add("X-Forwarded-For", "10.0.0.8")
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	const runs = 10
	for range runs {
		if got := r.Addr(req); got != netip.MustParseAddr("203.0.113.1") {
			t.Fatalf("Addr = %s, want 203.0.113.1", got)
		}
	}
	runtime.ReadMemStats(&after)
	if per := (after.TotalAlloc - before.TotalAlloc) / runs; per > 4<<10 {
		t.Errorf("Addr allocated %d bytes per call on a 1 MB header", per)
	}
}
