// Package server is guestpass's outermost HTTP handler: tenant context
// (PRODUCT.md B1), operations endpoints (B8; metrics have their own
// listener, see NewMetricsHandler) and the middleware every request passes
// (request id, access log, panic recovery, body cap).
package server

import (
	"context"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/guestpass/guestpass/pkg/config"
	"github.com/guestpass/guestpass/pkg/jsonhttp"
	"github.com/guestpass/guestpass/pkg/metrics"
	"github.com/guestpass/guestpass/pkg/requestid"
	"github.com/guestpass/guestpass/pkg/store"
	"github.com/guestpass/guestpass/provider/login"
	"github.com/guestpass/guestpass/provider/pages"
)

// MaxBodyBytes caps every request body (PRODUCT.md B10).
const MaxBodyBytes = 1 << 20

// Router routes requests: each tenant's sign-in pages and OP under
// "/{tenant}" on a ServeMux of the tenant's own; the operations endpoints
// and every other path (the tenant context errors of B1) on the server's.
//
// One ServeMux for every tenant made a start (and a reload) quadratic in
// the tenants: ServeMux checks each pattern it registers against every
// pattern ending in a slash it holds, and a tenant has a dozen. With a
// thousand tenants that was 20-30 s of CPU before the server answered; a
// tenant's mux holds its own patterns only.
type Router struct {
	cfg *config.Config
	mux *http.ServeMux
	// tenants are the tenants' muxes by id (ServeHTTP looks a path's
	// first segment up unescaped, as ServeMux matches segments).
	tenants map[string]*http.ServeMux
	groups  map[string]string // ServeMux pattern → route label of its latency
	st      store.Store
	pages   *pages.Renderer
	log     *zap.Logger
	metrics *metrics.Metrics
}

// Tenant is what one tenant serves: its sign-in pages' routes, and its OP
// for every other path under "/{id}/" (with "/{id}" removed).
type Tenant struct {
	Pages []login.Route
	OP    http.Handler
	// Admin, when set, serves the admin API under "/{id}/admin/v1/".
	Admin http.Handler
}

// NewRouter builds the root handler for the configured tenants (by id).
func NewRouter(cfg *config.Config, tenants map[string]Tenant, st store.Store, p *pages.Renderer,
	log *zap.Logger, m *metrics.Metrics) http.Handler {
	rt := newRouter(cfg, tenants, st, p, log, m)
	return rt.middleware(rt)
}

func newRouter(cfg *config.Config, tenants map[string]Tenant, st store.Store, p *pages.Renderer,
	log *zap.Logger, m *metrics.Metrics) *Router {
	rt := &Router{cfg: cfg, mux: http.NewServeMux(), tenants: make(map[string]*http.ServeMux, len(tenants)),
		groups: map[string]string{}, st: st, pages: p, log: log, metrics: m}
	rt.routeOperations()
	for id, t := range tenants {
		rt.routeTenant(id, t)
	}
	rt.routeElsewhere()
	return rt
}

// ServeHTTP hands r to the mux of the tenant its path names, or to the
// server's own mux. The tenant is read from the path ServeMux matches
// (escaped, and cleaned but for CONNECT): an unclean path reaches the mux
// that holds the pattern its clean form matches, which redirects it there
// under that pattern, as the one mux of all tenants did.
func (rt *Router) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := r.URL.EscapedPath()
	if r.Method != http.MethodConnect {
		p = path.Clean(p)
	}
	first, _, _ := strings.Cut(strings.TrimPrefix(p, "/"), "/")
	// ServeMux compares each segment unescaped: "/t%30/login" is /t0's.
	if u, err := url.PathUnescape(first); err == nil {
		first = u
	}
	if mux := rt.tenants[first]; mux != nil {
		mux.ServeHTTP(w, r)
		return
	}
	rt.mux.ServeHTTP(w, r)
}

// handle registers a pattern on mux and the route label its requests are
// measured under (a bounded set: one per pattern, never the path).
func (rt *Router) handle(mux *http.ServeMux, group, pattern string, h http.Handler) {
	mux.Handle(pattern, h)
	rt.groups[pattern] = group
}

// handleTree registers path and everything below it.
func (rt *Router) handleTree(mux *http.ServeMux, group, path string, h http.Handler) {
	rt.handle(mux, group, path, h)
	rt.handle(mux, group, path+"/", h)
}

// group is the route label of a request the mux has served.
func (rt *Router) group(r *http.Request) string {
	if g, ok := rt.groups[r.Pattern]; ok {
		return g
	}
	return "other"
}

func (rt *Router) routeOperations() {
	rt.handleTree(rt.mux, "healthz", "/healthz", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	}))
	rt.handleTree(rt.mux, "readyz", "/readyz", http.HandlerFunc(rt.ready))
	// Metrics have their own listener (NewMetricsHandler): here /metrics
	// is an unknown path like any other.
	rt.handleTree(rt.mux, "other", "/metrics", http.HandlerFunc(rt.unknownTenant))
	rt.handleTree(rt.mux, "other", "/favicon.ico", http.NotFoundHandler())
	rt.handleTree(rt.mux, "other", "/robots.txt", http.NotFoundHandler())
}

