package server_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
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
