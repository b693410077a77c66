package config

import (
	"net"
	"strings"
)

// Metrics configures the Prometheus endpoint. It is served on its own
// listener, never on the public one (PRODUCT.md B8): counters such as codes
// mailed move only for invited addresses, so a public /metrics would tell
// anyone which addresses are invited.
type Metrics struct {
	// Listen is host:port of the metrics listener; empty turns metrics off.
	Listen string `yaml:"listen"`
	// Pprof mounts net/http/pprof under /debug/pprof/ on the metrics
	// listener. Off by default: a profile costs CPU while it runs and a
	// goroutine dump shows the code's inner workings, so only the
	// operator's network may ask for them, and only when turned on.
	Pprof bool `yaml:"pprof"`
}

func (v *validator) metrics(c *Config) {
	const key = "metrics.listen"
	addr := c.Metrics.Listen
	if addr == "" {
		if c.Metrics.Pprof {
			// Refused rather than ignored: the operator asked for
			// profiles and would otherwise look for them in vain (they
			// are never served on the public listener).
			v.add("metrics.pprof", "needs metrics.listen: profiles are served only on the metrics listener, e.g. metrics: {listen: 127.0.0.1:9090, pprof: true}")
		}
		return
	}
	before := len(v.probs)
	v.hostPort(key, addr, "127.0.0.1:9090")
	if len(v.probs) > before {
		return
	}
	if sameListener(addr, c.Listen) {
		v.add(key, "%q is the public listener (listen: %q); metrics must have their own port, e.g. 127.0.0.1:9090, or remove metrics.listen to turn them off",
			addr, c.Listen)
	}
}

// sameListener reports whether two host:port addresses would collide: the
// same port on the same host, or on all interfaces (an empty host,
// 0.0.0.0 or ::) for either of them.
func sameListener(a, b string) bool {
	ha, pa, err := net.SplitHostPort(a)
	if err != nil {
		return false
	}
	hb, pb, err := net.SplitHostPort(b)
	if err != nil || pa != pb {
		return false
	}
	return strings.EqualFold(ha, hb) || anyHost(ha) || anyHost(hb)
}

func anyHost(h string) bool {
	ip := net.ParseIP(h)
	return h == "" || ip != nil && ip.IsUnspecified()
}
