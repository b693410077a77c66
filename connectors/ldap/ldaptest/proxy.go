package ldaptest

import (
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
)

// Proxy forwards TCP connections to a directory and counts them: those
// accepted, and those open (until the client's side ends), so a test sees
// an LDAP pool's connections until the pool closes them. After Forget, the
// connections open until then are hung up on as soon as the client sends
// something (a firewall or load balancer that dropped them silently): the
// client learns it only when it uses one.
type Proxy struct {
	// Addr is the proxy's listener (host:port).
	Addr string

	accepted atomic.Int32
	open     atomic.Int32
	gen      atomic.Int32
}

// Accepted is how many connections the proxy has accepted.
func (p *Proxy) Accepted() int32 { return p.accepted.Load() }

// Open is how many forwarded connections the client has not yet closed.
func (p *Proxy) Open() int32 { return p.open.Load() }

// Forget makes the proxy drop its current connections on their next use.
func (p *Proxy) Forget() { p.gen.Add(1) }

// forward copies client bytes to the directory until the connection ends
// or is forgotten.
func (p *Proxy) forward(in, out net.Conn) {
	gen := p.gen.Load()
	buf := make([]byte, 32<<10)
	for {
		n, err := in.Read(buf)
		if n > 0 && p.gen.Load() != gen {
			break
		}
		if n > 0 {
			if _, werr := out.Write(buf[:n]); werr != nil {
				break
			}
		}
		if err != nil {
			break
		}
	}
	in.Close()
	out.Close()
	p.open.Add(-1)
}

// NewProxy starts a Proxy to target on a free 127.0.0.1 port; it stops,
// closing every connection it forwarded (a leaked pool's too), when the
// test ends.
func NewProxy(tb testing.TB, target string) *Proxy {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	p := &Proxy{Addr: l.Addr().String()}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var open []net.Conn
	tb.Cleanup(func() {
		l.Close()
		mu.Lock()
		for _, c := range open {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			in, err := l.Accept()
			if err != nil {
				return
			}
			p.accepted.Add(1)
			out, err := net.Dial("tcp", target)
			if err != nil {
				in.Close()
				continue
			}
			mu.Lock()
			open = append(open, in, out)
			mu.Unlock()
			p.open.Add(1)
			wg.Add(2)
			go func() { defer wg.Done(); p.forward(in, out) }()
			go func() { defer wg.Done(); _, _ = io.Copy(in, out); in.Close() }()
		}
	}()
	return p
}
