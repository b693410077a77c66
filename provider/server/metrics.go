package server

import (
	"net/http"

	"github.com/guestpass/guestpass/pkg/metrics"
)

// NewMetricsHandler serves Prometheus metrics at /metrics, for the
// metrics listener only (config metrics.listen). The public router never
// serves them: a counter such as codes mailed moves only for invited
// addresses, so a public /metrics is an enumeration oracle (B8).
func NewMetricsHandler(m *metrics.Metrics) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.Handler())
	return mux
}
