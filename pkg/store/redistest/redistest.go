// Package redistest gives tests a real Redis: a private redis-server on a
// free 127.0.0.1 port (or on a unix socket) that a test may kill (an
// outage) and start again, or the server named by $REDIS_URL when one is
// provided.
package redistest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/guestpass/guestpass/pkg/redisproc"
)

// EnvURL names the environment variable that points tests at an existing
// Redis instead of a private one.
const EnvURL = "REDIS_URL"

// Server is a Redis reachable at Addr. Private servers can be stopped and
// restarted; an external one ($REDIS_URL) cannot.
type Server struct {
	// Addr is host:port, or the socket's path for a server from
	// StartUnix (go-redis dials a unix socket for an address that starts
	// with '/').
	Addr string
	// DB, Username and Password come from $REDIS_URL (zero for a private
	// server).
	DB       int
	Username string
	Password string

	tb       testing.TB // for Skip on an external server; nil from Launch
	external bool

	proc *redisproc.Server // nil for an external server
}

// Start returns a Redis for the test: $REDIS_URL when set, otherwise a
// private redis-server (from PATH) that is stopped in t.Cleanup.
func Start(t testing.TB) *Server {
	t.Helper()
	if u := os.Getenv(EnvURL); u != "" {
		s, err := external(u)
		if err != nil {
			t.Fatalf("redistest: %v", err)
		}
		s.tb = t
		return s
	}
	s, err := launch(redisproc.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatalf("redistest: %v", err)
	}
	s.tb = t
	t.Cleanup(s.Close)
	return s
}

// StartUnix returns a private redis-server that listens on a unix socket
// only (no TCP port), stopped in t.Cleanup. It skips the test when
// $REDIS_URL is set: that server is the one tests are meant to use.
func StartUnix(t testing.TB) *Server {
	t.Helper()
	if os.Getenv(EnvURL) != "" {
		t.Skipf("redistest: a unix socket needs a private redis-server; $%s is set", EnvURL)
	}
	dir := t.TempDir()
	s, err := launch(redisproc.Options{Dir: dir, Unix: filepath.Join(dir, "redis.sock")})
	if err != nil {
		t.Fatalf("redistest: %v", err)
	}
	s.tb = t
	t.Cleanup(s.Close)
	return s
}

// Launch is Start for TestMain, where there is no testing.TB: the caller
// must call Close. Stop and Restart panic on an external server obtained
// this way (there is no test to skip).
func Launch() (*Server, error) {
	if u := os.Getenv(EnvURL); u != "" {
		return external(u)
	}
	// No Dir: redisproc makes a temp dir and Close removes it.
	return launch(redisproc.Options{})
}

// Main is a package's TestMain when its tests share one Redis: it
// launches the server, points *shared at it, runs the tests, closes the
// server and exits with the tests' code.
func Main(m *testing.M, shared **Server) {
	srv, err := Launch()
	if err != nil {
		fmt.Fprintln(os.Stderr, "redis:", err)
		os.Exit(1)
	}
	*shared = srv
	code := m.Run()
	srv.Close()
	os.Exit(code)
}

// External reports whether the server came from $REDIS_URL.
func (s *Server) External() bool { return s.external }

func external(rawURL string) (*Server, error) {
	o, err := redis.ParseURL(rawURL)
	if err != nil {
		return nil, fmt.Errorf("parse $%s: %w", EnvURL, err)
	}
	return &Server{Addr: o.Addr, DB: o.DB, Username: o.Username, Password: o.Password, external: true}, nil
}

// launch starts a private server: no snapshots, no AOF, on a free port
// unless o names a socket.
func launch(o redisproc.Options) (*Server, error) {
	o.Args = []string{"--save", "", "--appendonly", "no", "--daemonize", "no"}
	p, err := redisproc.Start(context.Background(), o)
	if err != nil {
		return nil, err
	}
	return &Server{Addr: p.Addr, proc: p}, nil
}

// Stop kills the server (SIGKILL: an outage, not a clean shutdown) and
// waits until it has exited. On an external server it skips the test, so
// call it from the test goroutine.
func (s *Server) Stop() {
	s.mustBePrivate("Stop")
	s.kill()
}

// Restart starts the server again on the same address, empty. On an
// external server it skips the test.
func (s *Server) Restart() {
	s.mustBePrivate("Restart")
	err := s.proc.Restart(context.Background())
	if err == nil {
		return
	}
	if s.tb != nil {
		s.tb.Fatalf("redistest: restart: %v", err)
	}
	panic(fmt.Sprintf("redistest: restart: %v", err))
}

// Close stops a private server for good (and removes the directory made
// for Launch). It is a no-op for an external server.
func (s *Server) Close() {
	if s.external {
		return
	}
	s.proc.Close()
}

func (s *Server) mustBePrivate(op string) {
	if !s.external {
		return
	}
	msg := fmt.Sprintf("redistest: %s needs a private redis-server; $%s is set", op, EnvURL)
	if s.tb != nil {
		s.tb.Skip(msg)
	}
	panic(msg)
}

func (s *Server) kill() { s.proc.Stop() }

// KeyPrefix returns a key prefix unique to this test (and this run), so
// tests sharing one Redis never see each other's keys. It contains only
// [a-z0-9_:-], hence no hash-tag braces and no glob characters.
func KeyPrefix(t testing.TB) string {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatalf("redistest: random prefix: %v", err)
	}
	name := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-', r == '_':
			return r
		case r >= 'A' && r <= 'Z':
			return r + ('a' - 'A')
		default:
			return '_'
		}
	}, t.Name())
	if len(name) > 60 {
		name = name[len(name)-60:]
	}
	return "t:" + hex.EncodeToString(b[:]) + ":" + name + ":"
}
