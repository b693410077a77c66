// Package redisproc starts a private redis-server as a child process: on
// a free 127.0.0.1 port or a unix socket, with the caller's arguments,
// answered PING before Start returns, stopped with SIGKILL. It is written
// once for the test helpers (redistest) and for the load tool (pkg/loadgen,
// in the binary), so it imports no testing.
package redisproc

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/guestpass/guestpass/pkg/proctest"
	"github.com/guestpass/guestpass/pkg/store/redisstore"
)

// StartTimeout bounds the wait for a fresh server's PING: generous,
// because a loaded 2-core host can be slow to fork and load.
const StartTimeout = 30 * time.Second

// portAttempts is how many free ports Start tries: a port found free by
// listening and closing can be taken by another process before
// redis-server binds it, and a few fresh ports make that harmless.
const portAttempts = 5

// Options say how to start a server.
type Options struct {
	// Dir is the server's working directory (--dir: its data) and holds
	// its log, redis.log. It is made if missing and left in place; ""
	// makes a temp dir that Close removes.
	Dir string
	// Unix, when set, is the socket path the server listens on, its only
	// listener (--port 0), so that a client reaching it cannot have used
	// TCP; a restarted server removes the stale socket file itself.
	// Otherwise it listens on 127.0.0.1 and a free port.
	Unix string
	// Config, when set, is a config file, the first argument (a Sentinel
	// needs one it can rewrite); the arguments after it override it.
	Config string
	// Args follow the listening arguments and --dir: persistence, cluster
	// mode and the like.
	Args []string

	// freePort picks the port of an attempt; nil is a port free a moment
	// ago. The tests inject a taken port through it.
	freePort func() (int, error)
}

// Server is a running (or stopped) redis-server.
type Server struct {
	// Addr is 127.0.0.1:port, or the socket's path (go-redis dials a unix
	// socket for an address that starts with '/').
	Addr string
	// Log is the file that gets the server's output.
	Log string

	dir     string
	madeDir bool // dir is a temp dir Start made: Close removes it
	listen  []string
	opts    Options
	proc    proctest.Current
}

// Start starts redis-server and returns once it answers PING. On a TCP
// port it tries fresh ports while the one it picked turns out taken.
func Start(ctx context.Context, o Options) (*Server, error) {
	s := &Server{dir: o.Dir, opts: o}
	if s.dir == "" {
		dir, err := os.MkdirTemp("", "redisproc-")
		if err != nil {
			return nil, fmt.Errorf("temp dir: %w", err)
		}
		s.dir, s.madeDir = dir, true
	} else if err := os.MkdirAll(s.dir, 0o700); err != nil {
		return nil, err
	}
	s.Log = filepath.Join(s.dir, "redis.log")
	// A fresh log for this server; attempts and restarts then append, so
	// a lost port's "Address already in use" stays readable.
	if err := os.WriteFile(s.Log, nil, 0o600); err != nil {
		s.removeDir()
		return nil, err
	}
	err := s.start(ctx)
	if err != nil {
		s.removeDir()
		return nil, err
	}
	return s, nil
}

// start makes Start's attempts: one on a socket, a few fresh ports on
// TCP.
func (s *Server) start(ctx context.Context) error {
	if s.opts.Unix != "" {
		s.Addr = s.opts.Unix
		s.listen = []string{"--port", "0", "--unixsocket", s.opts.Unix, "--unixsocketperm", "700"}
		return s.run(ctx)
	}
	freePort := s.opts.freePort
	if freePort == nil {
		freePort = func() (int, error) {
			ports, err := proctest.FreePorts(1)
			if err != nil {
				return 0, err
			}
			return ports[0], nil
		}
	}
	var err error
	for range portAttempts {
		port, perr := freePort()
		if perr != nil {
			return perr
		}
		s.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		s.listen = []string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1"}
		var lost *lostError
		if err = s.run(ctx); !errors.As(err, &lost) {
			return err
		}
	}
	return err
}

