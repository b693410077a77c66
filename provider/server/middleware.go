package server

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/guestpass/guestpass/pkg/requestid"
)

// requestIDPattern accepts a caller's X-Request-Id only when it is short
// and plain, so nothing odd reaches the logs.
var requestIDPattern = regexp.MustCompile(`^[A-Za-z0-9._-]{8,64}$`)

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
		if !requestIDPattern.MatchString(id) {
			id = newRequestID()
		}
		w.Header().Set("X-Request-Id", id)
		ctx := requestid.With(r.Context(), id)
		r = r.WithContext(ctx)
		if r.Body != nil {
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
			rt.metrics.HTTPDuration.WithLabelValues(group, strconv.Itoa(sw.status/100)+"xx").Observe(d.Seconds())
			rt.log.Info("request",
				requestid.Field(ctx), zap.String("method", r.Method), zap.String("path", loggedPath(r.URL.Path)),
				zap.Int("status", sw.status), zap.Duration("duration", d))
		}()
		next.ServeHTTP(sw, r)
	})
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
