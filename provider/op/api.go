package op

import (
	"net/http"

	"github.com/rs/cors"
)

// serveAPI routes the endpoints guestpass answers itself (token.go,
// introspect.go, userinfo.go).
func (t *Tenant) serveAPI(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/oauth/token":
		t.serveToken(w, r)
	case "/oauth/introspect":
		t.serveIntrospect(w, r)
	case "/revoke":
		t.serveRevoke(w, r)
	case "/userinfo":
		t.serveUserinfo(w, r)
	default:
		http.NotFound(w, r)
	}
}

// corsOptions allow exactly the origins the tenant's clients list, and
// never with credentials: these endpoints take bearer tokens and client
// credentials, not cookies. The origin check is a function because
// rs/cors reads an empty AllowedOrigins (a tenant whose clients list none)
// as "every origin", and a "*" entry as a wildcard.
func corsOptions(origins []string) *cors.Options {
	allowed := make(map[string]bool, len(origins))
	for _, o := range origins {
		allowed[o] = true
	}
	return &cors.Options{
		AllowOriginFunc:  func(origin string) bool { return allowed[origin] },
		AllowedMethods:   []string{http.MethodGet, http.MethodPost},
		AllowedHeaders:   []string{"Authorization", "Content-Type", "Accept"},
		AllowCredentials: false,
	}
}
