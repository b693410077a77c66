// Package mailtest is a real SMTP server for tests (emersion/go-smtp over
// TCP on 127.0.0.1), shared by every test suite that needs to read the
// mails guestpass sends — passcodes above all.
//
//	srv := mailtest.Start(t)
//	... configure guestpass with srv.Addr ...
//	got, err := srv.WaitFor("ada@example.com", 10*time.Second)
//	code := mailtest.CodeIn(got.Text)
package mailtest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/guestpass/guestpass/pkg/mail/mailparse"
)

// Received is one mail as the server got it, parsed.
type Received struct {
	// From and To are the envelope sender and (first) recipient.
	From, To string
	// Rcpt lists all envelope recipients.
	Rcpt []string
	// Subject is decoded (RFC 2047).
	Subject string
	// Text and HTML are the decoded bodies of the text/plain and
	// text/html parts (empty when absent).
	Text, HTML string
	// Header is the top-level header as sent.
	Header mail.Header
	// Raw is the DATA exactly as received.
	Raw []byte
}

// Options tune the server. The zero value is a plain SMTP server without
// authentication.
type Options struct {
	// TLS is "none" (default), "starttls" (STARTTLS offered) or "tls"
	// (implicit TLS on connect), with a fresh self-signed certificate for
	// 127.0.0.1; clients trust it through ClientTLSConfig.
	TLS string
	// Username and Password, when set, make AUTH PLAIN required.
	Username, Password string
	// NoPipelining: the server does not offer PIPELINING (RFC 2920), as
	// some relays do not, so a client must wait for each reply before its
	// next command. go-smtp always offers it; its EHLO line is renamed on
	// the wire, and Pipelined tells whether a client sent commands ahead
	// all the same.
	NoPipelining bool
}

// Server is a running test SMTP server. Methods are safe for concurrent use.
type Server struct {
	// Addr is host:port to connect to.
	Addr string

	srv     *smtp.Server
	rootCAs *x509.CertPool
	opts    Options

	mu        sync.Mutex
	cond      *sync.Cond
	msgs      []Received
	taken     []bool
	failures  int
	active    int
	maxActive int
	conns     int
	closed    bool
	held      bool
	deferred  map[string]bool // recipients answered 451 at RCPT TO
	rcpts     []string        // every RCPT TO, accepted or not
	pipelined bool            // a client's read held a command after MAIL FROM's line
}

// Start runs a plain server on 127.0.0.1:0, stopped when the test ends.
func Start(t testing.TB) *Server { return StartWith(t, Options{}) }

// StartWith runs a server with options, stopped when the test ends.
func StartWith(t testing.TB, opts Options) *Server {
	t.Helper()
	s := &Server{opts: opts}
	s.cond = sync.NewCond(&s.mu)
	s.srv = smtp.NewServer(backend{s})
	s.srv.Domain = "mailtest.localhost"
	s.srv.AllowInsecureAuth = true
	s.srv.ReadTimeout = 30 * time.Second
	s.srv.WriteTimeout = 30 * time.Second
	s.srv.ErrorLog = log.New(io.Discard, "", 0)

	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("mailtest: listen: %v", err)
	}
	// Connections are counted at the TCP level: go-smtp opens a new
	// session per EHLO and after STARTTLS, so sessions are not connections.
	var l net.Listener = &countingListener{Listener: tcp, s: s}
	switch opts.TLS {
	case "", "none":
	case "starttls", "tls":
		cfg, roots, err := selfSigned()
		if err != nil {
			t.Fatalf("mailtest: %v", err)
		}
		s.rootCAs = roots
		s.srv.TLSConfig = cfg
		if opts.TLS == "tls" {
			l = tls.NewListener(l, cfg)
		}
	default:
		_ = tcp.Close()
		t.Fatalf("mailtest: unknown TLS mode %q", opts.TLS)
	}
	s.Addr = l.Addr().String()
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = s.srv.Serve(l)
	}()
	t.Cleanup(func() {
		s.mu.Lock()
		s.closed = true
		s.cond.Broadcast()
		s.mu.Unlock()
		_ = s.srv.Close()
		// Close only closes listeners Serve has registered; if the test
		// ends before that goroutine ran, this unblocks it.
		_ = l.Close()
		<-done
	})
	return s
}

