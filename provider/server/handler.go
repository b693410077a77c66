package server

import (
	"context"
	"net/http"
	"sync"

	"github.com/guestpass/guestpass/connectors"
)

// Handler is a built guestpass handler. It owns what Build opened for its
// config (the tenants' connectors, some of which hold connection pools):
// after a reload has swapped in its successor, Close releases them once
// the requests it is still serving are done.
type Handler struct {
	next       http.Handler
	connectors []connectors.Connector

	mu       sync.Mutex
	inFlight int
	closing  bool
	idle     chan struct{} // closed when closing and nothing is in flight
	once     sync.Once
	closeErr error
}

func newHandler(next http.Handler, opened map[string][]connectors.Connector) *Handler {
	h := &Handler{next: next, idle: make(chan struct{})}
	for _, list := range opened {
		h.connectors = append(h.connectors, list...)
	}
	return h
}

// ServeHTTP counts the request in flight while it is served, so that Close
// does not pull a connection pool from under it.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	h.inFlight++
	h.mu.Unlock()
	defer h.done()
	h.next.ServeHTTP(w, r)
}

func (h *Handler) done() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.inFlight--
	if h.inFlight == 0 && h.closing {
		h.signalIdle()
	}
}

// signalIdle closes idle once; h.mu is held.
func (h *Handler) signalIdle() {
	select {
	case <-h.idle:
	default:
		close(h.idle)
	}
}

// Close waits until no request is in flight, or until ctx ends (the grace
// period: a stuck request must not keep an old pool open for ever), then
// closes the connectors that hold resources. It returns their first error;
// calling it again returns the same. A request that still reaches the
// handler afterwards (it was routed just before the swap) is served, and
// a closed connector answers it with an error page, which offers a retry.
func (h *Handler) Close(ctx context.Context) error {
	h.mu.Lock()
	h.closing = true
	if h.inFlight == 0 {
		h.signalIdle()
	}
	h.mu.Unlock()
	select {
	case <-h.idle:
	case <-ctx.Done():
	}
	h.once.Do(func() { h.closeErr = connectors.Close(h.connectors) })
	return h.closeErr
}
