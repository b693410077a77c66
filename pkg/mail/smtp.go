package mail

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	netmail "net/mail"
	"net/smtp"
	"net/textproto"
	"strings"
	"sync"
	"time"

	"github.com/jordan-wright/email"
	"go.uber.org/zap"

	"github.com/guestpass/guestpass/pkg/canon"
)

// Transport delivers one rendered mail. Implementations must be safe for
// concurrent use; the Dispatcher calls Send from several workers.
type Transport interface {
	Send(ctx context.Context, from string, m Message) error
}

// ErrMaybeDelivered wraps a failure after the whole mail, final "." and
// all, was written: the server may have accepted it (a reply lost or
// late), so the mail must not be sent again.
var ErrMaybeDelivered = errors.New("mail: no reply after the mail was written; it may have been delivered")

// ErrClosed is returned by Send after Close.
var ErrClosed = errors.New("mail: transport closed")

// DefaultPoolSize is used when SMTPOptions.PoolSize is not positive.
const DefaultPoolSize = 4

// DefaultSMTPTimeout bounds one delivery (dial, TLS, AUTH and the mail
// transaction) unless the context has an earlier deadline.
const DefaultSMTPTimeout = 30 * time.Second

// SMTP delivers through an SMTP server over a bounded pool of at most
// PoolSize connections, reused across mails (RSET between them).
//
// Why not email.NewPool: jordan-wright/email's Pool reads its connection
// count and last dial error without a lock (the race detector fails any
// test that sends concurrently), spins re-dialling while the server is
// down, treats STARTTLS as opportunistic (a server that stops offering it
// gets the mail in clear text, and "tls: none" still upgrades when
// offered) and has no implicit TLS. The pool here is small and strict;
// jordan-wright/email still builds every message (MIME, RFC 2047 headers).
type SMTP struct {
	addr    string
	host    string
	mode    string // none | starttls | tls
	from    string
	auth    smtp.Auth
	tls     *tls.Config
	timeout time.Duration
	hello   string

	// idle holds open connections waiting for a mail; dials holds one
	// token per connection that may still be opened. A connection exists
	// only while its token is out, so there are never more than PoolSize.
	idle  chan *conn
	dials chan struct{}

	mu     sync.Mutex
	closed bool
}

type conn struct {
	raw net.Conn // for deadlines (StartTLS wraps it inside c)
	c   *smtp.Client
	// pipelining: the server offers PIPELINING (RFC 2920).
	pipelining bool
	// poisoned: a context cancellation expired raw's deadline.
	poisoned bool
}

// start opens a mail transaction (MAIL, RCPT, DATA) and returns the
// writer of its content, whose Close sends the final "." and reads the
// server's verdict. With PIPELINING the three commands leave in one write
// and their replies are read together: one round trip instead of three.
func (c *conn) start(from, to string) (io.WriteCloser, error) {
	if !c.pipelining {
		if err := c.c.Mail(from); err != nil {
			return nil, err
		}
		if err := c.c.Rcpt(to); err != nil {
			return nil, err
		}
		return c.c.Data()
	}
	if strings.ContainsAny(from+to, "\r\n<>") {
		return nil, errors.New("smtp: a line break or angle bracket in an address")
	}
	t := c.c.Text
	// MAIL's parameters as net/smtp's Mail gives them.
	params := ""
	if ok, _ := c.c.Extension("8BITMIME"); ok {
		params += " BODY=8BITMIME"
	}
	if ok, _ := c.c.Extension("SMTPUTF8"); ok {
		params += " SMTPUTF8"
	}
	if _, err := fmt.Fprintf(t.W, "MAIL FROM:<%s>%s\r\nRCPT TO:<%s>\r\nDATA\r\n", from, params, to); err != nil {
		return nil, err
	}
	if err := t.W.Flush(); err != nil {
		return nil, err
	}
	// Every reply is read, whatever the first said, so that the
	// connection stays in step; the first refusal is the answer.
	_, _, errMail := t.ReadResponse(250)
	_, _, errRcpt := t.ReadResponse(25)
	_, _, errData := t.ReadResponse(354)
	if err := cmp.Or(errMail, errRcpt); err != nil {
		if errData == nil {
			// A server that took DATA without a recipient: end it empty.
			_ = newDataWriter(t).Close()
		}
		return nil, err
	}
	if errData != nil {
		return nil, errData
	}
	return newDataWriter(t), nil
}

