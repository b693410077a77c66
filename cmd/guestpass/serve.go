package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"reflect"
	"runtime/debug"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/guestpass/guestpass/pkg/config"
	"github.com/guestpass/guestpass/pkg/mail"
	"github.com/guestpass/guestpass/pkg/metrics"
	"github.com/guestpass/guestpass/pkg/store"
	"github.com/guestpass/guestpass/pkg/store/memory"
	"github.com/guestpass/guestpass/pkg/store/redisstore"
	"github.com/guestpass/guestpass/provider/server"
)

// newLogger builds the zap logger the config asks for, behind the log
// guard.
func newLogger(c config.Log, out io.Writer) (*zap.Logger, error) {
	lvl, err := zapcore.ParseLevel(c.Level)
	if err != nil {
		return nil, fmt.Errorf("log.level: %w", err)
	}
	var enc zapcore.Encoder
	if c.Format == "json" {
		ec := zap.NewProductionEncoderConfig()
		ec.EncodeTime = zapcore.ISO8601TimeEncoder
		enc = zapcore.NewJSONEncoder(ec)
	} else {
		ec := zap.NewDevelopmentEncoderConfig()
		ec.EncodeTime = zapcore.ISO8601TimeEncoder
		enc = zapcore.NewConsoleEncoder(ec)
	}
	// Every line passes the log guard: no token, secret or unmasked
	// address, and a bounded size, whoever logs it (B8).
	return zap.New(server.GuardCore(zapcore.NewCore(enc, zapcore.AddSync(out), lvl))), nil
}

// openStore connects the configured store.
func openStore(c config.Store, log *zap.Logger) (store.Store, error) {
	switch c.Type {
	case "redis":
		return redisstore.New(redisstore.Options{
			Addrs: c.Redis.Addrs, MasterName: c.Redis.MasterName, Username: c.Redis.Username,
			Password: c.Redis.Password, DB: c.Redis.DB, KeyPrefix: c.Redis.KeyPrefix,
		})
	default:
		log.Warn("store.type is memory: every code, session, guest and signing key is lost on restart")
		return memory.New(nil), nil
	}
}

// openMail builds the transport and the asynchronous dispatcher.
// The outbox lives in st: with Redis, mails survive a crash and any
// replica sends them.
func openMail(c config.Mail, st store.Store, log *zap.Logger, m *metrics.Metrics) (*mail.Dispatcher, io.Closer, error) {
	var t mail.Transport
	var closer io.Closer = io.NopCloser(nil)
	if c.Driver == "smtp" {
		s, err := mail.NewSMTP(server.SMTPOptions(c.SMTP), c.From)
		if err != nil {
			return nil, nil, err
		}
		t, closer = s, s
	} else {
		log.Warn("mail.driver is log: mails (and their codes) are printed to this log; development only")
		t = &mail.LogTransport{Logger: log.Named("mail")}
	}
	d := mail.NewDispatcher(t, c.From, mail.DispatcherOptions{
		// QueueSize is per tenant: one tenant's burst cannot take another's room.
		// No retry cap: a mail is retried while its code or link is valid.
		Workers: max(c.SMTP.PoolSize, 1), QueueSize: c.QueuePerTenant, Backoff: time.Second,
		Store: st, Logger: log.Named("mail"), Metrics: m,
	})
	return d, closer, nil
}

// redisLogger sends go-redis's own messages (failed dials during an
// outage) to the zap log instead of the standard logger.
type redisLogger struct{ l *zap.SugaredLogger }

func (r redisLogger) Printf(_ context.Context, format string, v ...any) { r.l.Warnf(format, v...) }

// swapHandler lets SIGHUP replace the whole handler atomically.
type swapHandler struct {
	h atomic.Pointer[server.Handler]
}

func (s *swapHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.h.Load().ServeHTTP(w, r)
}

// set serves h from now on and returns the handler it replaced (nil the
// first time), which the caller closes.
func (s *swapHandler) set(h *server.Handler) *server.Handler { return s.h.Swap(h) }

// closeGrace bounds how long a replaced handler waits for its requests in
// flight before its connectors (LDAP connection pools) are closed: the
// server's WriteTimeout, after which no answer could be written anyway.
const closeGrace = 30 * time.Second

// closeReplaced closes a handler a reload replaced, in the background so
// that the signal loop goes on, once its requests are done or closeGrace
// has passed. Without it each reload would leak the old pools.
func closeReplaced(old *server.Handler, log *zap.Logger) {
	if old == nil {
		return
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), closeGrace)
		defer cancel()
		if err := old.Close(ctx); err != nil {
			log.Warn("reload: closing the replaced connectors", zap.Error(err))
		}
	}()
}

// serveGCPercent is the collector's target when GOGC is not set and the
// store is Redis: a sign-in allocates a few hundred KiB that die with it,
// over a live heap of a few MiB (the tenants' parts; the data is in
// Redis), so Go's default (100) collects every few dozen sign-ins. At 400
// a sign-in costs about a sixth less CPU (guestpass bench: 2.06 -> 1.70
// ms), for a heap up to five times the live one (README "Speed": 43 MiB
// for one tenant, ~500 MiB for a thousand). With the memory store the
// live heap is the data itself, so Go's default stays. GOGC and
// GOMEMLIMIT still rule when set.
const serveGCPercent = 400

