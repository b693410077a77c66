package server_test

import (
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/guestpass/guestpass/pkg/config"
)

// B8 / issue 6 item 11(a): codes mailed move only for invited addresses,
// so metrics are served on their own listener and never on the public one,
// which answers /metrics like any unknown path. The metrics listener in
// turn serves nothing but /metrics.
func TestMetricsOnlyOnTheirListener(t *testing.T) {
	e := newEnv(t, envOptions{})
	invite(t, e, "fabrikam", "counted@guest.example", "C")
	r := newRP(t, e, "fabrikam", "portal", "portal-secret")
	toCodePage(t, newBrowser(t), r.authURL(), "counted@guest.example")
	waitCode(t, e.smtp, "counted@guest.example")

	get := func(u string) (int, string) {
		t.Helper()
		resp, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	unknown, _ := get(e.base + "/nosuch")
	for _, p := range []string{"/metrics", "/metrics/", "/fabrikam/metrics"} {
		if st, body := get(e.base + p); st != unknown || strings.Contains(body, "guestpass_") {
			t.Errorf("public %s: %d (an unknown path: %d)\n%s", p, st, unknown, body)
		}
	}
	st, body := get(e.metrics + "/metrics")
	if st != http.StatusOK || !strings.Contains(body, "guestpass_codes_sent_total") {
		t.Fatalf("metrics listener /metrics: %d\n%s", st, body)
	}
	for _, p := range []string{"/", "/healthz", "/fabrikam/.well-known/openid-configuration", "/fabrikam/authorize"} {
		if st, _ := get(e.metrics + p); st != http.StatusNotFound {
			t.Errorf("metrics listener %s: %d, want 404", p, st)
		}
	}
}

// pprofBody matches what the pprof handlers answer: the index, a profile
// in text form, or the command line (the test binary's name).
var pprofBody = regexp.MustCompile(`Types of profiles available|heap profile: |goroutine profile: |server\.test`)

// Issue 10: pprof is off unless metrics.pprof is set, and then served on
// the metrics listener only; the public listener answers its paths like
// any unknown path, whatever the setting.
func TestPprofOnlyOnTheMetricsListenerWhenSet(t *testing.T) {
	get := func(u string) (int, string) {
		t.Helper()
		resp, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	paths := []string{"/debug/pprof/", "/debug/pprof/cmdline", "/debug/pprof/heap?debug=1", "/debug/pprof/goroutine?debug=1"}
	for _, on := range []bool{false, true} {
		e := newEnv(t, envOptions{configure: func(c *config.Config) { c.Metrics.Pprof = on }})
		// The public router has no /debug route (a reserved tenant name
		// answers no_tenant), and no tenant has one either.
		for _, p := range append(paths, "/fabrikam/debug/pprof/") {
			unknown, _ := get(e.base + strings.Replace(p, "/pprof/", "/nosuch/", 1))
			st, body := get(e.base + p)
			if st != unknown || pprofBody.MatchString(body) {
				t.Errorf("pprof %v: public %s: %d (an unknown path beside it: %d)\n%.300s", on, p, st, unknown, body)
			}
		}
		for _, p := range paths {
			st, body := get(e.metrics + p)
			switch {
			case !on && st != http.StatusNotFound:
				t.Errorf("pprof off: metrics listener %s: %d, want 404", p, st)
			case on && (st != http.StatusOK || !pprofBody.MatchString(body)):
				t.Errorf("pprof on: metrics listener %s: %d\n%.300s", p, st, body)
			}
		}
		if st, body := get(e.metrics + "/metrics"); st != http.StatusOK || !strings.Contains(body, "guestpass_") {
			t.Errorf("pprof %v: /metrics: %d", on, st)
		}
	}
}
