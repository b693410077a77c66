// Package redistest gives tests a real Redis: a private redis-server on a
// free 127.0.0.1 port (or on a unix socket) that a test may kill (an
// outage) and start again, or the server named by $REDIS_URL when one is
// provided.
package redistest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/guestpass/guestpass/pkg/proctest"
)

// EnvURL names the environment variable that points tests at an existing
// Redis instead of a private one.
const EnvURL = "REDIS_URL"

// startTimeout bounds how long we wait for a fresh redis-server to answer
// PING; generous because a loaded 2-core CI box can be slow to fork.
const startTimeout = 20 * time.Second

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
	dir      string

	proc proctest.Current // the running server
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
	s, err := launch(t.TempDir())
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
	s := &Server{Addr: filepath.Join(dir, "redis.sock"), dir: dir, tb: t}
	if err := s.run(dir); err != nil {
		t.Fatalf("redistest: %v", err)
	}
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
	dir, err := os.MkdirTemp("", "redistest-")
	if err != nil {
		return nil, fmt.Errorf("temp dir: %w", err)
	}
	s, err := launch(dir)
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	s.dir = dir
	return s, nil
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

func launch(dir string) (*Server, error) {
	s := &Server{}
	var lastErr error
	// A free port found by listening and closing can be taken by someone
	// else before redis binds it; a few fresh ports make that harmless.
	for range 5 {
		ports, err := proctest.FreePorts(1)
		if err != nil {
			return nil, err
		}
		s.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[0]))
		if lastErr = s.run(dir); lastErr == nil {
			s.dir = dir
			return s, nil
		}
	}
	return nil, lastErr
}

// run starts redis-server on s.Addr with dir as its working directory and
// waits until it answers PING.
func (s *Server) run(dir string) error {
	listen, name := s.listenArgs()
	logPath := filepath.Join(dir, "redis-"+name+".log")
	cmd := exec.Command("redis-server", append(listen,
		"--dir", dir,
		"--save", "",
		"--appendonly", "no",
		"--daemonize", "no",
		"--logfile", logPath,
	)...)
	proc, err := proctest.Start(cmd)
	if err != nil {
		return fmt.Errorf("start redis-server (is it on PATH?): %w", err)
	}
	if err := waitPing(s.Addr, proc.Exited()); err != nil {
		proc.Kill()
		logText, _ := os.ReadFile(logPath)
		return fmt.Errorf("redis-server on %s: %w; log:\n%s", s.Addr, err, logText)
	}
	s.proc.Set(proc)
	return nil
}

// listenArgs are redis-server's arguments to listen on s.Addr, and a name
// for its log file. A socket is the server's only listener, so that a
// client reaching it cannot have used TCP; a restarted server removes
// the stale socket file itself.
func (s *Server) listenArgs() (args []string, name string) {
	if strings.HasPrefix(s.Addr, "/") {
		return []string{"--port", "0", "--unixsocket", s.Addr, "--unixsocketperm", "700"}, "unix"
	}
	_, port, _ := net.SplitHostPort(s.Addr)
	return []string{"--bind", "127.0.0.1", "--port", port}, port
}

func waitPing(addr string, exited <-chan struct{}) error {
	c := redis.NewClient(&redis.Options{
		Addr:        addr,
		DialTimeout: 500 * time.Millisecond,
		ReadTimeout: 500 * time.Millisecond,
		MaxRetries:  -1,
		PoolSize:    1,
		// Quiet the per-connection handshake; this client only pings.
		DisableIdentity: true,
	})
	defer c.Close()
	deadline := time.Now().Add(startTimeout)
	for {
		select {
		case <-exited:
			return errors.New("exited before answering PING")
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := c.Ping(ctx).Err()
		cancel()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no answer to PING within %v: %w", startTimeout, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
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
	s.kill()
	var err error
	// The port was ours a moment ago; redis sets SO_REUSEADDR, but retry
	// briefly in case the kernel has not let go yet.
	for range 10 {
		if err = s.run(s.dir); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	if s.tb != nil {
		s.tb.Fatalf("redistest: restart: %v", err)
	}
	panic(fmt.Sprintf("redistest: restart: %v", err))
}

// Close stops a private server for good (and removes the directory made
// by Launch). It is a no-op for an external server.
func (s *Server) Close() {
	if s.external {
		return
	}
	s.kill()
	if s.tb == nil && s.dir != "" {
		_ = os.RemoveAll(s.dir)
	}
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

func (s *Server) kill() { s.proc.Kill() }

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