// routeTenant mounts a tenant under "/{id}". The OP's top-level paths
// below are measured under their own label; its other paths, and /apps
// and /logged-out, under "tenant/other".
func (rt *Router) routeTenant(id string, t Tenant) {
	prefix := "/" + id
	mux := http.NewServeMux()
	rt.tenants[id] = mux
	op := http.StripPrefix(prefix, t.OP)
	rt.handle(mux, "tenant/other", prefix, op)
	rt.handle(mux, "tenant/other", prefix+"/", op)
	for _, tree := range []string{"authorize", "oauth", "userinfo", "keys", "end_session", "revoke", "admin", ".well-known"} {
		rt.handleTree(mux, "tenant/"+tree, prefix+"/"+tree, op)
	}
	if t.Admin != nil {
		rt.handleTree(mux, "tenant/admin", prefix+"/admin/v1", http.StripPrefix(prefix+"/admin/v1", t.Admin))
	}
	for _, p := range t.Pages {
		group := "tenant/other"
		if p.Path == "/login" || strings.HasPrefix(p.Path, "/login/") {
			group = "tenant/login"
		}
		rt.handle(mux, group, p.Pattern(prefix), p.Handler)
	}
}

// routeElsewhere answers every path that names no tenant: a verified
// domain, a reserved id or none (B1), or an unknown tenant.
func (rt *Router) routeElsewhere() {
	rt.handle(rt.mux, "other", "/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rt.elsewhere(w, r, "", "")
	}))
	rt.handle(rt.mux, "other", "/{first}", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rt.elsewhere(w, r, r.PathValue("first"), "")
	}))
	rt.handle(rt.mux, "other", "/{first}/{rest...}", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rt.elsewhere(w, r, r.PathValue("first"), "/"+r.PathValue("rest"))
	}))
}

// elsewhere answers a path whose first segment, first, is not a tenant
// id; rest is the path after it.
func (rt *Router) elsewhere(w http.ResponseWriter, r *http.Request, first, rest string) {
	if t := rt.cfg.TenantByDomain(first); t != nil && first != "" {
		rt.toCanonical(w, r, t.ID, rest)
		return
	}
	if first == "" || config.IsReservedTenantID(first) {
		// A tenant-less request: /authorize, /.well-known/..., /apps, /.
		if id := r.URL.Query().Get("tenantid"); id != "" && isBrowserGet(r) {
			if t := rt.lookup(id); t != nil {
				q := r.URL.Query()
				q.Del("tenantid")
				rt.redirect(w, r, "/"+t.ID+r.URL.Path, q.Encode())
				return
			}
		}
		rt.noTenant(w, r)
		return
	}
	rt.unknownTenant(w, r)
}

func (rt *Router) lookup(idOrDomain string) *config.Tenant {
	if t := rt.cfg.Tenant(idOrDomain); t != nil {
		return t
	}
	return rt.cfg.TenantByDomain(idOrDomain)
}

// toCanonical redirects browser entry points reached through a verified
// domain to the tenant's canonical path, query preserved. Other methods
// get an error: a POST must not silently change address.
func (rt *Router) toCanonical(w http.ResponseWriter, r *http.Request, id, rest string) {
	if !isBrowserGet(r) {
		writeError(w, r, rt.pages, http.StatusNotFound, pages.MsgUnknownTenant, "use the tenant id in the path: /"+id+rest, nil)
		return
	}
	rt.redirect(w, r, "/"+id+rest, r.URL.RawQuery)
}

func (rt *Router) redirect(w http.ResponseWriter, r *http.Request, path, rawQuery string) {
	u := url.URL{Path: path, RawQuery: rawQuery}
	http.Redirect(w, r, u.String(), http.StatusFound)
}

func (rt *Router) noTenant(w http.ResponseWriter, r *http.Request) {
	example := strings.TrimSuffix(rt.cfg.BaseURL, "/") + "/{organisation}" + r.URL.Path
	if r.URL.Path == "/" {
		example = strings.TrimSuffix(rt.cfg.BaseURL, "/") + "/{organisation}/authorize?..."
	}
	writeError(w, r, rt.pages, http.StatusBadRequest, pages.MsgNoTenant,
		"the request must name the tenant in the path, e.g. "+example, map[string]string{"example": example})
}

func (rt *Router) unknownTenant(w http.ResponseWriter, r *http.Request) {
	writeError(w, r, rt.pages, http.StatusNotFound, pages.MsgUnknownTenant, "no such tenant", nil)
}

func (rt *Router) ready(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := rt.st.Ping(ctx); err != nil {
		rt.log.Warn("readiness: store unreachable", requestid.Field(r.Context()), zap.Error(err))
		jsonhttp.WriteBody(w, http.StatusServiceUnavailable, []byte(`{"status":"unavailable","store":"unreachable"}`+"\n"))
		return
	}
	jsonhttp.WriteBody(w, http.StatusOK, []byte(`{"status":"ready"}`+"\n"))
}

func isBrowserGet(r *http.Request) bool {
	return r.Method == http.MethodGet || r.Method == http.MethodHead
}

// wantsHTML tells people (browsers) from programs: browsers send
// text/html in Accept on navigation.
func wantsHTML(r *http.Request) bool {
	return strings.Contains(r.Header.Get("Accept"), "text/html")
}

// writeError answers with a page for people and JSON for programs; the
// page's message key is the JSON's error code.
func writeError(w http.ResponseWriter, r *http.Request, p *pages.Renderer, status int, key pages.MessageKey, desc string, extra map[string]string) {
	if wantsHTML(r) && p != nil {
		p.Render(w, r, pages.PageError, pages.Data{Status: status, Message: key, Extra: extra})
		return
	}
	writeJSONError(w, status, string(key), desc)
}

// writeJSONError writes {"error": code, "error_description": desc}.
func writeJSONError(w http.ResponseWriter, status int, code, desc string) {
	jsonhttp.Write(w, status, map[string]string{"error": code, "error_description": desc})
}
