package mail

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/guestpass/guestpass/pkg/mail/mailtest"
	"github.com/guestpass/guestpass/pkg/metrics"
)

// counterValue reads a counter (prometheus/testutil would pull in a
// module go.mod does not have).
func counterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

func observed() (*zap.Logger, *observer.ObservedLogs) {
	core, logs := observer.New(zapcore.DebugLevel)
	return zap.New(core), logs
}

// entryText is everything a log entry would print.
func entryText(e observer.LoggedEntry) string {
	return fmt.Sprintf("%s %v", e.Message, e.ContextMap())
}

func TestDispatcherRetriesThenDelivers(t *testing.T) {
	srv := mailtest.Start(t)
	s := newSMTP(t, SMTPOptions{Addr: srv.Addr, PoolSize: 2})
	m := metrics.New()
	logger, logs := observed()
	d := NewDispatcher(s, "no-reply@example.com", DispatcherOptions{
		Workers: 2, QueueSize: 10, Retries: 4, Backoff: 5 * time.Millisecond, Logger: logger, Metrics: m,
	})
	defer d.Close(context.Background())

	msg, err := newRenderer(t).Code(codeMail("en"))
	if err != nil {
		t.Fatal(err)
	}
	srv.SetFailures(3) // 451 three times, then accepted
	if err := d.Enqueue(msg); err != nil {
		t.Fatal(err)
	}
	got, err := srv.WaitFor("ada@example.com", waitMail)
	if err != nil {
		t.Fatal(err)
	}
	if mailtest.CodeIn(got.Text) != "01234567" {
		t.Errorf("text = %q", got.Text)
	}
	if err := d.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if v := counterValue(t, m.CodesSent); v != 1 {
		t.Errorf("CodesSent = %v", v)
	}
	if v := counterValue(t, m.MailFailures.WithLabelValues(KindCode)); v != 0 {
		t.Errorf("MailFailures = %v", v)
	}
	if n := logs.FilterMessageSnippet("will retry").Len(); n != 3 {
		t.Errorf("%d retry log lines, want 3", n)
	}
	for _, e := range logs.All() {
		if strings.Contains(entryText(e), "01234567") || strings.Contains(entryText(e), "ada@example.com") {
			t.Errorf("log leaks code or address: %s", entryText(e))
		}
	}
}

