package pages

import (
	"net/http/httptest"
	"strings"
	"testing"
)

// ui_locales (the app's choice) comes before Accept-Language (the
// browser's); tags are matched by their primary language.
func TestNegotiateUI(t *testing.T) {
	r := newRenderer(t)
	for _, c := range []struct {
		ui     []string
		accept string
		want   string
	}{
		{[]string{"fr-CA"}, "en", "fr"},
		{[]string{"de", "fr"}, "en", "fr"},
		{[]string{"en"}, "fr", "en"},
		{[]string{"de", "ja"}, "fr", "fr"},
		{nil, "fr-FR,fr;q=0.9", "fr"},
		{[]string{"*"}, "fr", "fr"},
		{[]string{"FR_ca"}, "", "fr"},
		{[]string{""}, "", "en"},
	} {
		if got := r.NegotiateUI(c.ui, c.accept); got != c.want {
			t.Errorf("NegotiateUI(%q, %q) = %q, want %q", c.ui, c.accept, got, c.want)
		}
	}
}

// The form_post page escapes what it carries and allows only its own
// script.
func TestFormPostEscapesAndLocksDown(t *testing.T) {
	w := httptest.NewRecorder()
	FormPost(w, "https://app.example/cb?x=1&y=2", []Field{{"state", `"><script>alert(1)</script>`}, {"iss", "https://id.example/t"}})
	body := w.Body.String()
	if strings.Count(body, "<script") != 1 || strings.Contains(body, "alert(1)</script>") {
		t.Fatalf("value not escaped:\n%s", body)
	}
	if !strings.Contains(body, `action="https://app.example/cb?x=1&amp;y=2"`) {
		t.Fatalf("action:\n%s", body)
	}
	csp := w.Header().Get("Content-Security-Policy")
	if !strings.Contains(csp, "script-src 'nonce-") || !strings.Contains(csp, "frame-ancestors 'none'") || w.Header().Get("Cache-Control") != "no-store" {
		t.Fatalf("headers: %v", w.Header())
	}
}
