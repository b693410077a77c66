package login_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/guestpass/guestpass/provider/login"
	"github.com/guestpass/guestpass/provider/pages"
	"github.com/guestpass/guestpass/templates"
)

// TestRoutesRefuseOtherMethodsOnTheErrorPage: every sign-in path answers
// a method it does not take with the error page's 405 and an Allow that
// names the methods it does take, and an unknown /login/ path with the
// error page's 404; neither touches the store or the OP.
func TestRoutesRefuseOtherMethodsOnTheErrorPage(t *testing.T) {
	pg, err := pages.New(templates.FS)
	if err != nil {
		t.Fatal(err)
	}
	h := login.New(login.Deps{Tenant: login.Tenant{ID: "fabrikam", Branding: pages.Branding{TenantID: "fabrikam", DisplayName: "Fabrikam"}}, Pages: pg})
	srv := httptest.NewServer(routesMux(h))
	t.Cleanup(srv.Close)

	allowed := map[string][]string{}
	for _, rt := range h.Routes() {
		if rt.Method != "" {
			allowed[rt.Path] = append(allowed[rt.Path], rt.Method)
		}
	}
	if len(allowed) < 8 {
		t.Fatalf("only %d page paths: %v", len(allowed), allowed)
	}
	for path, methods := range allowed {
		check(t, srv.URL, http.MethodPut, path, http.StatusMethodNotAllowed, strings.Join(methods, ", "))
	}
	check(t, srv.URL, http.MethodGet, "/login/nosuch", http.StatusNotFound, "")
	check(t, srv.URL, http.MethodPost, "/login/", http.StatusNotFound, "")
}

// routesMux serves h's Routes at tenant-relative paths, as the server
// mounts them under "/{tenant}".
func routesMux(h *login.Handler) *http.ServeMux {
	mux := http.NewServeMux()
	for _, rt := range h.Routes() {
		mux.Handle(rt.Pattern(""), rt.Handler)
	}
	return mux
}

func check(t *testing.T, base, method, path string, status int, allow string) {
	t.Helper()
	req, _ := http.NewRequest(method, base+path, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != status || resp.Header.Get("Allow") != allow {
		t.Errorf("%s %s: %d Allow %q, want %d Allow %q", method, path, resp.StatusCode, resp.Header.Get("Allow"), status, allow)
	}
	if !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") || !strings.Contains(string(body), "Fabrikam") {
		t.Errorf("%s %s: not the tenant's error page: %q\n%s", method, path, resp.Header.Get("Content-Type"), body)
	}
}
