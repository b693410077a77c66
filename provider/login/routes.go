package login

import (
	"net/http"
	"strings"

	"github.com/guestpass/guestpass/provider/pages"
)

// Route is one endpoint of the sign-in pages: a ServeMux pattern's method
// ("" for any) and tenant-relative path, and its handler.
type Route struct {
	Method  string
	Path    string // "/login/email": the server mounts it under "/{tenant}"
	Handler http.Handler
}

// Pattern is the route's ServeMux pattern under prefix ("/fabrikam").
func (rt Route) Pattern(prefix string) string {
	if rt.Method == "" {
		return prefix + rt.Path
	}
	return rt.Method + " " + prefix + rt.Path
}

// Routes are the sign-in pages' endpoints. Every page path also answers
// the methods it does not take, with a 405 on the error page (a bare
// ServeMux would answer in plain text), and any other path under /login/
// with the error page's 404. A GET route answers HEAD too (ServeMux).
func (h *Handler) Routes() []Route {
	get, post := http.MethodGet, http.MethodPost
	routes := []Route{
		{get, "/login", http.HandlerFunc(h.start)},
		{post, "/login/email", http.HandlerFunc(h.submitEmail)},
		{get, "/login/send", h.flowPage(pages.PageSend)},
		{post, "/login/send", http.HandlerFunc(h.send)},
		{get, "/login/code", h.flowPage(pages.PageCode)},
		{post, "/login/verify", http.HandlerFunc(h.verify)},
		{post, "/login/resend", http.HandlerFunc(h.resend)},
		{get, "/login/password", http.HandlerFunc(h.passwordPage)},
		{post, "/login/password", http.HandlerFunc(h.submitPassword)},
		// GET for a query answer; POST (response_mode=form_post) is
		// turned into that GET, which carries the Lax flow cookies.
		{get, "/login/callback", http.HandlerFunc(h.callback)},
		{post, "/login/callback", http.HandlerFunc(h.callbackPost)},
		{get, "/apps", http.HandlerFunc(h.apps)},
		{get, "/logged-out", http.HandlerFunc(h.signedOut)},
	}
	routes = append(routes, h.methodNotAllowed(routes)...)
	return append(routes, Route{"", "/login/", http.HandlerFunc(h.notFound)})
}

// methodNotAllowed adds, for each path of routes, a route for any other
// method: 405 with Allow naming the methods the path takes.
func (h *Handler) methodNotAllowed(routes []Route) []Route {
	allowed := map[string][]string{}
	var paths []string
	for _, rt := range routes {
		if allowed[rt.Path] == nil {
			paths = append(paths, rt.Path)
		}
		allowed[rt.Path] = append(allowed[rt.Path], rt.Method)
	}
	extra := make([]Route, 0, len(paths))
	for _, p := range paths {
		allow := strings.Join(allowed[p], ", ")
		extra = append(extra, Route{"", p, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Allow", allow)
			h.errorPage(w, r, http.StatusMethodNotAllowed, pages.MsgInvalidRequest)
		})})
	}
	return extra
}

func (h *Handler) signedOut(w http.ResponseWriter, r *http.Request) {
	h.render(w, r, pages.PageSignedOut, pages.Data{Message: pages.MsgSignedOut})
}

func (h *Handler) notFound(w http.ResponseWriter, r *http.Request) {
	h.errorPage(w, r, http.StatusNotFound, pages.MsgInvalidRequest)
}