// lostError is a start that failed the way one on a port lost to a race
// does: the server exited before it answered, or another server answered
// in its place. Start tries another port after it.
type lostError struct{ msg string }

func (e *lostError) Error() string { return e.msg }

// run starts redis-server once on s.listen and waits until it answers.
func (s *Server) run(ctx context.Context) error {
	logf, err := os.OpenFile(s.Log, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	defer logf.Close() // the child holds its own copy
	var args []string
	if s.opts.Config != "" {
		args = append(args, s.opts.Config)
	}
	args = append(append(append(args, s.listen...), "--dir", s.dir), s.opts.Args...)
	cmd := exec.Command("redis-server", args...)
	// Its output rather than --logfile, so that what it says before it
	// opens a log file (a bad argument) is kept too.
	cmd.Stdout, cmd.Stderr = logf, logf
	p, err := proctest.Start(cmd)
	if err != nil {
		return fmt.Errorf("start redis-server (is it on PATH?): %w", err)
	}
	if err := s.wait(ctx, p); err != nil {
		p.Kill()
		return err
	}
	s.proc.Set(p)
	return nil
}

// wait waits until the server p answers PING at s.Addr, and checks that
// the answer is p's: a port taken by another Redis answers too.
func (s *Server) wait(ctx context.Context, p *proctest.Proc) error {
	c := redis.NewClient(&redis.Options{
		Addr:        s.Addr,
		DialTimeout: 500 * time.Millisecond,
		ReadTimeout: 500 * time.Millisecond,
		MaxRetries:  -1,
		PoolSize:    1,
		// Quiet the per-connection handshake; this client only asks.
		DisableIdentity: true,
	})
	defer c.Close()
	deadline := time.Now().Add(StartTimeout)
	for {
		select {
		case <-p.Exited():
			return &lostError{"redis-server exited at start; see " + s.logTail()}
		default:
		}
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		err := c.Ping(pctx).Err()
		cancel()
		if err == nil {
			return s.checkPid(ctx, c, p)
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("redis-server at %s did not answer within %v: %w", s.Addr, StartTimeout, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// checkPid returns a lostError unless the server answering at s.Addr is p.
func (s *Server) checkPid(ctx context.Context, c *redis.Client, p *proctest.Proc) error {
	info, err := c.Info(ctx, "server").Result()
	if err != nil {
		return fmt.Errorf("redis-server at %s: INFO: %w", s.Addr, err)
	}
	switch pid := redisstore.InfoField(info, "process_id"); pid {
	case strconv.Itoa(p.Pid()):
		return nil
	case "":
		return fmt.Errorf("redis-server at %s: no process_id in INFO server", s.Addr)
	default:
		return &lostError{fmt.Sprintf("another redis-server (pid %s) answers at %s", pid, s.Addr)}
	}
}

// logTail is the log's path and its end, for an error message: the
// reason is at hand even once a temp dir is gone.
func (s *Server) logTail() string {
	b, _ := os.ReadFile(s.Log)
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return s.Log + ":\n" + string(b)
}

// Stop kills the server (SIGKILL: an outage, not a clean shutdown) and
// returns once it has exited, so that its address is free for a
// restart. It is safe from any goroutine, and a no-op when stopped.
func (s *Server) Stop() { s.proc.Kill() }

// Restart stops the server and starts it again on the same address, with
// the same directory and arguments.
func (s *Server) Restart(ctx context.Context) error {
	s.Stop()
	var err error
	// The address was the server's a moment ago and redis sets
	// SO_REUSEADDR, but the kernel may not have let go of it yet.
	for range 10 {
		if err = s.run(ctx); err == nil {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return err
}

// Close stops the server for good and removes the directory if Start
// made it; a caller's directory stays.
func (s *Server) Close() {
	s.Stop()
	s.removeDir()
}

func (s *Server) removeDir() {
	if s.madeDir {
		_ = os.RemoveAll(s.dir)
	}
}
