package server

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/guestpass/guestpass/pkg/requestid"
)

// validRequestID accepts a caller's X-Request-Id only when it is short
// and plain ([A-Za-z0-9._-]{8,64}), so nothing odd reaches the logs. A
// loop rather than a regexp: every request asks.
func validRequestID(id string) bool {
	if len(id) < 8 || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

func newRequestID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// middleware: request id, body cap, panic recovery, access
// log and latency. The log line has the path but never the query (it may
// hold login hints, codes or tokens).
func (rt *Router) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := r.Header.Get("X-Request-Id")
		if !validRequestID(id) {
			id = newRequestID()
		}
		w.Header().Set("X-Request-Id", id)
		ctx := requestid.With(r.Context(), id)
		r = r.WithContext(ctx)
		if r.Body != nil && r.Body != http.NoBody {
			r.Body = http.MaxBytesReader(w, r.Body, MaxBodyBytes)
		}
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		defer func() {
			if p := recover(); p != nil {
				rt.log.Error("panic", requestid.Field(ctx), zap.Any("panic", p), zap.Stack("stack"))
				if !sw.wrote {
					writeJSONError(sw, http.StatusInternalServerError, "server_error", "internal error")
				}
			}
			d := time.Since(start)
			group := rt.group(r) // r.Pattern: the mux has served r
			rt.metrics.HTTPDuration.WithLabelValues(group, statusClass(sw.status)).Observe(d.Seconds())
			// Check first: below info (warn in many deployments) the line's
			// fields are never built.
			if ce := rt.log.Check(zap.InfoLevel, "request"); ce != nil {
				ce.Write(requestid.Field(ctx), zap.String("method", r.Method),
					zap.String("path", loggedPath(r.URL.Path)), zap.Int("status", sw.status), zap.Duration("duration", d))
			}
		}()
		next.ServeHTTP(sw, r)
	})
}

// statusClass is the code label of status ("2xx"), without building the
// string on every request.
func statusClass(status int) string {
	switch status / 100 {
	case 1:
		return "1xx"
	case 2:
		return "2xx"
	case 3:
		return "3xx"
	case 4:
		return "4xx"
	case 5:
		return "5xx"
	}
	return strconv.Itoa(status/100) + "xx"
}

// statusWriter records the status. A store outage is answered by the
// handler that got the error (a 503 page or JSON); nothing here rewrites
// an answer.
type statusWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (w *statusWriter) WriteHeader(code int) {
	if w.wrote {
		return
	}
	w.wrote = true
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the real writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// loggedPath is the path as the access log may show it: an invitation
// link's token ("/{tenant}/redeem/{token}") is a credential until used,
// so it is replaced.
func loggedPath(p string) string {
	rest := strings.TrimPrefix(p, "/")
	tenant, after, ok := strings.Cut(rest, "/")
	if !ok || !strings.HasPrefix(after, "redeem/") || after == "redeem/callback" {
		return p
	}
	return "/" + tenant + "/redeem/[redacted]"
}
