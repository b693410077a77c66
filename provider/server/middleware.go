package server

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"regexp"
	"strconv"
	"time"

	"go.uber.org/zap"

	"github.com/guestpass/guestpass/pkg/requestid"
	"github.com/guestpass/guestpass/pkg/store"
	"github.com/guestpass/guestpass/provider/pages"
)

// requestIDPattern accepts a caller's X-Request-Id only when it is short
// and plain, so nothing odd reaches the logs.
var requestIDPattern = regexp.MustCompile(`^[A-Za-z0-9._-]{8,64}$`)

func newRequestID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// middleware: request id, body cap, outage marker, panic recovery, access
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
		ctx := store.WithOutageMarker(r.Context())
		ctx = requestid.With(ctx, id)
		r = r.WithContext(ctx)
		if r.Body != nil {
			r.Body = http.MaxBytesReader(w, r.Body, MaxBodyBytes)
		}
		sw := &statusWriter{ResponseWriter: w, r: r, pages: rt.pages, status: http.StatusOK}
		defer func() {
			if p := recover(); p != nil {
				rt.log.Error("panic", requestid.Field(ctx), zap.Any("panic", p), zap.Stack("stack"))
				if !sw.wrote {
					WriteJSONError(sw, http.StatusInternalServerError, "server_error", "internal error")
				}
			}
			d := time.Since(start)
			group := rt.group(r) // r.Pattern: the mux has served r
			rt.metrics.HTTPDuration.WithLabelValues(group, strconv.Itoa(sw.status/100)+"xx").Observe(d.Seconds())
			rt.log.Info("request",
				requestid.Field(ctx), zap.String("method", r.Method), zap.String("path", r.URL.Path),
				zap.Int("status", sw.status), zap.Duration("duration", d))
		}()
		next.ServeHTTP(sw, r)
	})
}

// statusWriter records the status, and turns a 500 caused by a store
// outage (as marked in the request context) into a clear 503.
type statusWriter struct {
	http.ResponseWriter
	r       *http.Request
	pages   *pages.Renderer
	status  int
	wrote   bool
	swallow bool
}

func (w *statusWriter) WriteHeader(code int) {
	if w.wrote {
		return
	}
	w.wrote = true
	// Any error answer on a request that found the store unreachable is
	// the outage's doing (zitadel reports a failed code lookup as
	// invalid_grant, a failed save as server_error): say so with a 503.
	if code >= 400 && code != http.StatusServiceUnavailable && store.HadOutage(w.r.Context()) {
		w.swallow = true
		w.status = http.StatusServiceUnavailable
		h := w.ResponseWriter.Header()
		h.Del("Content-Length")
		h.Set("Retry-After", "5")
		if WantsHTML(w.r) {
			writeError(w.ResponseWriter, w.r, w.pages, http.StatusServiceUnavailable, pages.MsgUnavailable, "", nil)
			return
		}
		// temporarily_unavailable is OAuth's word for it (RFC 6749 §4.1.2.1).
		WriteJSONError(w.ResponseWriter, http.StatusServiceUnavailable, "temporarily_unavailable",
			"the service is temporarily unavailable; try again shortly")
		return
	}
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	if w.swallow {
		return len(b), nil
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the real writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