// dataWriter is a mail's content after a pipelined DATA: as net/smtp's
// own, Close sends the final "." and reads the verdict. For a mail whose
// CRs all come in CRLF pairs, which is every mail build makes (headers
// refuse control characters, the parts are quoted-printable, which
// encodes any other CR), it writes what textproto's DotWriter writes
// (lines starting with "." get another, a bare LF becomes CRLF), a line
// at a time instead of a byte at a time: the DotWriter's byte loop cost
// more than building the mail. A CR followed by another CR, which build
// never writes, is passed on as it is, where the DotWriter adds an LF.
type dataWriter struct {
	t *textproto.Conn
	// bol: at the beginning of a line; cr: the last byte written was CR;
	// begun: something was written.
	bol, cr, begun bool
}

func newDataWriter(t *textproto.Conn) *dataWriter { return &dataWriter{t: t, bol: true} }

func (d *dataWriter) Write(p []byte) (int, error) {
	w := d.t.W
	n := len(p)
	d.begun = d.begun || n > 0
	for len(p) > 0 {
		if d.bol && p[0] == '.' {
			if err := w.WriteByte('.'); err != nil {
				return 0, err
			}
		}
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			if _, err := w.Write(p); err != nil {
				return 0, err
			}
			d.bol, d.cr = false, p[len(p)-1] == '\r'
			return n, nil
		}
		if _, err := w.Write(p[:i]); err != nil {
			return 0, err
		}
		if i > 0 && p[i-1] != '\r' || i == 0 && !d.cr {
			if err := w.WriteByte('\r'); err != nil {
				return 0, err
			}
		}
		if err := w.WriteByte('\n'); err != nil {
			return 0, err
		}
		d.bol, d.cr = true, false
		p = p[i+1:]
	}
	return n, nil
}

func (d *dataWriter) Close() error {
	if err := d.end(); err != nil {
		return err
	}
	_, _, err := d.t.ReadResponse(250)
	return err
}

// end writes the final "." and sends what is buffered.
func (d *dataWriter) end() error {
	// The content's last line ended as the DotWriter ends it.
	end := "\r\n.\r\n"
	switch {
	case d.cr:
		end = "\n.\r\n"
	case d.bol && d.begun:
		end = ".\r\n"
	}
	if _, err := d.t.W.WriteString(end); err != nil {
		return err
	}
	return d.t.W.Flush()
}

// SMTPOption adjusts an SMTP transport.
type SMTPOption func(*SMTP)

// WithTLSConfig sets the TLS client configuration (e.g. a private CA).
// ServerName defaults to the host of the address.
func WithTLSConfig(c *tls.Config) SMTPOption {
	return func(s *SMTP) { s.tls = c.Clone() }
}

// WithTimeout bounds each delivery (default DefaultSMTPTimeout).
func WithTimeout(d time.Duration) SMTPOption {
	return func(s *SMTP) { s.timeout = d }
}

// WithHelloName sets the EHLO name (default "localhost").
func WithHelloName(name string) SMTPOption {
	return func(s *SMTP) { s.hello = name }
}

