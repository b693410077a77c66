package server

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"go.uber.org/zap"

	"github.com/guestpass/guestpass/pkg/config"
	"github.com/guestpass/guestpass/provider/login"
)

// No mux holds more patterns with more tenants. ServeMux checks each
// pattern it registers against every pattern ending in a slash it holds,
// so one mux of every tenant's patterns made a start (and a reload)
// quadratic in the tenants: 20 s with a thousand. Counted, not timed: the
// server's mux holds as many patterns with 40 tenants as with one, each
// tenant's mux as many as the one tenant's, and every pattern is on one
// mux.
func TestNoMuxGrowsWithTheTenants(t *testing.T) {
	one := testRouter(1)
	rootOne, tenantOne := holds(one.mux, one.groups), holds(one.tenants["t0"], one.groups)
	if rootOne == 0 || tenantOne == 0 {
		t.Fatalf("the muxes hold %d and %d patterns: the count sees none", rootOne, tenantOne)
	}
	const n = 40
	many := testRouter(n)
	if got := holds(many.mux, many.groups); got != rootOne {
		t.Errorf("the server's mux holds %d patterns with %d tenants, %d with one", got, n, rootOne)
	}
	if len(many.tenants) != n {
		t.Fatalf("%d tenant muxes for %d tenants", len(many.tenants), n)
	}
	total := rootOne
	for id, mux := range many.tenants {
		got := holds(mux, many.groups)
		if got != tenantOne {
			t.Errorf("tenant %s's mux holds %d patterns, one tenant's %d", id, got, tenantOne)
		}
		total += got
	}
	if total != len(many.groups) {
		t.Errorf("the muxes hold %d patterns of the %d registered", total, len(many.groups))
	}
}

// An unclean path is redirected by the mux that holds the pattern its
// clean form matches, and measured under that pattern's label, as when
// one mux held every tenant's patterns.
func TestUncleanPathsGoToTheTenantTheyName(t *testing.T) {
	rt := testRouter(2)
	for path, want := range map[string]string{
		"/t0/../t1/login":      "GET /t1/login",
		"/t1//login":           "GET /t1/login",
		"/nosuch/../t0/login/": "/t0/login/",
		"/t0/../healthz":       "/healthz",
		"/t0/login":            "GET /t0/login",
		"/t%30/login":          "GET /t0/login",
		"/%740/../t1/login":    "GET /t1/login",
	} {
		r := httptest.NewRequest(http.MethodGet, path, nil)
		rt.ServeHTTP(httptest.NewRecorder(), r)
		if r.Pattern != want || rt.groups[r.Pattern] == "" {
			t.Errorf("%s: pattern %q (label %q), want %q", path, r.Pattern, rt.groups[r.Pattern], want)
		}
	}
}

// testRouter routes n tenants (t0, t1, ...) with a page route of each kind
// the login handler has (a method, none) and an admin API.
func testRouter(n int) *Router {
	h := http.NotFoundHandler()
	tenants := map[string]Tenant{}
	for i := range n {
		tenants[fmt.Sprintf("t%d", i)] = Tenant{OP: h, Admin: h,
			Pages: []login.Route{{Method: http.MethodGet, Path: "/login", Handler: h}, {Path: "/login/", Handler: h}}}
	}
	return newRouter(&config.Config{}, tenants, nil, nil, zap.NewNop(), nil)
}

// holds counts the patterns mux holds: those it matches a request to with
// the pattern itself.
func holds(mux *http.ServeMux, patterns map[string]string) int {
	n := 0
	for p := range patterns {
		method, path, ok := strings.Cut(p, " ")
		if !ok {
			method, path = http.MethodGet, p
		}
		segs := strings.Split(path, "/")
		for i, s := range segs {
			if strings.HasPrefix(s, "{") {
				segs[i] = "zz"
			}
		}
		if _, got := mux.Handler(httptest.NewRequest(method, strings.Join(segs, "/"), nil)); got == p {
			n++
		}
	}
	return n
}
