package mail

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/textproto"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/guestpass/guestpass/pkg/mail/mailtest"
)

const waitMail = 10 * time.Second

func newSMTP(t *testing.T, cfg SMTPOptions, opts ...SMTPOption) *SMTP {
	t.Helper()
	s, err := NewSMTP(cfg, "Fabrikam Café <no-reply@example.com>", opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestSMTPDeliversCodeMail(t *testing.T) {
	srv := mailtest.Start(t)
	s := newSMTP(t, SMTPOptions{Addr: srv.Addr, TLS: "none", PoolSize: 2})
	r := newRenderer(t)

	cm := codeMail("fr")
	cm.TenantName = "Société Générale"
	msg, err := r.Code(cm)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Send(context.Background(), "", msg); err != nil {
		t.Fatal(err)
	}
	got, err := srv.WaitFor("ADA@example.com", waitMail)
	if err != nil {
		t.Fatal(err)
	}
	if got.From != "no-reply@example.com" || got.To != "ada@example.com" {
		t.Errorf("envelope %q -> %q", got.From, got.To)
	}
	if got.Subject != "Votre code de connexion Société Générale pour Portal" {
		t.Errorf("subject = %q", got.Subject)
	}
	if strings.Contains(got.Subject, cm.Code) || strings.Contains(got.Header.Get("Subject"), cm.Code) {
		t.Error("code in the subject")
	}
	if mailtest.CodeIn(got.Text) != cm.Code || !strings.Contains(got.HTML, cm.Code) {
		t.Errorf("code missing from a part: text %q", got.Text)
	}
	raw := strings.ToLower(string(got.Raw))
	for _, bad := range []string{"http://", "https://", "href"} {
		if strings.Contains(raw, bad) {
			t.Errorf("code mail contains %q", bad)
		}
	}
	// Non-ASCII names travel RFC 2047-encoded, never as raw 8-bit headers.
	hdr := string(got.Raw[:strings.Index(string(got.Raw), "\r\n\r\n")])
	if !strings.Contains(hdr, "=?UTF-8?") || strings.Contains(hdr, "Société") || strings.Contains(hdr, "Café") {
		t.Errorf("headers not RFC 2047 encoded:\n%s", hdr)
	}
	if from := got.Header.Get("From"); !strings.Contains(from, "<no-reply@example.com>") {
		t.Errorf("From header = %q", from)
	}
	if got.Header.Get("Auto-Submitted") != "auto-generated" {
		t.Error("no Auto-Submitted header")
	}
	// The Message-ID names the sender's domain, never this machine or
	// its process; each mail has its own.
	host, _ := os.Hostname()
	id := got.Header.Get("Message-Id")
	if !regexp.MustCompile(`^<[0-9a-f]{32}@example\.com>$`).MatchString(id) || (host != "" && strings.Contains(id, host)) {
		t.Errorf("Message-Id = %q", id)
	}
	if err := s.Send(context.Background(), "", msg); err != nil {
		t.Fatal(err)
	}
	again, err := srv.WaitFor("ADA@example.com", waitMail)
	if err != nil {
		t.Fatal(err)
	}
	if again.Header.Get("Message-Id") == id {
		t.Errorf("two mails share Message-Id %q", id)
	}
}

// A relay that does not offer PIPELINING gets MAIL, RCPT and DATA one at
// a time, each after its reply (RFC 2920 §3.1), and the mail arrives
// whole, on a reused connection too; a refused recipient leaves that
// connection in step for the next mail.
func TestSMTPWithoutPipelining(t *testing.T) {
	srv := mailtest.StartWith(t, mailtest.Options{NoPipelining: true})
	s := newSMTP(t, SMTPOptions{Addr: srv.Addr, TLS: "none", PoolSize: 1})
	r := newRenderer(t)
	msg, err := r.Code(codeMail("en"))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if err := s.Send(context.Background(), "", msg); err != nil {
			t.Fatalf("mail %d: %v", i, err)
		}
		got, err := srv.WaitFor("ada@example.com", waitMail)
		if err != nil {
			t.Fatal(err)
		}
		if got.From != "no-reply@example.com" || mailtest.CodeIn(got.Text) != codeMail("en").Code {
			t.Fatalf("mail %d: envelope from %q, text %q", i, got.From, got.Text)
		}
	}
	srv.Defer("later@example.com")
	deferred := msg
	deferred.To = "later@example.com"
	if err := s.Send(context.Background(), "", deferred); err == nil || Permanent(err) {
		t.Fatalf("a recipient answered 451: %v, want a transient error", err)
	}
	if err := s.Send(context.Background(), "", msg); err != nil {
		t.Fatalf("the mail after a refusal: %v", err)
	}
	if _, err := srv.WaitFor("ada@example.com", waitMail); err != nil {
		t.Fatal(err)
	}
	if srv.Pipelined() {
		t.Fatal("commands were sent ahead to a server that does not offer PIPELINING")
	}
	if n := srv.Connections(); n != 1 {
		t.Errorf("%d connections for four mails through a pool of one, want 1 (reused)", n)
	}
}

func TestSMTPRefusesInjection(t *testing.T) {
	srv := mailtest.Start(t)
	s := newSMTP(t, SMTPOptions{Addr: srv.Addr, PoolSize: 1})
	for _, m := range []Message{
		{To: "a@example.com\r\nBcc: b@evil.example", Subject: "x", Text: "x"},
		{To: "a@example.com", Subject: "x\r\nBcc: b@evil.example", Text: "x"},
		{To: "a@example.com", Subject: "x\x00", Text: "x"},
		{To: "Ada <a@example.com>", Subject: "x", Text: "x"},
		{To: "a@example.com, b@evil.example", Subject: "x", Text: "x"},
	} {
		if err := s.Send(context.Background(), "", m); err == nil {
			t.Errorf("sent %+v", m)
		}
	}
	if err := s.Send(context.Background(), "x@example.com\r\nBcc: b@evil.example", Message{To: "a@example.com", Subject: "x", Text: "x"}); !errors.Is(err, ErrHeaderInjection) {
		t.Errorf("from injection: %v", err)
	}
	if _, err := NewSMTP(SMTPOptions{Addr: srv.Addr}, "no-reply@example.com\nBcc: x@y.example"); err == nil {
		t.Error("NewSMTP accepted a bad from")
	}
	if n := len(srv.Messages()); n != 0 {
		t.Errorf("%d mails got through", n)
	}
}

func TestSMTPConfigErrors(t *testing.T) {
	for _, cfg := range []SMTPOptions{{Addr: "nohost"}, {Addr: "127.0.0.1:25", TLS: "ssl"}} {
		if _, err := NewSMTP(cfg, "a@example.com"); err == nil {
			t.Errorf("%+v accepted", cfg)
		}
	}
}

func TestSMTPTLSModes(t *testing.T) {
	msg := Message{To: "ada@example.com", Subject: "hello", Text: "hi", HTML: "<p>hi</p>", Kind: KindCode}
	t.Run("starttls with auth", func(t *testing.T) {
		srv := mailtest.StartWith(t, mailtest.Options{TLS: "starttls", Username: "u", Password: "p"})
		s := newSMTP(t, SMTPOptions{Addr: srv.Addr, TLS: "starttls", Username: "u", Password: "p"}, WithTLSConfig(srv.ClientTLSConfig()))
		if err := s.Send(context.Background(), "", msg); err != nil {
			t.Fatal(err)
		}
		if _, err := srv.WaitFor(msg.To, waitMail); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("implicit tls", func(t *testing.T) {
		srv := mailtest.StartWith(t, mailtest.Options{TLS: "tls", Username: "u", Password: "p"})
		s := newSMTP(t, SMTPOptions{Addr: srv.Addr, TLS: "tls", Username: "u", Password: "p"}, WithTLSConfig(srv.ClientTLSConfig()))
		for range 3 { // reused over one pooled connection
			if err := s.Send(context.Background(), "", msg); err != nil {
				t.Fatal(err)
			}
		}
		if n := len(srv.Messages()); n != 3 || srv.Connections() != 1 {
			t.Errorf("%d mails over %d connections", n, srv.Connections())
		}
	})
	t.Run("untrusted certificate", func(t *testing.T) {
		srv := mailtest.StartWith(t, mailtest.Options{TLS: "tls"})
		s := newSMTP(t, SMTPOptions{Addr: srv.Addr, TLS: "tls"})
		if err := s.Send(context.Background(), "", msg); err == nil {
			t.Error("self-signed certificate accepted without configuration")
		}
	})
	t.Run("starttls required", func(t *testing.T) {
		srv := mailtest.Start(t) // does not offer STARTTLS
		s := newSMTP(t, SMTPOptions{Addr: srv.Addr, TLS: "starttls"})
		err := s.Send(context.Background(), "", msg)
		if err == nil || !strings.Contains(err.Error(), "STARTTLS") {
			t.Errorf("err = %v, want a refusal to send in clear text", err)
		}
		if len(srv.Messages()) != 0 {
			t.Error("mail sent in clear text")
		}
	})
	t.Run("auth required", func(t *testing.T) {
		srv := mailtest.StartWith(t, mailtest.Options{Username: "u", Password: "p"})
		s := newSMTP(t, SMTPOptions{Addr: srv.Addr})
		err := s.Send(context.Background(), "", msg)
		if !Permanent(err) {
			t.Errorf("err = %v, want a permanent (5xx) refusal", err)
		}
	})
}

// A transient refusal leaves the connection usable; the next mail goes
// through on it.
func TestSMTPTransientRefusal(t *testing.T) {
	srv := mailtest.Start(t)
	s := newSMTP(t, SMTPOptions{Addr: srv.Addr, PoolSize: 1})
	srv.SetFailures(1)
	m := Message{To: "ada@example.com", Subject: "x", Text: "x", Kind: KindCode}
	err := s.Send(context.Background(), "", m)
	if err == nil || Permanent(err) || !strings.Contains(err.Error(), "451") {
		t.Fatalf("err = %v, want a transient 451", err)
	}
	if err := s.Send(context.Background(), "", m); err != nil {
		t.Fatal(err)
	}
	if srv.Connections() != 1 {
		t.Errorf("%d connections, want the first reused", srv.Connections())
	}
}

func TestSMTPPoolIsBounded(t *testing.T) {
	srv := mailtest.Start(t)
	const size, mails = 3, 30
	s := newSMTP(t, SMTPOptions{Addr: srv.Addr, PoolSize: size})
	var wg sync.WaitGroup
	for i := range mails {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m := Message{To: fmt.Sprintf("u%d@example.com", i), Subject: "x", Text: "x", Kind: KindCode}
			if err := s.Send(context.Background(), "", m); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if n := len(srv.Messages()); n != mails {
		t.Errorf("%d mails delivered, want %d", n, mails)
	}
	if c := srv.MaxConcurrent(); c > size || srv.Connections() > size {
		t.Errorf("server saw %d simultaneous / %d total connections, pool size %d", c, srv.Connections(), size)
	}
}

// A server that accepts TCP and never answers: a cancelled context ends
// the send at once instead of hanging until the timeout.
func TestSMTPHonoursContext(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	s := newSMTP(t, SMTPOptions{Addr: l.Addr().String(), PoolSize: 1}, WithTimeout(time.Hour))
	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(50 * time.Millisecond); cancel() }()
	if err := s.Send(ctx, "", Message{To: "a@example.com", Subject: "x", Text: "x"}); err == nil {
		t.Fatal("send to a silent server succeeded")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Send(context.Background(), "", Message{To: "a@example.com", Subject: "x", Text: "x"}); !errors.Is(err, ErrClosed) {
		t.Errorf("after Close: %v", err)
	}
}

// The pipelined DATA writer writes what textproto's DotWriter writes,
// however the content is cut into writes: dot-stuffing (a "." opening a
// line would end the mail early) and CRLF line ends.
func TestDataWriterStuffsAsTheDotWriter(t *testing.T) {
	for _, in := range []string{
		"", "x", ".", "..", ".\r\n", "a\r\n.\r\nb", "a\n.b\n..c\r\n", "\n\n.\n", "a\r", "a\rb\n.c",
		"line\r\n", "a\r\n\r\n.\r\n.\r\n", "end.\r\n.", ".x\r\n.y",
	} {
		want := func() string {
			var b bytes.Buffer
			tp := textproto.NewConn(nopConn{&b})
			w := tp.DotWriter()
			_, _ = w.Write([]byte(in))
			_ = w.Close()
			return b.String()
		}()
		for cut := range len(in) + 1 {
			var b bytes.Buffer
			tp := textproto.NewConn(nopConn{&b})
			w := newDataWriter(tp)
			for _, p := range []string{in[:cut], in[cut:]} {
				if n, err := w.Write([]byte(p)); err != nil || n != len(p) {
					t.Fatalf("Write = %d, %v", n, err)
				}
			}
			_ = w.Close() // no reply to read: only what was written counts
			if b.String() != want {
				t.Errorf("%q cut at %d: wrote %q, DotWriter writes %q", in, cut, b.String(), want)
			}
		}
	}
}

// nopConn is a writer as a connection: it reads nothing.
type nopConn struct{ io.Writer }

func (nopConn) Read([]byte) (int, error) { return 0, io.EOF }
func (nopConn) Close() error             { return nil }

// BenchmarkDataWriter: a built passcode mail written as DATA content,
// by textproto's DotWriter (as before) and by dataWriter.
//
//	go test -run '^$' -bench BenchmarkDataWriter -count 5 ./pkg/mail
func BenchmarkDataWriter(b *testing.B) {
	from, err := parseFrom("Fabrikam Café <no-reply@example.com>")
	if err != nil {
		b.Fatal(err)
	}
	raw, _, err := build(from, codeMessage(b, "ada@example.com", "12345678"))
	if err != nil {
		b.Fatal(err)
	}
	tp := textproto.NewConn(nopConn{io.Discard})
	for name, open := range map[string]func() io.WriteCloser{
		"DotWriter":  func() io.WriteCloser { return tp.DotWriter() },
		"dataWriter": func() io.WriteCloser { return &dataStuffer{newDataWriter(tp)} },
	} {
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(raw)))
			for range b.N {
				w := open()
				if _, err := w.Write(raw); err != nil {
					b.Fatal(err)
				}
				if err := w.Close(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// dataStuffer is a dataWriter whose Close ends the content but reads no
// reply (there is no server).
type dataStuffer struct{ *dataWriter }

func (d *dataStuffer) Close() error { return d.end() }