// NewSMTP checks the configuration and returns a transport. It does not
// connect: connections are opened on first use, so a mail server that is
// down at start does not stop guestpass from serving.
func NewSMTP(cfg SMTPOptions, from string, opts ...SMTPOption) (*SMTP, error) {
	host, _, err := net.SplitHostPort(cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("mail: smtp.addr %q must be host:port: %w", cfg.Addr, err)
	}
	mode := cfg.TLS
	if mode == "" {
		mode = "none"
	}
	if mode != "none" && mode != "starttls" && mode != "tls" {
		return nil, fmt.Errorf("mail: smtp.tls is %q; use none, starttls or tls", cfg.TLS)
	}
	if from != "" {
		if _, err := parseFrom(from); err != nil {
			return nil, err
		}
	}
	size := cfg.PoolSize
	if size <= 0 {
		size = DefaultPoolSize
	}
	s := &SMTP{
		addr: cfg.Addr, host: host, mode: mode, from: from,
		timeout: DefaultSMTPTimeout, hello: "localhost",
		idle:  make(chan *conn, size),
		dials: make(chan struct{}, size),
	}
	for _, o := range opts {
		o(s)
	}
	if s.tls == nil {
		s.tls = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	if s.tls.ServerName == "" {
		s.tls.ServerName = host
	}
	if cfg.Username != "" {
		// net/smtp's PLAIN refuses to send the password over a connection
		// that is neither TLS nor to localhost.
		s.auth = smtp.PlainAuth("", cfg.Username, cfg.Password, host)
	}
	for range size {
		s.dials <- struct{}{}
	}
	return s, nil
}

// Send delivers m to m.To with from as the From header and envelope
// sender (the transport's default when from is empty).
func (s *SMTP) Send(ctx context.Context, from string, m Message) error {
	if from == "" {
		from = s.from
	}
	sender, err := parseFrom(from)
	if err != nil {
		return err
	}
	raw, rcpt, err := build(sender, m)
	if err != nil {
		return err
	}

	c, err := s.acquire(ctx)
	if err != nil {
		return err
	}

	deadline := time.Now().Add(s.timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	reused := c != nil
	if c == nil {
		if c, err = s.dial(ctx, deadline); err != nil {
			s.release(nil, false)
			return err
		}
	}
	err = s.transact(ctx, c, deadline, sender.Address, rcpt, raw)
	if err != nil && reused && !isSMTPReply(err) && ctx.Err() == nil && !errors.Is(err, ErrMaybeDelivered) {
		// An idle connection the server has since dropped: one fresh try.
		_ = c.c.Close()
		if c, err = s.dial(ctx, deadline); err != nil {
			s.release(nil, false)
			return err
		}
		err = s.transact(ctx, c, deadline, sender.Address, rcpt, raw)
	}
	// After an SMTP reply (4xx/5xx) the connection is still in sync and
	// is reused after RSET; after anything else it is dropped.
	keep := !c.poisoned && (err == nil || (isSMTPReply(err) && c.c.Reset() == nil))
	s.release(c, keep)
	if err != nil {
		return fmt.Errorf("mail: smtp %s: %w", s.addr, err)
	}
	return nil
}

func (s *SMTP) transact(ctx context.Context, c *conn, deadline time.Time, from, to string, raw []byte) error {
	if err := c.raw.SetDeadline(deadline); err != nil {
		return err
	}
	// net/smtp knows no contexts: a cancelled ctx expires the deadline,
	// which fails the blocked read or write at once.
	stop := context.AfterFunc(ctx, func() { _ = c.raw.SetDeadline(time.Unix(1, 0)) })
	defer func() {
		if !stop() {
			// The deadline was (or is being) expired: never reuse it.
			c.poisoned = true
		}
	}()
	w, err := c.start(from, to)
	if err != nil {
		return err
	}
	if _, err := w.Write(raw); err != nil {
		return err
	}
	if err := w.Close(); err != nil && !isSMTPReply(err) {
		// The final "." is (or may be) out: from here a lost reply
		// is no proof that the server does not have the mail.
		return fmt.Errorf("%w: %w", ErrMaybeDelivered, err)
	} else if err != nil {
		return err
	}
	return nil
}

func (s *SMTP) dial(ctx context.Context, deadline time.Time) (*conn, error) {
	dctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	var (
		raw net.Conn
		err error
	)
	d := &net.Dialer{}
	if s.mode == "tls" {
		var tc net.Conn
		tc, err = (&tls.Dialer{NetDialer: d, Config: s.tls}).DialContext(dctx, "tcp", s.addr)
		raw = tc
	} else {
		raw, err = d.DialContext(dctx, "tcp", s.addr)
	}
	if err != nil {
		return nil, fmt.Errorf("mail: connect to %s: %w", s.addr, err)
	}
	_ = raw.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { _ = raw.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	c, err := smtp.NewClient(raw, s.host)
	if err != nil {
		raw.Close()
		return nil, fmt.Errorf("mail: smtp greeting from %s: %w", s.addr, err)
	}
	fail := func(step string, err error) (*conn, error) {
		_ = c.Close()
		return nil, fmt.Errorf("mail: smtp %s at %s: %w", step, s.addr, err)
	}
	if err := c.Hello(s.hello); err != nil {
		return fail("hello", err)
	}
	if s.mode == "starttls" {
		// Required, not opportunistic: no STARTTLS means no mail, rather
		// than passcodes in clear text.
		if ok, _ := c.Extension("STARTTLS"); !ok {
			return fail("starttls", errors.New("server does not offer STARTTLS (smtp.tls: starttls)"))
		}
		if err := c.StartTLS(s.tls); err != nil {
			return fail("starttls", err)
		}
	}
	if s.auth != nil {
		if err := c.Auth(s.auth); err != nil {
			return fail("auth", err)
		}
	}
	if !stop() {
		return fail("connect", ctx.Err())
	}
	pipelining, _ := c.Extension("PIPELINING")
	return &conn{raw: raw, c: c, pipelining: pipelining}, nil
}

// acquire returns an idle connection, or nil with the right to dial one.
// Idle connections are preferred so that they are reused.
func (s *SMTP) acquire(ctx context.Context) (*conn, error) {
	var c *conn
	select {
	case c = <-s.idle:
	default:
		select {
		case c = <-s.idle:
		case <-s.dials:
		case <-ctx.Done():
			return nil, fmt.Errorf("mail: waiting for an SMTP connection: %w", ctx.Err())
		}
	}
	if s.isClosed() {
		s.release(c, false)
		return nil, ErrClosed
	}
	return c, nil
}

// release gives back the connection (kept idle when it can be reused) or
// its dial token.
func (s *SMTP) release(c *conn, keep bool) {
	if c != nil && keep && !s.isClosed() {
		s.idle <- c
		return
	}
	if c != nil {
		_ = c.c.Close()
	}
	s.dials <- struct{}{}
}

func (s *SMTP) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// Close stops new sends and closes idle connections; connections in use
// are closed when their send finishes.
func (s *SMTP) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	for {
		select {
		case c := <-s.idle:
			_ = c.raw.SetDeadline(time.Now().Add(time.Second))
			_ = c.c.Quit()
			_ = c.c.Close()
			s.dials <- struct{}{}
		default:
			return nil
		}
	}
}

// isSMTPReply reports whether err is a reply from the server (as opposed
// to a network or protocol failure).
func isSMTPReply(err error) bool {
	var te *textproto.Error
	return errors.As(err, &te)
}

// Permanent reports whether err is a permanent (5xx) refusal by the mail
// server, which no retry will change.
func Permanent(err error) bool {
	var te *textproto.Error
	return errors.As(err, &te) && te.Code >= 500 && te.Code < 600
}

func parseFrom(from string) (*netmail.Address, error) {
	if strings.ContainsAny(from, "\r\n\x00") {
		return nil, fmt.Errorf("mail: from: %w", ErrHeaderInjection)
	}
	a, err := netmail.ParseAddress(from)
	if err != nil {
		return nil, fmt.Errorf("mail: from address %q: %w", from, err)
	}
	return a, nil
}

// build makes the RFC 5322 message with jordan-wright/email. Addresses are
// formatted by net/mail (display names RFC 2047-encoded); the subject is
// Q-encoded by the library when it is not ASCII.
func build(from *netmail.Address, m Message) (raw []byte, rcpt string, err error) {
	for field, v := range map[string]string{"to": m.To, "subject": m.Subject} {
		if err := checkHeaderValue(field, v); err != nil {
			return nil, "", err
		}
	}
	to, err := netmail.ParseAddress(m.To)
	if err != nil || to.Name != "" || to.Address != m.To {
		return nil, "", fmt.Errorf("mail: recipient must be a bare address")
	}
	e := email.NewEmail()
	e.From = from.String()
	e.To = []string{to.String()}
	e.Subject = m.Subject
	e.Text = []byte(m.Text)
	e.HTML = []byte(m.HTML)
	e.Headers.Set("Auto-Submitted", "auto-generated") // RFC 3834: no auto-replies
	id, err := messageID(m.ID, from.Address)
	if err != nil {
		return nil, "", err
	}
	e.Headers.Set("Message-Id", id)
	raw, err = e.Bytes()
	if err != nil {
		return nil, "", fmt.Errorf("mail: build message: %w", err)
	}
	return raw, to.Address, nil
}

// messageID is a Message-ID under the sender's domain (RFC 5322 §3.6.4:
// unique, its right side a domain): the outbox's id of the mail (the
// same for each attempt to deliver it), or 128 random bits for a mail
// sent without the outbox. Left to jordan-wright/email, every mail would
// name the machine it was sent from and its process id
// (<time.pid.random@hostname>), which are nobody's business outside, and
// would cost a uname and a getpid system call each.
func messageID(id, sender string) (string, error) {
	if id == "" {
		var b [16]byte
		if _, err := rand.Read(b[:]); err != nil {
			return "", fmt.Errorf("mail: message id: %w", err)
		}
		id = hex.EncodeToString(b[:])
	}
	return "<" + id + "@" + sender[strings.LastIndexByte(sender, '@')+1:] + ">", nil
}

// LogTransport is the development driver (mail.driver: log): instead of
// sending, it logs the whole mail, code included. It exists precisely to
// show the code to a developer, and is the only place a code is printed.
type LogTransport struct {
	Logger *zap.Logger
}

// Send logs m.
func (t LogTransport) Send(_ context.Context, from string, m Message) error {
	logger := t.Logger
	if logger == nil {
		logger = zap.NewNop()
	}
	logger.Info("development mail driver: mail not sent, printed here (never use mail.driver: log in production)",
		zap.String("from", from),
		zap.String("to", m.To),
		zap.String("kind", m.Kind),
		zap.String("subject", m.Subject),
		zap.String("text", m.Text),
	)
	return nil
}

// maskedTo is the recipient as logs show it.
func maskedTo(m Message) string { return canon.MaskEmail(m.To) }
