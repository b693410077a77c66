package loadgen

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/guestpass/guestpass/pkg/mail/mailparse"
)

// ErrLostCode is a passcode mail that did not reach the sink in time.
var ErrLostCode = errors.New("lost code")

// Sink is the SMTP server the passcode mails go to. It keeps only the
// codes, per recipient, until a browser takes them: a long run must not
// hold every mail it was sent.
type Sink struct {
	// Addr is the host:port to put in guestpass's mail.smtp.addr.
	Addr string

	srv *smtp.Server
	ln  net.Listener

	mu sync.Mutex
	// codes holds the newest code mailed to each recipient (lower case)
	// and not yet taken. Only one browser at a time signs in an address
	// and it discards older codes before it asks for one, so the newest
	// is its own.
	codes   map[string]string
	waiters map[string][]chan struct{} // recipient → browsers waiting for a mail
	mails   int
	bad     int // mails without a code
}

// StartSink listens on addr ("127.0.0.1:0" for any free port).
func StartSink(addr string) (*Sink, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("smtp sink: listen %s: %w", addr, err)
	}
	s := &Sink{Addr: ln.Addr().String(), ln: ln, codes: map[string]string{}, waiters: map[string][]chan struct{}{}}
	s.srv = smtp.NewServer(sinkBackend{s})
	s.srv.Domain = "loadgen.localhost"
	s.srv.ReadTimeout = time.Minute
	s.srv.WriteTimeout = time.Minute
	s.srv.ErrorLog = log.New(io.Discard, "", 0)
	go func() { _ = s.srv.Serve(ln) }()
	return s, nil
}

// Close stops the server.
func (s *Sink) Close() error {
	err := s.srv.Close()
	_ = s.ln.Close()
	return err
}

// Counts returns the mails received and those in which no code was found.
func (s *Sink) Counts() (mails, withoutCode int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mails, s.bad
}

// deliver records a code for each recipient and wakes their waiters.
func (s *Sink) deliver(rcpts []string, code string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mails++
	if code == "" {
		s.bad++
		return
	}
	for _, r := range rcpts {
		r = strings.ToLower(r)
		s.codes[r] = code
		for _, w := range s.waiters[r] {
			close(w)
		}
		delete(s.waiters, r)
	}
}

// Discard forgets the codes mailed to addr so far: a sign-in calls it
// before it asks for a code, so that a late mail of an abandoned sign-in
// of the same guest (cut off at the end of a scenario) is not taken for
// its own.
func (s *Sink) Discard(addr string) {
	s.mu.Lock()
	delete(s.codes, strings.ToLower(addr))
	s.mu.Unlock()
}

// Wait takes the newest code mailed to addr that no earlier Wait took,
// waiting up to timeout; ErrLostCode when none came.
func (s *Sink) Wait(ctx context.Context, addr string, timeout time.Duration) (string, error) {
	addr = strings.ToLower(addr)
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		s.mu.Lock()
		if code, ok := s.codes[addr]; ok {
			delete(s.codes, addr)
			s.mu.Unlock()
			return code, nil
		}
		w := make(chan struct{})
		s.waiters[addr] = append(s.waiters[addr], w)
		s.mu.Unlock()
		select {
		case <-w:
		case <-timer.C:
			s.forget(addr, w)
			return "", fmt.Errorf("%w: no mail to %s within %v", ErrLostCode, addr, timeout)
		case <-ctx.Done():
			s.forget(addr, w)
			return "", ctx.Err()
		}
	}
}

func (s *Sink) forget(addr string, w chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ws := s.waiters[addr]
	for i, x := range ws {
		if x == w {
			s.waiters[addr] = append(ws[:i:i], ws[i+1:]...)
			break
		}
	}
	if len(s.waiters[addr]) == 0 {
		delete(s.waiters, addr)
	}
}

type sinkBackend struct{ s *Sink }

func (b sinkBackend) NewSession(*smtp.Conn) (smtp.Session, error) { return &sinkSession{s: b.s}, nil }

type sinkSession struct {
	s    *Sink
	rcpt []string
}

func (ss *sinkSession) Mail(string, *smtp.MailOptions) error { return nil }

func (ss *sinkSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	ss.rcpt = append(ss.rcpt, to)
	return nil
}

func (ss *sinkSession) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	code, _ := CodeInMail(raw)
	ss.s.deliver(ss.rcpt, code)
	return nil
}

func (ss *sinkSession) Reset()        { ss.rcpt = nil }
func (ss *sinkSession) Logout() error { return nil }

// CodeInMail returns the passcode in a mail's text/plain part (the whole
// body when the mail is not multipart), decoded as sent.
func CodeInMail(raw []byte) (string, error) {
	m, err := mailparse.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("read mail: %w", err)
	}
	code := mailparse.Code(m.Text)
	if code == "" {
		return "", errors.New("no code in the mail's text")
	}
	return code, nil
}
