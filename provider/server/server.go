// Package server is guestpass's outermost HTTP handler: tenant context
// (PRODUCT.md B1), operations endpoints (B8; metrics have their own
// listener, see NewMetricsHandler) and the middleware every request passes
// (request id, access log, panic recovery, body cap, outage → 503).
package server

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/guestpass/guestpass/pkg/config"
	"github.com/guestpass/guestpass/pkg/metrics"
	"github.com/guestpass/guestpass/pkg/requestid"
	"github.com/guestpass/guestpass/pkg/store"
	"github.com/guestpass/guestpass/provider/pages"
)

// MaxBodyBytes caps every request body (PRODUCT.md B10).
const MaxBodyBytes = 1 << 20

// Router routes requests to tenants by the first path segment.
type Router struct {
	cfg     *config.Config
	tenants map[string]http.Handler // id → handler of tenant-relative paths
	st      store.Store
	pages   *pages.Renderer
	log     *zap.Logger
	metrics *metrics.Metrics
}

// NewRouter builds the root handler. tenants maps each configured tenant id
// to the handler of its paths (with the "/{id}" prefix removed).
func NewRouter(cfg *config.Config, tenants map[string]http.Handler, st store.Store, p *pages.Renderer,
	log *zap.Logger, m *metrics.Metrics) http.Handler {
	rt := &Router{cfg: cfg, tenants: tenants, st: st, pages: p, log: log, metrics: m}
	return rt.middleware(http.HandlerFunc(rt.route))
}

func (rt *Router) route(w http.ResponseWriter, r *http.Request) {
	seg, rest := splitFirst(r.URL.Path)
	switch seg {
	case "healthz":
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
		return
	case "readyz":
		rt.ready(w, r)
		return
	case "metrics":
		// Metrics have their own listener (NewMetricsHandler): here
		// /metrics is an unknown path like any other.
		rt.unknownTenant(w, r)
		return
	case "favicon.ico", "robots.txt":
		http.NotFound(w, r)
		return
	}
	if h, ok := rt.tenants[seg]; ok && seg != "" {
		rt.serveTenant(w, r, seg, rest, h)
		return
	}
	if t := rt.cfg.TenantByDomain(seg); t != nil && seg != "" {
		rt.toCanonical(w, r, t.ID, rest)
		return
	}
	if seg == "" || config.IsReservedTenantID(seg) {
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

func (rt *Router) serveTenant(w http.ResponseWriter, r *http.Request, id, rest string, h http.Handler) {
	r2 := r.Clone(r.Context())
	r2.URL.Path = rest
	r2.URL.RawPath = ""
	h.ServeHTTP(w, r2)
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
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if err := rt.st.Ping(ctx); err != nil {
		rt.log.Warn("readiness: store unreachable", requestid.Field(r.Context()), zap.Error(err))
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte(`{"status":"unavailable","store":"unreachable"}` + "\n"))
		return
	}
	_, _ = w.Write([]byte(`{"status":"ready"}` + "\n"))
}

// splitFirst splits "/a/b/c" into "a" and "/b/c".
func splitFirst(p string) (string, string) {
	p = strings.TrimPrefix(p, "/")
	if i := strings.IndexByte(p, '/'); i >= 0 {
		return p[:i], p[i:]
	}
	return p, ""
}

func isBrowserGet(r *http.Request) bool {
	return r.Method == http.MethodGet || r.Method == http.MethodHead
}

// WantsHTML tells people (browsers) from programs: browsers send
// text/html in Accept on navigation.
func WantsHTML(r *http.Request) bool {
	return strings.Contains(r.Header.Get("Accept"), "text/html")
}

// writeError answers with a page for people and JSON for programs; the
// page's message key is the JSON's error code.
func writeError(w http.ResponseWriter, r *http.Request, p *pages.Renderer, status int, key pages.MessageKey, desc string, extra map[string]string) {
	if WantsHTML(r) && p != nil {
		p.Render(w, r, pages.PageError, pages.Data{Status: status, Message: key, Extra: extra})
		return
	}
	WriteJSONError(w, status, string(key), desc)
}

// WriteJSONError writes {"error": code, "error_description": desc}.
func WriteJSONError(w http.ResponseWriter, status int, code, desc string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": desc})
}
