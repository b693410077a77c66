package jsonhttp

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
)

// Every answer, whichever writer sent it, carries the same four headers
// and its status.
func TestHeaders(t *testing.T) {
	for name, write := range map[string]func(http.ResponseWriter){
		"Write":     func(w http.ResponseWriter) { Write(w, http.StatusTeapot, map[string]string{"a": "<b>"}) },
		"WriteBody": func(w http.ResponseWriter) { WriteBody(w, http.StatusTeapot, []byte(`{"a":"\u003cb\u003e"}`+"\n")) },
	} {
		t.Run(name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			write(rec)
			if rec.Code != http.StatusTeapot {
				t.Errorf("status %d, want %d", rec.Code, http.StatusTeapot)
			}
			for h, want := range map[string]string{"Content-Type": "application/json", "Cache-Control": "no-store",
				"Pragma": "no-cache", "X-Content-Type-Options": "nosniff"} {
				if got := rec.Header().Get(h); got != want {
					t.Errorf("%s = %q, want %q", h, got, want)
				}
			}
			var got map[string]string
			if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || got["a"] != "<b>" {
				t.Errorf("body %q: %v %v", rec.Body, got, err)
			}
		})
	}
}