// ClientTLSConfig trusts the server's self-signed certificate (nil for a
// plain server).
func (s *Server) ClientTLSConfig() *tls.Config {
	if s.rootCAs == nil {
		return nil
	}
	return &tls.Config{RootCAs: s.rootCAs, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
}

// SetFailures makes the next n mail transactions fail with a transient
// "451 4.3.0" at MAIL FROM, as a busy or greylisting server would.
func (s *Server) SetFailures(n int) {
	s.mu.Lock()
	s.failures = n
	s.mu.Unlock()
}

// Hold makes the server stall every mail at DATA until Release (or the
// end of the test), as a server that is slow or stuck would: deliveries
// hang and the sender's queue fills up.
func (s *Server) Hold() {
	s.mu.Lock()
	s.held = true
	s.mu.Unlock()
}

// Release lets held and later mails through.
func (s *Server) Release() {
	s.mu.Lock()
	s.held = false
	s.cond.Broadcast()
	s.mu.Unlock()
}

// Defer makes every RCPT TO addr (compared without ASCII case) fail with
// a transient "451 4.2.0" from now on, as a recipient's server that keeps
// deferring would: the sender retries it, other recipients go through.
func (s *Server) Defer(addr string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.deferred == nil {
		s.deferred = map[string]bool{}
	}
	s.deferred[strings.ToLower(addr)] = true
}

// WaitRecipients waits up to timeout until the server was given at least
// n RCPT TO commands (accepted or deferred), and returns them all in order.
func (s *Server) WaitRecipients(n int, timeout time.Duration) ([]string, error) {
	deadline := time.Now().Add(timeout)
	timer := time.AfterFunc(timeout, func() {
		s.mu.Lock()
		s.cond.Broadcast()
		s.mu.Unlock()
	})
	defer timer.Stop()

	s.mu.Lock()
	defer s.mu.Unlock()
	for len(s.rcpts) < n {
		if s.closed {
			return nil, errors.New("mailtest: server closed")
		}
		if !time.Now().Before(deadline) {
			return append([]string(nil), s.rcpts...), fmt.Errorf("mailtest: %d recipients within %v, want %d", len(s.rcpts), timeout, n)
		}
		s.cond.Wait()
	}
	return append([]string(nil), s.rcpts...), nil
}

// rcpt records a RCPT TO and reports whether it is deferred.
func (s *Server) rcpt(to string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rcpts = append(s.rcpts, to)
	s.cond.Broadcast()
	return s.deferred[strings.ToLower(to)]
}

// waitWhileHeld blocks while the server is held and running.
func (s *Server) waitWhileHeld() {
	s.mu.Lock()
	for s.held && !s.closed {
		s.cond.Wait()
	}
	s.mu.Unlock()
}

// Messages returns every mail received so far, oldest first.
func (s *Server) Messages() []Received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Received(nil), s.msgs...)
}

// WaitFor returns the oldest mail to the recipient (compared without ASCII
// case) that no earlier WaitFor returned, waiting up to timeout for it. So
// successive calls return successive mails: a resent code after the first.
func (s *Server) WaitFor(to string, timeout time.Duration) (Received, error) {
	deadline := time.Now().Add(timeout)
	timer := time.AfterFunc(timeout, func() {
		s.mu.Lock()
		s.cond.Broadcast()
		s.mu.Unlock()
	})
	defer timer.Stop()

	s.mu.Lock()
	defer s.mu.Unlock()
	for {
		for i, m := range s.msgs {
			if s.taken[i] {
				continue
			}
			for _, r := range m.Rcpt {
				if strings.EqualFold(r, to) {
					s.taken[i] = true
					return m, nil
				}
			}
		}
		if s.closed {
			return Received{}, errors.New("mailtest: server closed")
		}
		if !time.Now().Before(deadline) {
			return Received{}, fmt.Errorf("mailtest: no mail to %s within %v", to, timeout)
		}
		s.cond.Wait()
	}
}

// MaxConcurrent is the largest number of simultaneous connections seen.
func (s *Server) MaxConcurrent() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.maxActive
}

// Connections is the number of connections accepted so far.
func (s *Server) Connections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conns
}

// CodeIn returns the first passcode (8 digits) in a mail body ("" if none).
func CodeIn(body string) string { return mailparse.Code(body) }

func (s *Server) add(r Received) {
	s.mu.Lock()
	s.msgs = append(s.msgs, r)
	s.taken = append(s.taken, false)
	s.cond.Broadcast()
	s.mu.Unlock()
}

