package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"go.uber.org/zap"

	"github.com/guestpass/guestpass/pkg/metrics"
	"github.com/guestpass/guestpass/provider/server"
)

// metricsServer runs the Prometheus endpoint on its own listener
// (config metrics.listen; empty: no metrics listener). It is never the
// public listener (B8), so it can be kept on loopback or an internal
// network while the sign-in pages are public.
type metricsServer struct {
	m    *metrics.Metrics
	log  *zap.Logger
	addr string       // the configured address being served ("" = off)
	srv  *http.Server // nil when off
}

func newMetricsServer(m *metrics.Metrics, log *zap.Logger) *metricsServer {
	return &metricsServer{m: m, log: log}
}

// listen binds addr and starts serving on it. The bind happens here, not
// in the goroutine, so a port in use is an error the caller sees.
func (s *metricsServer) listen(addr string) (*http.Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics.listen %s: %w", addr, err)
	}
	srv := &http.Server{
		Handler:           server.NewMetricsHandler(s.m),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      30 * time.Second,
		MaxHeaderBytes:    16 << 10,
	}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("metrics listener stopped", zap.Error(err))
		}
	}()
	s.log.Info("metrics listening", zap.String("addr", ln.Addr().String()))
	return srv, nil
}

// switchTo makes addr the served address. An unchanged address does
// nothing; a new one is bound before anything else changes, so a reload
// whose address cannot be bound is refused as a whole. The returned
// function stops the previous listener: call it once the reload is
// committed (it is a no-op when nothing was replaced).
func (s *metricsServer) switchTo(addr string) (stopOld func(), err error) {
	if addr == s.addr {
		return func() {}, nil
	}
	var next *http.Server
	if addr != "" {
		if next, err = s.listen(addr); err != nil {
			return nil, err
		}
	}
	old := s.srv
	s.addr, s.srv = addr, next
	return func() { s.stop(old) }, nil
}

// close stops the current listener gracefully (SIGTERM).
func (s *metricsServer) close() {
	s.stop(s.srv)
	s.addr, s.srv = "", nil
}

func (s *metricsServer) stop(srv *http.Server) {
	if srv == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		s.log.Warn("metrics listener: shutdown", zap.Error(err))
	}
}