// deadAddr is an address where nothing listens.
func deadAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func TestDispatcherServerDown(t *testing.T) {
	s := newSMTP(t, SMTPOptions{Addr: deadAddr(t), PoolSize: 2})
	m := metrics.New()
	logger, logs := observed()
	d := NewDispatcher(s, "no-reply@example.com", DispatcherOptions{
		Workers: 2, QueueSize: 10, Retries: 2, Backoff: time.Millisecond, Logger: logger, Metrics: m,
	})
	r := newRenderer(t)
	for i := range 3 {
		cm := codeMail("en")
		cm.To = fmt.Sprintf("user%d@example.com", i)
		cm.Code = fmt.Sprintf("9876543%d", i)
		msg, err := r.Code(cm)
		if err != nil {
			t.Fatal(err)
		}
		if err := d.Enqueue(msg); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if v := counterValue(t, m.MailFailures.WithLabelValues(KindCode)); v != 3 {
		t.Errorf("MailFailures = %v, want 3", v)
	}
	if v := counterValue(t, m.CodesSent); v != 0 {
		t.Errorf("CodesSent = %v", v)
	}
	warns := logs.FilterLevelExact(zapcore.WarnLevel).FilterMessage("mail not delivered").All()
	if len(warns) != 3 {
		t.Fatalf("%d warnings, want 3", len(warns))
	}
	for _, w := range warns {
		if to := w.ContextMap()["to"]; !strings.HasPrefix(to.(string), "u***@example.com") {
			t.Errorf("recipient not masked: %v", to)
		}
		if w.ContextMap()["attempts"] != int64(3) {
			t.Errorf("attempts = %v, want 3", w.ContextMap()["attempts"])
		}
	}
	for _, e := range logs.All() {
		txt := entryText(e)
		if strings.Contains(txt, "9876543") || strings.Contains(txt, "valid for") || strings.Contains(txt, "ser0@") {
			t.Errorf("log leaks code, body or address: %s", txt)
		}
	}
	if err := d.Enqueue(Message{To: "a@example.com", Kind: KindCode}); !errors.Is(err, ErrDispatcherClosed) {
		t.Errorf("Enqueue after Close: %v", err)
	}
}

// silentServer accepts TCP connections and never says a word, so every
// delivery hangs until its timeout: the queue fills up.
func silentServer(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		var conns []net.Conn
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	return l.Addr().String()
}

func TestDispatcherEnqueueNeverBlocks(t *testing.T) {
	s := newSMTP(t, SMTPOptions{Addr: silentServer(t), PoolSize: 1}, WithTimeout(time.Hour))
	m := metrics.New()
	logger, logs := observed()
	d := NewDispatcher(s, "no-reply@example.com", DispatcherOptions{
		Workers: 1, QueueSize: 2, Retries: 1, Backoff: time.Millisecond, SendTimeout: time.Hour, Logger: logger, Metrics: m,
	})
	full := 0
	for i := range 20 {
		err := d.Enqueue(Message{To: fmt.Sprintf("u%d@example.com", i), Subject: "s", Text: "code 11112222", Kind: KindCode})
		if errors.Is(err, ErrQueueFull) {
			full++
		} else if err != nil {
			t.Fatal(err)
		}
	}
	// One mail is with the worker (or still queued), two fit in the queue.
	if full < 17 {
		t.Errorf("%d of 20 refused as queue full, want at least 17", full)
	}
	if v := counterValue(t, m.MailFailures.WithLabelValues(KindCode)); int(v) != full {
		t.Errorf("MailFailures = %v, want %d", v, full)
	}

	// Close gives up when its context ends; the rest are counted as failed.
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := d.Close(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Close = %v, want deadline exceeded", err)
	}
	if v := counterValue(t, m.MailFailures.WithLabelValues(KindCode)); v != 20 {
		t.Errorf("MailFailures = %v, want all 20", v)
	}
	for _, e := range logs.All() {
		if strings.Contains(entryText(e), "11112222") {
			t.Errorf("log leaks the code: %s", entryText(e))
		}
	}
}

// Many workers over a small pool: the server never sees more connections
// than the pool allows, and everything arrives.
func TestDispatcherPoolBound(t *testing.T) {
	srv := mailtest.Start(t)
	s := newSMTP(t, SMTPOptions{Addr: srv.Addr, PoolSize: 2})
	m := metrics.New()
	d := NewDispatcher(s, "no-reply@example.com", DispatcherOptions{Workers: 8, QueueSize: 100, Metrics: m})
	const n = 40
	for i := range n {
		if err := d.Enqueue(Message{To: fmt.Sprintf("u%d@example.com", i), Subject: "s", Text: "t", HTML: "<p>t</p>", Kind: KindCode}); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := len(srv.Messages()); got != n {
		t.Errorf("%d delivered, want %d", got, n)
	}
	if c := srv.MaxConcurrent(); c > 2 {
		t.Errorf("server saw %d simultaneous connections, pool size 2", c)
	}
	if v := counterValue(t, m.CodesSent); v != n {
		t.Errorf("CodesSent = %v", v)
	}
}

func TestDispatcherPermanentFailureIsNotRetried(t *testing.T) {
	srv := mailtest.StartWith(t, mailtest.Options{Username: "u", Password: "p"})
	s := newSMTP(t, SMTPOptions{Addr: srv.Addr}) // no credentials: 530
	m := metrics.New()
	logger, logs := observed()
	d := NewDispatcher(s, "", DispatcherOptions{Retries: 5, Backoff: time.Hour, Logger: logger, Metrics: m})
	if err := d.Enqueue(Message{To: "a@example.com", Subject: "s", Text: "t", Kind: KindInvite}); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(context.Background()); err != nil { // a retry would wait an hour
		t.Fatal(err)
	}
	if v := counterValue(t, m.MailFailures.WithLabelValues(KindInvite)); v != 1 {
		t.Errorf("MailFailures{invite} = %v", v)
	}
	w := logs.FilterMessage("mail not delivered").All()
	if len(w) != 1 || w[0].ContextMap()["attempts"] != int64(1) {
		t.Errorf("want one warning after one attempt, got %v", w)
	}
}

func TestLogTransportShowsTheCode(t *testing.T) {
	logger, logs := observed()
	d := NewDispatcher(LogTransport{Logger: logger}, "no-reply@example.com", DispatcherOptions{Logger: zap.NewNop()})
	msg, err := newRenderer(t).Code(codeMail("en"))
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Enqueue(msg); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	e := logs.FilterMessageSnippet("development mail driver").All()
	if len(e) != 1 || e[0].Level != zapcore.InfoLevel || !strings.Contains(e[0].ContextMap()["text"].(string), "01234567") {
		t.Errorf("dev driver log = %v", e)
	}
}

func TestScrub(t *testing.T) {
	m := Message{To: "Ada@Example.com"}
	got := scrub(errors.New("550 5.1.1 <ada@example.com>: unknown user; ref 1234567890"), m)
	if strings.Contains(strings.ToLower(got), "ada@example.com") || strings.Contains(got, "1234567890") {
		t.Errorf("scrub = %q", got)
	}
}
