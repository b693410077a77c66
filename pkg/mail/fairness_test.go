package mail

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/guestpass/guestpass/pkg/mail/mailtest"
	"github.com/guestpass/guestpass/pkg/metrics"
	"github.com/guestpass/guestpass/pkg/store/redistest"
)

// Over a real (silent) SMTP server: one tenant filling its queue is told
// so at once, and another tenant still gets its places.
func TestDispatcherTenantQueueFullIsReported(t *testing.T) {
	s := newSMTP(t, SMTPOptions{Addr: silentServer(t), PoolSize: 1}, WithTimeout(time.Hour))
	m := metrics.New()
	d := NewDispatcher(s, "no-reply@example.com", DispatcherOptions{
		Workers: 1, QueueSize: 3, Retries: -1, SendTimeout: time.Hour, Metrics: m,
	})
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		_ = d.Close(ctx)
	}()
	full := 0
	for i := range 10 {
		err := d.Enqueue(Message{Tenant: "noisy", To: fmt.Sprintf("u%d@example.com", i), Subject: "s", Text: "t", Kind: KindCode})
		if errors.Is(err, ErrQueueFull) {
			full++
		} else if err != nil {
			t.Fatal(err)
		}
	}
	// At most one mail is with the worker; three wait.
	if full < 6 {
		t.Fatalf("%d of 10 refused, want at least 6", full)
	}
	if v := counterValue(t, m.MailFailures.WithLabelValues(KindCode)); int(v) != full {
		t.Errorf("MailFailures = %v, want %d: a refused mail must be counted", v, full)
	}
	for i := range 3 {
		sl, err := d.Reserve("quiet")
		if err != nil {
			t.Fatalf("quiet tenant, place %d: %v (the noisy tenant took its room)", i, err)
		}
		sl.Release()
	}
	sl, err := d.Reserve("quiet")
	if err != nil {
		t.Fatal(err)
	}
	if err := sl.Send(Message{To: "q@example.com", Kind: KindCode}); err != nil {
		t.Fatal(err)
	}
	if err := sl.Send(Message{To: "q@example.com", Kind: KindCode}); !errors.Is(err, ErrSlotUsed) {
		t.Errorf("second Send on one slot = %v, want ErrSlotUsed", err)
	}
}

// A tenant whose mail keeps failing for now does not hold the workers:
// its retries wait in its queue, not in a worker, and another tenant's
// mail goes out next, over a real SMTP server that defers one recipient.
func TestDispatcherRetriesDoNotHoldWorkers(t *testing.T) {
	srv := mailtest.Start(t)
	srv.Defer("bad@example.com")
	s := newSMTP(t, SMTPOptions{Addr: srv.Addr, PoolSize: 1})
	m := metrics.New()
	d := NewDispatcher(s, "no-reply@example.com", DispatcherOptions{
		Workers: 1, QueueSize: 10, Retries: 3, Backoff: time.Hour, Metrics: m,
	})
	defer func() {
		// The deferred mails' retries are an hour away: given up.
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		_ = d.Close(ctx)
		if v := counterValue(t, m.MailFailures.WithLabelValues(KindCode)); v != 3 {
			t.Errorf("MailFailures = %v after Close gave up, want the 3 deferred mails", v)
		}
	}()
	for i := range 3 {
		if err := d.Enqueue(Message{Tenant: "noisy", To: "bad@example.com", Subject: fmt.Sprint("n", i), Text: "t", Kind: KindCode}); err != nil {
			t.Fatal(err)
		}
	}
	// The one worker tried each of the noisy tenant's mails once (with a
	// worker asleep in a backoff, it would not get past the first).
	if _, err := srv.WaitRecipients(3, waitMail); err != nil {
		t.Fatal(err)
	}
	if err := d.Enqueue(Message{Tenant: "quiet", To: "good@example.com", Subject: "q", Text: "t", Kind: KindCode}); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.WaitFor("good@example.com", waitMail); err != nil {
		t.Fatalf("the quiet tenant's mail waits behind the noisy tenant's retries: %v", err)
	}
	// Nothing of the noisy tenant was tried in between: its retries are
	// not due.
	rcpts, _ := srv.WaitRecipients(4, 0)
	if want := "bad@example.com bad@example.com bad@example.com good@example.com"; strings.Join(rcpts, " ") != want {
		t.Errorf("recipients %v, want %s", rcpts, want)
	}
}

// Each tenant's room is bounded on its own and counts the outbox (a mail
// waiting for its retry included) and the places held; a place given back
// is free again; a closed dispatcher refuses.
func TestOutboxBoundsPerTenant(t *testing.T) {
	srv := mailtest.Start(t)
	srv.Defer("later@example.com")
	m := metrics.New()
	d := NewDispatcher(newSMTP(t, SMTPOptions{Addr: srv.Addr}), "no-reply@example.com", DispatcherOptions{
		QueueSize: 2, Backoff: time.Hour, Metrics: m,
	})
	if err := d.Enqueue(Message{Tenant: "a", To: "later@example.com", Subject: "s", Text: "t", Kind: KindCode}); err != nil {
		t.Fatal(err)
	}
	waitOutcome(t, m, "retried", 1) // waits an hour in the outbox
	sl, err := d.Reserve("a")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Reserve("a"); !errors.Is(err, ErrQueueFull) {
		t.Fatalf("3rd place of a = %v, want ErrQueueFull", err)
	}
	if _, err := d.Reserve("b"); err != nil {
		t.Fatalf("b is refused because a is full: %v", err)
	}
	sl.Release()
	if sl, err = d.Reserve("a"); err != nil {
		t.Fatalf("a place given back is not free again: %v", err)
	}
	sl.Release()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_ = d.Close(ctx) // the retry is an hour away: given up
	if _, err := d.Reserve("c"); !errors.Is(err, ErrDispatcherClosed) {
		t.Errorf("reserve after close = %v", err)
	}
}

