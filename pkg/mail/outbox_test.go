package mail

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/redis/go-redis/v9"

	"github.com/guestpass/guestpass/pkg/mail/mailtest"
	"github.com/guestpass/guestpass/pkg/metrics"
	"github.com/guestpass/guestpass/pkg/store"
	"github.com/guestpass/guestpass/pkg/store/redisstore"
	"github.com/guestpass/guestpass/pkg/store/redistest"
	"github.com/guestpass/guestpass/pkg/store/storetest"
	"github.com/guestpass/guestpass/templates"
)

// crash stops d as a killed process would: nothing more is recorded (a
// mail in flight, or sent with its forget not yet written, keeps its lease
// until the lease runs out), nothing is drained.
func (d *Dispatcher) crash() {
	d.mu.Lock()
	d.crashed, d.closing, d.closed = true, true, true
	d.mu.Unlock()
	if d.forgets != nil {
		d.forgets.kill()
	}
	close(d.stop)
	d.cancel()
	<-d.done
	close(d.finished) // a Close after it returns at once
}

// kill drops the pending forgets and writes nothing more.
func (f *forgetter) kill() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.dead = true
	f.takeLocked()
}

// held is how many forgets are pending.
func (f *forgetter) held() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.pending)
}

// outcome reads a MailOutbox counter.
func outcome(t *testing.T, m *metrics.Metrics, name string) float64 {
	return counterValue(t, m.MailOutbox.WithLabelValues(name))
}

