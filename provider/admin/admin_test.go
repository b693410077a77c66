package admin

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
)

var errInvalid, errNotAdmin = errors.New("invalid"), errors.New("not admin")

// verifier accepts the token "admin" and refuses any other.
type verifier struct{}

func (verifier) VerifyAdminToken(_ context.Context, raw string) (string, []string, error) {
	if raw == "admin" {
		return "cli", nil, nil
	}
	return "", nil, errInvalid
}

// policies has no override stored.
type policies struct{}

func (policies) EmailOTPOverride(context.Context, string) (bool, bool, error) {
	return false, false, nil
}
func (policies) SetEmailOTP(context.Context, string, bool) error { return nil }
func (policies) ClearEmailOTP(context.Context, string) error     { return nil }

// TestEveryAnswerNoStore: the API's answers carry tokens' verdicts, guests
// and policy, and none may be cached: a success, a refusal, a 405 and an
// unknown path all say no-store (ServeHTTP sets it once for all).
func TestEveryAnswerNoStore(t *testing.T) {
	h := New(Options{Tenant: "t", Issuer: "https://id.example/t", Verifier: verifier{}, Policies: policies{},
		ErrTokenInvalid: errInvalid, ErrNotAdmin: errNotAdmin})
	for _, c := range []struct {
		method, path, token string
		status              int
	}{
		{http.MethodGet, "/policy", "admin", http.StatusOK},
		{http.MethodGet, "/policy", "", http.StatusUnauthorized},
		{http.MethodGet, "/policy", "stolen", http.StatusUnauthorized},
		{http.MethodPost, "/policy", "admin", http.StatusMethodNotAllowed},
		{http.MethodGet, "/nowhere", "", http.StatusNotFound},
	} {
		r := httptest.NewRequest(c.method, c.path, nil)
		if c.token != "" {
			r.Header.Set("Authorization", "Bearer "+c.token)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != c.status {
			t.Errorf("%s %s: status %d, want %d", c.method, c.path, w.Code, c.status)
		}
		if got := w.Header().Get("Cache-Control"); got != "no-store" {
			t.Errorf("%s %s: Cache-Control %q, want no-store", c.method, c.path, got)
		}
	}
}
