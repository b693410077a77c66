package server

import (
	"net/http"
	"net/http/pprof"

	"github.com/guestpass/guestpass/pkg/config"
	"github.com/guestpass/guestpass/pkg/metrics"
)

// NewMetricsHandler serves Prometheus metrics at /metrics, for the
// metrics listener only (config metrics.listen). The public router never
// serves them: a counter such as codes mailed moves only for invited
// addresses, so a public /metrics is an enumeration oracle (B8).
//
// With c.Pprof it also serves net/http/pprof under /debug/pprof/. The
// handlers are mounted on this mux by hand: importing net/http/pprof also
// registers them on http.DefaultServeMux, which no listener of guestpass
// serves, so that registration exposes nothing.
func NewMetricsHandler(m *metrics.Metrics, c config.Metrics) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.Handler())
	if c.Pprof {
		mux.HandleFunc("GET /debug/pprof/", pprof.Index) // the index and every named profile (heap, goroutine, ...)
		mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("POST /debug/pprof/symbol", pprof.Symbol) // go tool pprof posts the addresses it resolves
		mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	}
	return mux
}