// waitOutcome waits (bounded) until the counter reaches n.
func waitOutcome(t *testing.T, m *metrics.Metrics, name string, n float64) {
	t.Helper()
	for deadline := time.Now().Add(waitMail); outcome(t, m, name) < n; {
		if time.Now().After(deadline) {
			t.Fatalf("outbox outcome %q = %v, want %v", name, outcome(t, m, name), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitGauge waits (bounded) until the gauge satisfies ok.
func waitGauge(t *testing.T, g prometheus.Gauge, ok func(float64) bool, want string) {
	t.Helper()
	read := func() float64 {
		var d dto.Metric
		if err := g.Write(&d); err != nil {
			t.Fatal(err)
		}
		return d.GetGauge().GetValue()
	}
	for deadline := time.Now().Add(waitMail); !ok(read()); {
		if time.Now().After(deadline) {
			t.Fatalf("gauge = %v, want %s", read(), want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// redisStore is a store on a private Redis, keys prefixed for this test.
func redisStore(t testing.TB, addr, prefix string) *redisstore.Store {
	t.Helper()
	st, err := redisstore.New(redisstore.Options{Addrs: []string{addr}, KeyPrefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

func codeMessage(t testing.TB, to, code string) Message {
	t.Helper()
	r, err := NewRenderer(templates.FS)
	if err != nil {
		t.Fatal(err)
	}
	cm := codeMail("en")
	cm.To, cm.Code = to, code
	m, err := r.Code(cm)
	if err != nil {
		t.Fatal(err)
	}
	m.Tenant = "fabrikam"
	return m
}

// SMTP refuses for longer than the old budget (5 attempts, ~15 s): the
// mail is retried while its code is valid and arrives when the server is
// back.
func TestOutboxOutlastsSMTPOutage(t *testing.T) {
	srv := mailtest.Start(t)
	srv.SetFailures(12)
	m := metrics.New()
	d := NewDispatcher(newSMTP(t, SMTPOptions{Addr: srv.Addr}), "no-reply@example.com", DispatcherOptions{
		Workers: 1, Backoff: time.Millisecond, MaxBackoff: 2 * time.Millisecond, Metrics: m,
	})
	defer d.Close(context.Background())
	if err := d.Enqueue(codeMessage(t, "ada@example.com", "24681357")); err != nil {
		t.Fatal(err)
	}
	got, err := srv.WaitFor("ada@example.com", waitMail)
	if err != nil {
		t.Fatal(err)
	}
	if mailtest.CodeIn(got.Text) != "24681357" {
		t.Errorf("text = %q", got.Text)
	}
	if err := d.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if r, s := outcome(t, m, "retried"), outcome(t, m, "sent"); r != 12 || s != 1 {
		t.Errorf("retried %v sent %v, want 12 and 1", r, s)
	}
	if v := counterValue(t, m.MailFailures.WithLabelValues(KindCode)); v != 0 {
		t.Errorf("MailFailures = %v", v)
	}
}

// acceptSignal is a TCP server that never answers and reports each
// connection: an SMTP server hung mid-delivery.
func acceptSignal(t *testing.T) (string, <-chan struct{}) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ch := make(chan struct{}, 16)
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
			ch <- struct{}{}
		}
	}()
	t.Cleanup(func() {
		l.Close()
		<-done
		for _, c := range conns {
			c.Close()
		}
	})
	return l.Addr().String(), ch
}

// Two replicas share one Redis. The first claims a mail and dies while
// sending it (killed: no outcome recorded, nothing drained); once its
// lease runs out the second replica sends the mail.
func TestOutboxCrashedReplicaMailIsSentBySurvivor(t *testing.T) {
	r := redistest.Start(t)
	prefix := redistest.KeyPrefix(t)

	hung, accepted := acceptSignal(t)
	a := NewDispatcher(newSMTP(t, SMTPOptions{Addr: hung}), "no-reply@example.com", DispatcherOptions{
		Workers: 1, SendTimeout: time.Second, Lease: 1500 * time.Millisecond, Store: redisStore(t, r.Addr, prefix),
	})
	if err := a.Enqueue(codeMessage(t, "ada@example.com", "13572468")); err != nil {
		t.Fatal(err)
	}
	select {
	case <-accepted: // a is sending
	case <-time.After(waitMail):
		t.Fatal("replica a never tried to send")
	}
	a.crash()

	srv := mailtest.Start(t)
	m := metrics.New()
	b := NewDispatcher(newSMTP(t, SMTPOptions{Addr: srv.Addr}), "no-reply@example.com", DispatcherOptions{
		Workers: 1, PollInterval: 50 * time.Millisecond, Store: redisStore(t, r.Addr, prefix), Metrics: m,
	})
	defer b.Close(context.Background())
	got, err := srv.WaitFor("ada@example.com", waitMail)
	if err != nil {
		t.Fatalf("the survivor never sent the crashed replica's mail: %v", err)
	}
	if mailtest.CodeIn(got.Text) != "13572468" {
		t.Errorf("text = %q", got.Text)
	}
	waitOutcome(t, m, "sent", 1)
	if err := b.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n, err := b.box.depth(context.Background(), "fabrikam"); err != nil || n != 0 {
		t.Errorf("queue depth after delivery = %d, %v", n, err)
	}
}

// A server that takes the whole mail and then stalls past the send
// timeout may have delivered it: the mail is not sent again, so the guest
// gets exactly one copy once the server wakes up.
func TestOutboxStallingServerDeliversOnce(t *testing.T) {
	srv := mailtest.Start(t)
	srv.Hold()
	m := metrics.New()
	d := NewDispatcher(newSMTP(t, SMTPOptions{Addr: srv.Addr}), "no-reply@example.com", DispatcherOptions{
		Workers: 2, SendTimeout: 300 * time.Millisecond, Backoff: time.Millisecond, MaxBackoff: 2 * time.Millisecond, Metrics: m,
	})
	defer d.Close(context.Background())
	if err := d.Enqueue(codeMessage(t, "ada@example.com", "11223344")); err != nil {
		t.Fatal(err)
	}
	// The first attempt has ended (whatever was made of it).
	for deadline := time.Now().Add(waitMail); outcome(t, m, "maybe_sent")+outcome(t, m, "retried") == 0; {
		if time.Now().After(deadline) {
			t.Fatal("the first attempt never ended")
		}
		time.Sleep(5 * time.Millisecond)
	}
	srv.Release()
	if _, err := srv.WaitFor("ada@example.com", waitMail); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(context.Background()); err != nil { // drains any retry
		t.Fatal(err)
	}
	if n := len(srv.Messages()); n != 1 {
		t.Errorf("the guest got the mail %d times, want once", n)
	}
	if v := outcome(t, m, "maybe_sent"); v != 1 {
		t.Errorf("maybe_sent = %v, want 1", v)
	}
}

// A mail still undelivered when its code expires is dropped, and counted:
// no guest gets a dead code.
func TestOutboxDropsExpiredMail(t *testing.T) {
	clock := storetest.NewClock(time.Now())
	m := metrics.New()
	st := redisStore(t, redistest.Start(t).Addr, redistest.KeyPrefix(t))
	d := NewDispatcher(newSMTP(t, SMTPOptions{Addr: deadAddr(t)}), "no-reply@example.com", DispatcherOptions{
		Workers: 1, Backoff: time.Millisecond, MaxBackoff: 2 * time.Millisecond, Store: st, Now: clock.Now, Metrics: m,
	})
	defer d.Close(context.Background())
	msg := codeMessage(t, "ada@example.com", "99887766") // valid 30 minutes
	if err := d.Enqueue(msg); err != nil {
		t.Fatal(err)
	}
	waitOutcome(t, m, "retried", 1) // the retry waits for the clock
	waitGauge(t, m.MailQueueDepth, func(v float64) bool { return v == 1 }, "depth 1")
	clock.Advance(10 * time.Minute) // still valid: tried again, still waiting
	waitGauge(t, m.MailQueueOldest, func(v float64) bool { return v >= 600 }, "oldest ≥ 600 s")
	clock.Advance(21 * time.Minute)
	waitOutcome(t, m, "dropped", 1)
	waitGauge(t, m.MailQueueDepth, func(v float64) bool { return v == 0 }, "depth 0")
	if v := counterValue(t, m.MailFailures.WithLabelValues(KindCode)); v != 1 {
		t.Errorf("MailFailures = %v, want 1", v)
	}
	if v := outcome(t, m, "sent"); v != 0 {
		t.Errorf("sent = %v", v)
	}
	if n, err := st.ZCard(context.Background(), queueKey("fabrikam")); err != nil || n != 0 {
		t.Errorf("queue depth after the drop = %d, %v", n, err)
	}
}

// Tenants are served in turn from the shared outbox: the quiet tenant's
// mail is not behind the noisy tenant's whole queue.
func TestOutboxTenantsTakeTurns(t *testing.T) {
	srv := mailtest.Start(t)
	srv.Hold() // let everything queue first
	d := NewDispatcher(newSMTP(t, SMTPOptions{Addr: srv.Addr, PoolSize: 1}), "no-reply@example.com", DispatcherOptions{Workers: 1})
	defer d.Close(context.Background())
	for i := range 6 {
		if err := d.Enqueue(Message{Tenant: "noisy", To: fmt.Sprintf("n%d@example.com", i), Subject: "s", Text: "t", Kind: KindCode}); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.Enqueue(Message{Tenant: "quiet", To: "q@example.com", Subject: "s", Text: "t", Kind: KindCode}); err != nil {
		t.Fatal(err)
	}
	srv.Release()
	if err := d.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	rcpts, _ := srv.WaitRecipients(7, 0)
	for i, r := range rcpts {
		if r == "q@example.com" && i > 2 {
			t.Errorf("the quiet tenant's mail went out %dth: %v", i+1, rcpts)
		}
	}
}

// rtHook counts Redis round trips: a command or a pipeline is one; with
// only set, those that send that command.
type rtHook struct {
	n    atomic.Int64
	only string
}

func (h *rtHook) count(cmds []redis.Cmder, _ bool) {
	for _, c := range cmds {
		if h.only == "" || c.Name() == h.only {
			h.n.Add(1)
			return
		}
	}
}

// hook is h as a go-redis hook.
func (h *rtHook) hook() redis.Hook { return redistest.TripHook(h.count) }

// BenchmarkOutboxRedis: mails per second through the Redis outbox to a
// local SMTP sink, and Redis round trips per mail (reserve and queue on
// the request's side; the outcome on the sender's, one pipeline for the
// mails sent within ForgetDelay: ~1.0 in all; a burst past the places
// waiting for a worker here also pays the poller's claims, and forgets
// those mails one by one).
//
//	go test -run '^$' -bench BenchmarkOutboxRedis -benchtime 2000x ./pkg/mail
func BenchmarkOutboxRedis(b *testing.B) {
	// paced: the next mail is queued once the one before it arrived (the
	// workers are free, as under sign-ins spread over time); burst: every
	// mail queued at once.
	for _, inFlight := range []int{1, 0} {
		name := "paced"
		if inFlight == 0 {
			name = "burst"
		}
		b.Run(name, func(b *testing.B) { benchOutbox(b, inFlight) })
	}
}

func benchOutbox(b *testing.B, inFlight int) {
	srv := mailtest.Start(b)
	st := redisStore(b, redistest.Start(b).Addr, redistest.KeyPrefix(b))
	hook := &rtHook{}
	st.Client().AddHook(hook.hook())
	s, err := NewSMTP(SMTPOptions{Addr: srv.Addr, PoolSize: 4}, "no-reply@example.com")
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	d := NewDispatcher(s, "no-reply@example.com", DispatcherOptions{Workers: 4, QueueSize: b.N + 1, Store: st})
	msg := Message{To: "sink@example.com", Subject: "s", Text: "code 12345678", Kind: KindCode}
	tenants := []string{"t1", "t2", "t3", "t4"}
	b.ResetTimer()
	start := time.Now()
	for i := range b.N {
		msg.Tenant = tenants[i%len(tenants)]
		if err := d.Enqueue(msg); err != nil {
			b.Fatal(err)
		}
		if inFlight > 0 && i >= inFlight {
			if _, err := srv.WaitRecipients(i+1-inFlight, time.Minute); err != nil {
				b.Fatal(err)
			}
		}
	}
	if _, err := srv.WaitRecipients(b.N, time.Minute); err != nil {
		b.Fatal(err)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	_ = d.Close(context.Background())
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "mails/s")
	b.ReportMetric(float64(hook.n.Load())/float64(b.N), "roundtrips/mail")
}

var _ store.Store = (*redisstore.Store)(nil)

// Two live replicas share one Redis outbox and both queue mail: every
// mail is sent exactly once (the lease), whichever replica queued it.
func TestOutboxTwoReplicasSendEachMailOnce(t *testing.T) {
	r := redistest.Start(t)
	prefix := redistest.KeyPrefix(t)
	srv := mailtest.Start(t)
	var ds []*Dispatcher
	for range 2 {
		ds = append(ds, NewDispatcher(newSMTP(t, SMTPOptions{Addr: srv.Addr, PoolSize: 4}), "no-reply@example.com",
			DispatcherOptions{Workers: 4, PollInterval: 5 * time.Millisecond, Store: redisStore(t, r.Addr, prefix)}))
	}
	const n = 60
	for i := range n {
		m := Message{Tenant: fmt.Sprint("t", i%3), To: fmt.Sprintf("u%d@example.com", i), Subject: "s", Text: "t", Kind: KindCode}
		if err := ds[i%2].Enqueue(m); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := srv.WaitRecipients(n, waitMail); err != nil {
		t.Fatal(err)
	}
	for _, d := range ds {
		if err := d.Close(context.Background()); err != nil { // waits for sends in flight
			t.Fatal(err)
		}
	}
	seen := map[string]int{}
	for _, m := range srv.Messages() {
		seen[m.To]++
	}
	for to, k := range seen {
		if k != 1 {
			t.Errorf("%s got %d copies", to, k)
		}
	}
	if len(seen) != n {
		t.Errorf("%d recipients served, want %d", len(seen), n)
	}
}

// A mail that waited for a worker so long that its lease could run out
// mid-send is not sent by this replica: it is left to the poller, which
// takes it once the lease has run out, so it still goes out exactly once.
func TestLongWaitLeavesTheMailToThePoller(t *testing.T) {
	srv := mailtest.Start(t)
	srv.Hold()
	var mu sync.Mutex
	now := time.Unix(1_700_000_000, 0)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	m := metrics.New()
	d := NewDispatcher(newSMTP(t, SMTPOptions{Addr: srv.Addr, PoolSize: 1}), "no-reply@example.com", DispatcherOptions{
		Workers: 1, SendTimeout: time.Minute, Lease: 2 * time.Minute, PollInterval: 10 * time.Millisecond, Now: clock, Metrics: m,
	})
	defer d.Close(context.Background())
	if err := d.Enqueue(codeMessage(t, "first@example.com", "11112222")); err != nil {
		t.Fatal(err) // goes to the one worker, held at DATA
	}
	if err := d.Enqueue(codeMessage(t, "second@example.com", "33334444")); err != nil {
		t.Fatal(err) // waits here for the worker, leased
	}
	advance(90 * time.Second) // past Lease - SendTimeout while it waits
	srv.Release()
	if _, err := srv.WaitFor("first@example.com", waitMail); err != nil {
		t.Fatal(err)
	}
	// Not sent on the stale lease: only once it has run out.
	time.Sleep(200 * time.Millisecond)
	for _, msg := range srv.Messages() {
		if msg.To == "second@example.com" {
			t.Fatal("the mail was sent although its lease could have run out")
		}
	}
	advance(time.Minute)
	if _, err := srv.WaitFor("second@example.com", waitMail); err != nil {
		t.Fatalf("the poller never sent the mail left to it: %v", err)
	}
	waitOutcome(t, m, "sent", 2)
	if n := len(srv.Messages()); n != 2 {
		t.Errorf("%d mails delivered, want 2 (each once)", n)
	}
}

// claimHook counts the poller's claims: a lease taken with SET NX (a mail
// written leased to this replica takes its lease with a plain SET).
type claimHook struct{ n atomic.Int64 }

func (h *claimHook) count(cmds []redis.Cmder, _ bool) {
	for _, cmd := range cmds {
		args := cmd.Args()
		if cmd.Name() == "set" && strings.EqualFold(fmt.Sprint(args[len(args)-1]), "nx") {
			h.n.Add(1)
		}
	}
}

// A load the workers keep up with on average, coming in bursts larger
// than the workers (16 browsers asking for a code at one instant, 4 sends
// on the wire): every mail is handed to a worker here, none waits for the
// poller's claim (2 more round trips, and the poller's turns).
func TestBurstsTheWorkersKeepUpWithAreHandedOver(t *testing.T) {
	st := redisStore(t, redistest.Start(t).Addr, redistest.KeyPrefix(t))
	hook := &claimHook{}
	st.Client().AddHook(redistest.TripHook(hook.count))
	srv := mailtest.Start(t)
	m := metrics.New()
	d := NewDispatcher(newSMTP(t, SMTPOptions{Addr: srv.Addr, PoolSize: 4}), "no-reply@example.com",
		DispatcherOptions{Workers: 4, QueueSize: 1000, Store: st, PollInterval: 10 * time.Millisecond, Metrics: m})
	defer d.Close(context.Background())
	const bursts, size = 10, 16
	for b := range bursts {
		var wg sync.WaitGroup
		for i := range size {
			wg.Add(1)
			go func() {
				defer wg.Done()
				msg := Message{Tenant: fmt.Sprint("t", i%2), To: fmt.Sprintf("u%d.%d@example.com", b, i), Subject: "s", Text: "t", Kind: KindCode}
				if err := d.Enqueue(msg); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		waitOutcome(t, m, "sent", float64((b+1)*size))
	}
	if n := hook.n.Load(); n != 0 {
		t.Errorf("the poller claimed %d of %d mails: bursts the workers keep up with went to the queue", n, bursts*size)
	}
	if n := len(srv.Messages()); n != bursts*size {
		t.Errorf("%d mails delivered, want %d", n, bursts*size)
	}
}

// The stored record keeps HTML unescaped (smaller, cheaper) and decodes
// to the same values as json.Marshal's spelling of it, which is how an
// older replica wrote and reads it.
func TestRecordEncoding(t *testing.T) {
	rec := record{Message: Message{To: "a&b@example.com", Subject: "Code <1> & \u2028 \"q\"",
		Text: "line\nline2 <x>", HTML: `<p class="c">Your code: <b>123456</b> &amp; more</p>`,
		Kind: KindCode, Tenant: "t", Valid: time.Minute}, Due: 1, Expires: 2, Enqueued: 3, Tries: 4}
	raw, err := encodeRecord(rec)
	if err != nil {
		t.Fatal(err)
	}
	old, err := json.Marshal(rec)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.HasSuffix(raw, []byte("\n")) || !bytes.Contains(raw, []byte(`<p class=\"c\">`)) || len(raw) >= len(old) {
		t.Fatalf("record %s: want unescaped HTML, no newline, shorter than %d bytes", raw, len(old))
	}
	var fromNew, fromOld record
	if err := json.Unmarshal(raw, &fromNew); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(old, &fromOld); err != nil {
		t.Fatal(err)
	}
	if fromNew != rec || fromOld != rec {
		t.Fatalf("decoded %+v / %+v, want %+v", fromNew, fromOld, rec)
	}
}

func BenchmarkRecordEncoding(b *testing.B) {
	html := strings.Repeat(`<tr><td style="padding:8px">Your code is <b>123456</b> &mdash; valid 10 min</td></tr>`, 20)
	rec := record{Message: Message{To: "guest@example.com", Subject: "Your code", Text: strings.Repeat("text line\n", 30),
		HTML: html, Kind: KindCode, Tenant: "t", Valid: time.Minute}, Due: 1, Expires: 2, Enqueued: 3}
	b.Run("json.Marshal", func(b *testing.B) {
		for b.Loop() {
			_, _ = json.Marshal(rec)
		}
	})
	b.Run("encodeRecord", func(b *testing.B) {
		for b.Loop() {
			_, _ = encodeRecord(rec)
		}
	})
}
