package ldap

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	goldap "github.com/go-ldap/ldap/v3"
)

// conn is one connection to the directory. raw is the TCP connection
// under any TLS: its deadline bounds every exchange, and moving the
// deadline to the past aborts one at once (a cancelled sign-in).
type conn struct {
	l   *goldap.Conn
	raw net.Conn
}

// arm bounds the exchanges that follow by ctx (its deadline, and its
// cancellation). disarm reports whether the connection may be used again.
func (c *conn) arm(ctx context.Context) (disarm func() bool) {
	if dl, ok := ctx.Deadline(); ok {
		_ = c.raw.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = c.raw.SetDeadline(time.Unix(1, 0)) })
	return func() bool {
		if !stop() {
			return false // ctx ended during the exchange: the deadline is in the past
		}
		_ = c.raw.SetDeadline(time.Time{})
		return !c.l.IsClosing()
	}
}

func (c *conn) close() { _ = c.l.Close() }

// dial opens a connection to e within ctx: TCP, then TLS (LDAPS) or
// StartTLS. A user's bind gets one of its own; the pool keeps those bound
// as the service account.
func dial(ctx context.Context, e endpoint) (*conn, error) {
	var d net.Dialer
	raw, err := d.DialContext(ctx, "tcp", e.addr)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", e.addr, err)
	}
	var nc net.Conn = raw
	if e.ldaps {
		tc := tls.Client(raw, e.tls)
		if err := tc.HandshakeContext(ctx); err != nil {
			_ = raw.Close()
			return nil, fmt.Errorf("TLS with %s: %w", e.addr, err)
		}
		nc = tc
	}
	c := &conn{l: goldap.NewConn(nc, e.ldaps), raw: raw}
	c.l.Start()
	if e.startTLS {
		disarm := c.arm(ctx)
		err := c.l.StartTLS(e.tls)
		if !disarm() && err == nil {
			err = errors.New("connection closed during StartTLS")
		}
		if err != nil {
			c.close()
			return nil, fmt.Errorf("StartTLS with %s: %w", e.addr, err)
		}
	}
	return c, nil
}

// pool is a small bounded pool of connections bound as the service
// account. sem bounds the connections in use and idle together, so a
// burst of sign-ins waits for a connection (within its deadline) instead
// of opening one each against the directory.
type pool struct {
	open func(context.Context) (*conn, error) // dial and bind as the service
	sem  chan struct{}
	idle chan *conn

	mu     sync.Mutex
	closed bool
}

func newPool(size int, open func(context.Context) (*conn, error)) *pool {
	return &pool{open: open, sem: make(chan struct{}, size), idle: make(chan *conn, size)}
}

// errPoolClosed: the connector was replaced by a reload and closed.
var errPoolClosed = errors.New("connection pool closed")

// with runs fn on a service-bound connection, within ctx. A reused
// connection that fails at the transport (the server restarted since it
// was opened) is dropped and fn runs once more on a fresh one, so the
// first sign-in after an outage does not fail for a stale connection.
func (p *pool) with(ctx context.Context, fn func(*goldap.Conn) error) error {
	select {
	case p.sem <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("waiting for a directory connection: %w", ctx.Err())
	}
	defer func() { <-p.sem }()
	for {
		c, reused, err := p.get(ctx)
		if err != nil {
			return err
		}
		disarm := c.arm(ctx)
		err = fn(c.l)
		healthy := disarm()
		if healthy && !isTransport(err) {
			p.put(c)
			return err
		}
		c.close()
		if !reused || ctx.Err() != nil {
			return err
		}
	}
}

// get takes an idle connection, or opens one.
func (p *pool) get(ctx context.Context) (c *conn, reused bool, err error) {
	p.mu.Lock()
	closed := p.closed
	p.mu.Unlock()
	if closed {
		return nil, false, errPoolClosed
	}
	for {
		select {
		case c := <-p.idle:
			if c.l.IsClosing() {
				continue // the server hung up while it was idle
			}
			return c, true, nil
		default:
			c, err := p.open(ctx)
			return c, false, err
		}
	}
}

// put returns a healthy connection; after Close it is closed instead.
func (p *pool) put(c *conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		c.close()
		return
	}
	select {
	case p.idle <- c:
	default:
		c.close() // cannot happen while sem bounds the connections
	}
}

// Close closes the idle connections; those in use are closed when they
// come back.
func (p *pool) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil
	}
	p.closed = true
	for {
		select {
		case c := <-p.idle:
			c.close()
		default:
			return nil
		}
	}
}

// isTransport reports whether err is the connection failing rather than
// the server answering: a network error, a timeout, a closed connection.
func isTransport(err error) bool {
	if err == nil {
		return false
	}
	var le *goldap.Error
	if errors.As(err, &le) {
		return le.ResultCode == goldap.ErrorNetwork
	}
	return true // go-ldap reports a dead connection's read error unwrapped
}
