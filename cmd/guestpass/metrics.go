package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/guestpass/guestpass/pkg/config"
	"github.com/guestpass/guestpass/pkg/metrics"
	"github.com/guestpass/guestpass/provider/server"
)

// metricsServer runs the Prometheus endpoint (and, with metrics.pprof,
// the profiles) on its own listener (config metrics.listen; empty: no
// metrics listener). It is never the public listener (B8), so it can be
// kept on loopback or an internal network while the sign-in pages are
// public.
type metricsServer struct {
	m   *metrics.Metrics
	log *zap.Logger
	cfg config.Metrics // the settings being served (Listen "" = off)
	cur *metricsListener
}

// metricsListener is one bound address. Its handler can be replaced, so
// that a reload turning pprof on or off keeps the address it holds (binding
// the same address a second time would fail).
type metricsListener struct {
	srv *http.Server
	h   atomic.Pointer[http.Handler]
}

func (l *metricsListener) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	(*l.h.Load()).ServeHTTP(w, r)
}

func (l *metricsListener) serve(h http.Handler) { l.h.Store(&h) }

func newMetricsServer(m *metrics.Metrics, log *zap.Logger) *metricsServer {
	return &metricsServer{m: m, log: log}
}

// listen binds c.Listen and starts serving on it. The bind happens here,
// not in the goroutine, so a port in use is an error the caller sees.
func (s *metricsServer) listen(c config.Metrics) (*metricsListener, error) {
	ln, err := net.Listen("tcp", c.Listen)
	if err != nil {
		return nil, fmt.Errorf("metrics.listen %s: %w", c.Listen, err)
	}
	l := &metricsListener{}
	l.serve(server.NewMetricsHandler(s.m, c))
	l.srv = &http.Server{
		Handler:           l,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       10 * time.Second,
		// /metrics answers in milliseconds; the room is for a CPU profile
		// or trace, which samples for its ?seconds= (30 by default) before
		// it writes (pprof refuses a duration past this timeout). One
		// value whatever pprof says, so that a reload turning pprof on
		// keeps the listener.
		WriteTimeout:   2 * time.Minute,
		MaxHeaderBytes: 16 << 10,
	}
	go func() {
		if err := l.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("metrics listener stopped", zap.Error(err))
		}
	}()
	s.log.Info("metrics listening", zap.String("addr", ln.Addr().String()), zap.Bool("pprof", c.Pprof))
	return l, nil
}

// switchTo makes c the served settings. Unchanged settings do nothing; a
// new address is bound before anything else changes, so a reload whose
// address cannot be bound is refused as a whole. The returned function
// commits: it stops the previous listener, or, for the same address with
// pprof turned on or off, swaps the handler of the running one. Call it
// once the reload is committed.
func (s *metricsServer) switchTo(c config.Metrics) (commit func(), err error) {
	if c == s.cfg {
		return func() {}, nil
	}
	if c.Listen == s.cfg.Listen {
		l := s.cur
		s.cfg = c
		if l == nil { // no listener: nothing serves the settings
			return func() {}, nil
		}
		return func() {
			l.serve(server.NewMetricsHandler(s.m, c))
			s.log.Info("metrics listener", zap.String("addr", c.Listen), zap.Bool("pprof", c.Pprof))
		}, nil
	}
	var next *metricsListener
	if c.Listen != "" {
		if next, err = s.listen(c); err != nil {
			return nil, err
		}
	}
	old := s.cur
	s.cfg, s.cur = c, next
	return func() { s.stop(old) }, nil
}

// close stops the current listener gracefully (SIGTERM).
func (s *metricsServer) close() {
	s.stop(s.cur)
	s.cfg, s.cur = config.Metrics{}, nil
}

func (s *metricsServer) stop(l *metricsListener) {
	if l == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := l.srv.Shutdown(ctx); err != nil {
		s.log.Warn("metrics listener: shutdown", zap.Error(err))
	}
}
