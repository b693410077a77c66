package main

import (
	"net/url"
	"strings"
	"testing"
)

// Issue 6 item 12 end to end: the real serve loop (its zap core, and slog's
// default logger that zitadel writes to) with an authorization request
// that is refused and logged, carrying a huge id_token_hint and an
// address. The log holds neither, and no line is unbounded.
func TestServeLogsHoldNoTokens(t *testing.T) {
	srv, _, _ := serveAlpha(t)
	base, logs := srv.base, srv.logs

	jwt := "eyJhbGciOiJFUzI1NiIsImtpZCI6ImsxIn0.eyJzdWIiOiJhZGEiLCJhdWQiOiJhcHAifQ." + strings.Repeat("S", 15<<10)
	const ada = "ada.lovelace@guest.example"
	q := url.Values{"client_id": {"app"}, "redirect_uri": {"https://evil.example/cb"}, "response_type": {"code"},
		"scope": {"openid"}, "id_token_hint": {jwt}, "login_hint": {ada}}
	if s := status(base + "/alpha/authorize?" + q.Encode()); s != 400 {
		t.Fatalf("authorize with an unregistered redirect: %d", s)
	}
	eventually(t, "the refusal's log line", func() bool { return strings.Contains(logs.String(), "authorization request refused") })
	srv.stop(t)
	out := logs.String()
	for what, s := range map[string]string{"JWT": jwt[:30], "address": ada, "JWT signature": strings.Repeat("S", 64)} {
		if strings.Contains(out, s) {
			t.Errorf("the log holds the %s", what)
		}
	}
	for _, line := range strings.Split(out, "\n") {
		if len(line) > 12<<10 {
			t.Errorf("a log line of %d bytes: %.300s", len(line), line)
		}
	}
}