// takeFailure reports whether this transaction must fail.
func (s *Server) takeFailure() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failures > 0 {
		s.failures--
		return true
	}
	return false
}

type backend struct{ s *Server }

func (b backend) NewSession(*smtp.Conn) (smtp.Session, error) {
	return &session{s: b.s}, nil
}

type countingListener struct {
	net.Listener
	s *Server
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	s := l.s
	s.mu.Lock()
	s.active++
	s.conns++
	if s.active > s.maxActive {
		s.maxActive = s.active
	}
	s.mu.Unlock()
	if s.opts.NoPipelining {
		return &countedConn{Conn: &unpipelinedConn{Conn: c, s: s}, s: s}, nil
	}
	return &countedConn{Conn: c, s: s}, nil
}

// unpipelinedConn hides PIPELINING from the server's EHLO answer (go-smtp
// writes each answer in one Write; the line is renamed, not removed, so
// the answer keeps its shape) and notes a client that sends a command
// after MAIL FROM without waiting for its reply.
type unpipelinedConn struct {
	net.Conn
	s *Server
}

func (c *unpipelinedConn) Write(p []byte) (int, error) {
	if _, err := c.Conn.Write(bytes.ReplaceAll(p, []byte("250-PIPELINING\r\n"), []byte("250-X-NOTOFFERED\r\n"))); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (c *unpipelinedConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if i := bytes.Index(bytes.ToUpper(p[:n]), []byte("MAIL FROM:")); i >= 0 {
		if j := bytes.Index(p[i:n], []byte("\r\n")); j >= 0 && i+j+2 < n {
			c.s.mu.Lock()
			c.s.pipelined = true
			c.s.mu.Unlock()
		}
	}
	return n, err
}

// Pipelined reports whether a client sent a command right behind MAIL
// FROM, without waiting for its reply, to a NoPipelining server.
func (s *Server) Pipelined() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pipelined
}

type countedConn struct {
	net.Conn
	s    *Server
	once sync.Once
}

func (c *countedConn) Close() error {
	c.once.Do(func() {
		c.s.mu.Lock()
		c.s.active--
		c.s.mu.Unlock()
	})
	return c.Conn.Close()
}

type session struct {
	s      *Server
	authed bool
	from   string
	rcpt   []string
}

func (ss *session) AuthMechanisms() []string {
	if ss.s.opts.Username == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (ss *session) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(identity, username, password string) error {
		if username != ss.s.opts.Username || password != ss.s.opts.Password {
			return errors.New("invalid credentials")
		}
		ss.authed = true
		return nil
	}), nil
}

func (ss *session) Mail(from string, _ *smtp.MailOptions) error {
	if ss.s.opts.Username != "" && !ss.authed {
		return smtp.ErrAuthRequired
	}
	if ss.s.takeFailure() {
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "Try again later (mailtest)"}
	}
	ss.from = from
	return nil
}

func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if ss.s.rcpt(to) {
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 2, 0}, Message: "Deferred (mailtest)"}
	}
	ss.rcpt = append(ss.rcpt, to)
	return nil
}

func (ss *session) Data(r io.Reader) error {
	ss.s.waitWhileHeld()
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	rec, err := parse(raw)
	if err != nil {
		return &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 6, 0}, Message: "mailtest cannot parse: " + err.Error()}
	}
	rec.From = ss.from
	rec.Rcpt = append([]string(nil), ss.rcpt...)
	if len(rec.Rcpt) > 0 {
		rec.To = rec.Rcpt[0]
	}
	ss.s.add(rec)
	return nil
}

func (ss *session) Reset() {
	ss.from = ""
	ss.rcpt = nil
}

func (ss *session) Logout() error { return nil }

// parse reads a mail: headers, decoded subject, text and html parts.
func parse(raw []byte) (Received, error) {
	m, err := mailparse.Parse(raw)
	if err != nil {
		return Received{}, err
	}
	return Received{Header: m.Header, Subject: m.Subject, Text: m.Text, HTML: m.HTML, Raw: raw}, nil
}

// selfSigned makes a throwaway certificate for 127.0.0.1.
func selfSigned() (*tls.Config, *x509.CertPool, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "mailtest"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:              []string{"localhost"},
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	cfg := &tls.Config{
		Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key, Leaf: cert}},
		MinVersion:   tls.VersionTLS12,
	}
	return cfg, pool, nil
}