func tuneGC(getenv func(string) string, storeType string) {
	if getenv("GOGC") == "" && storeType == "redis" {
		debug.SetGCPercent(serveGCPercent)
	}
}

func serve(ctx context.Context, path string, stderr io.Writer) error {
	cfg, err := config.Load(path)
	if err != nil {
		return err
	}
	log, err := newLogger(cfg.Log, stderr)
	if err != nil {
		return err
	}
	defer func() { _ = log.Sync() }()
	tuneGC(os.Getenv, cfg.Store.Type)
	// zitadel/oidc logs some request errors through slog's default logger:
	// send those to the same zap log (main is the one place for this).
	slog.SetDefault(slog.New(server.NewSlogHandler(log.Named("op"))))
	redis.SetLogger(redisLogger{log.Named("redis").Sugar()})
	for _, w := range cfg.Warnings {
		log.Warn("config", zap.String("warning", w))
	}
	if cfg.GeneratedSecrets {
		log.Warn("dev mode: secrets were generated for this run; sessions and codes do not survive a restart")
	}
	st, err := openStore(cfg.Store, log)
	if err != nil {
		return err
	}
	defer st.Close()
	m := metrics.New()
	disp, mailCloser, err := openMail(cfg.Mail, st, log, m)
	if err != nil {
		return err
	}
	defer mailCloser.Close()

	deps := server.Deps{Config: cfg, Store: st, Mailer: disp, Logger: log, Metrics: m}
	h, err := server.Build(deps)
	if err != nil {
		return err
	}
	var root swapHandler
	root.set(h)

	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen %s: %w", cfg.Listen, err)
	}
	mx := newMetricsServer(m, log)
	if _, err := mx.switchTo(cfg.Metrics); err != nil {
		_ = ln.Close()
		return err
	}
	defer mx.close() // on every way out; a no-op after shutdown
	srv := &http.Server{
		Handler:           &root,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
	}
	log.Info("guestpass listening", zap.String("addr", ln.Addr().String()), zap.String("baseURL", cfg.BaseURL),
		zap.Int("tenants", len(cfg.Tenants)), zap.String("store", cfg.Store.Type), zap.String("version", version))
	// Signals are caught before the first request can be served, so a
	// SIGHUP sent as soon as the server answers never kills the process.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	defer signal.Stop(sigs)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	for {
		select {
		case err := <-errc:
			return err
		case <-ctx.Done():
			return shutdown(srv, mx, disp, &root, log)
		case s := <-sigs:
			if s != syscall.SIGHUP {
				log.Info("shutting down", zap.String("signal", s.String()))
				return shutdown(srv, mx, disp, &root, log)
			}
			if next := reload(path, cfg, deps, &root, mx, log); next != nil {
				cfg = next
			}
		}
	}
}

// reload applies a changed config; a bad one keeps the old config running.
// The store, listener and mail settings stay as they were at start; the
// metrics listener moves to a changed metrics.listen (or stops when it is
// removed), and a new address that cannot be bound refuses the reload; a
// changed metrics.pprof turns the profiles on or off on the listener.
func reload(path string, old *config.Config, deps server.Deps, root *swapHandler, mx *metricsServer, log *zap.Logger) *config.Config {
	cfg, err := config.Load(path)
	if err != nil {
		log.Error("reload refused: keeping the running config", zap.Error(err))
		return nil
	}
	// Every key of these is read once at start (the store's client, the
	// mail transport and queue, the logger): say so for any of them, not
	// only for a few, rather than drop a change without a word.
	if cfg.Listen != old.Listen || !reflect.DeepEqual(cfg.Store, old.Store) || !reflect.DeepEqual(cfg.Mail, old.Mail) ||
		!reflect.DeepEqual(cfg.Log, old.Log) {
		log.Warn("reload: listen, store, mail and log changes need a restart; kept as they were")
	}
	if cfg.GeneratedSecrets {
		// Dev mode generated fresh secrets: keep the running ones so
		// sessions and codes stay valid across the reload.
		cfg.Secrets = old.Secrets
	}
	deps.Config = cfg
	h, err := server.Build(deps)
	if err != nil {
		log.Error("reload refused: keeping the running config", zap.Error(err))
		return nil
	}
	commitMetrics, err := mx.switchTo(cfg.Metrics)
	if err != nil {
		_ = h.Close(context.Background()) // never served: closes at once
		log.Error("reload refused: keeping the running config", zap.Error(err))
		return nil
	}
	closeReplaced(root.set(h), log)
	commitMetrics()
	log.Info("config reloaded", zap.Int("tenants", len(cfg.Tenants)))
	return cfg
}

func shutdown(srv *http.Server, mx *metricsServer, disp *mail.Dispatcher, root *swapHandler, log *zap.Logger) error {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err := srv.Shutdown(ctx)
	// Metrics stay up while in-flight requests finish, then stop too.
	mx.close()
	if cerr := root.h.Load().Close(ctx); cerr != nil {
		log.Warn("closing the connectors", zap.Error(cerr))
	}
	if derr := disp.Close(ctx); derr != nil {
		log.Warn("mail queue not drained", zap.Error(derr))
	}
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	log.Info("stopped")
	return nil
}