// Far from full, Reserve answers from the depth it read a moment ago
// instead of asking the store at every sign-in; once that is stale, or
// the queue nears its room, it reads again.
func TestReserveReadsTheDepthOncePerMoment(t *testing.T) {
	st := redisStore(t, redistest.Start(t).Addr, redistest.KeyPrefix(t))
	// Only the depth reads count: a connection's setup or the poller's
	// first look at the outbox may fall among the reserves.
	hook := &rtHook{only: "zcard"}
	st.Client().AddHook(hook.hook())
	now := time.Unix(1_700_000_000, 0)
	d := NewDispatcher(newSMTP(t, SMTPOptions{Addr: mailtest.Start(t).Addr}), "no-reply@example.com",
		DispatcherOptions{QueueSize: 8, Store: st, PollInterval: time.Hour, Now: func() time.Time { return now }})
	defer d.Close(context.Background())
	reserve := func() {
		t.Helper()
		s, err := d.Reserve("a")
		if err != nil {
			t.Fatal(err)
		}
		s.Release()
	}
	before := hook.n.Load()
	for range 5 {
		reserve()
	}
	if n := hook.n.Load() - before; n != 1 {
		t.Fatalf("5 reserves a moment apart read the store %d times, want 1", n)
	}
	now = now.Add(depthFresh)
	reserve()
	if n := hook.n.Load() - before; n != 2 {
		t.Fatalf("a stale depth was not read again (%d reads)", n)
	}
	// Places held count: with half the room held, every Reserve reads.
	var held []Slot
	for range 4 {
		s, err := d.Reserve("a")
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, s)
	}
	mark := hook.n.Load()
	reserve()
	if hook.n.Load() == mark {
		t.Error("with half the room held, Reserve answered without reading")
	}
	for _, s := range held {
		s.Release()
	}
}

// A burst larger than the places waiting here: the rest waits in the
// queue, and the tenants still take turns, whether a tenant's next mail
// waits here or in the queue: the quiet tenant's mail is not behind the
// noisy tenant's mails waiting here.
func TestBurstPastTheWaitingRoomKeepsTheTurns(t *testing.T) {
	srv := mailtest.Start(t)
	srv.Hold() // let everything queue first
	d := NewDispatcher(newSMTP(t, SMTPOptions{Addr: srv.Addr, PoolSize: 1}), "no-reply@example.com", DispatcherOptions{Workers: 1})
	defer d.Close(context.Background())
	room, _ := d.waitRoom()
	noisy := room + 10
	for i := range noisy {
		if err := d.Enqueue(Message{Tenant: "noisy", To: fmt.Sprintf("n%d@example.com", i), Subject: "s", Text: "t", Kind: KindCode}); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.Enqueue(Message{Tenant: "quiet", To: "q@example.com", Subject: "s", Text: "t", Kind: KindCode}); err != nil {
		t.Fatal(err)
	}
	d.mu.Lock()
	waiting := d.waitingAll
	d.mu.Unlock()
	if waiting != room {
		t.Errorf("%d mails wait here, want the room, %d (one is with the worker, the rest in the queue)", waiting, room)
	}
	srv.Release()
	rcpts, err := srv.WaitRecipients(noisy+1, waitMail)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range rcpts {
		if r == "q@example.com" && i > 2 {
			t.Errorf("the quiet tenant's mail went out %dth: %v", i+1, rcpts)
		}
	}
}

// The mails waiting here for a worker are bounded, per tenant and in all:
// a stalled server fills the queue (in the store), not this replica's
// memory.
func TestWaitingHereIsBounded(t *testing.T) {
	s := newSMTP(t, SMTPOptions{Addr: silentServer(t), PoolSize: 1}, WithTimeout(time.Hour))
	d := NewDispatcher(s, "no-reply@example.com", DispatcherOptions{Workers: 1, QueueSize: 10_000, SendTimeout: time.Hour})
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		_ = d.Close(ctx)
	}()
	room, all := d.waitRoom()
	if room <= 0 || all < room {
		t.Fatalf("waiting room %d per tenant, %d in all", room, all)
	}
	for i := range all + room {
		if err := d.Enqueue(Message{Tenant: fmt.Sprint("t", i%3), To: fmt.Sprintf("u%d@example.com", i), Subject: "s", Text: "t", Kind: KindCode}); err != nil {
			t.Fatal(err)
		}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	n := 0
	for tenant, q := range d.waiting {
		if len(q) > room {
			t.Errorf("%d mails of %s wait here, room %d", len(q), tenant, room)
		}
		n += len(q)
	}
	if n > all || d.waitingAll > all {
		t.Errorf("%d mails wait here (%d counted), room %d in all", n, d.waitingAll, all)
	}
}
