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
)

// Tenants are served in turn: a tenant with a long queue delays another
// tenant's mail by one delivery, not by its whole queue.
func TestFairQueueRoundRobin(t *testing.T) {
	q := newFairQueue(10)
	push := func(tenant string, n int) {
		for i := range n {
			if err := q.reserve(tenant); err != nil {
				t.Fatal(err)
			}
			if err := q.push(Message{Tenant: tenant, Subject: fmt.Sprint(tenant, i)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	push("big", 5)
	push("a", 2)
	push("b", 1)
	var got []string
	q.close() // pop drains what is queued, then reports the end
	for {
		j, ok := q.pop()
		if !ok {
			break
		}
		got = append(got, j.Subject)
	}
	want := "big0 a0 b0 big1 a1 big2 big3 big4"
	if strings.Join(got, " ") != want {
		t.Errorf("order %q, want %q", strings.Join(got, " "), want)
	}
	if len(q.queues) != 0 {
		t.Errorf("empty tenants kept: %v", q.queues)
	}
}

// Each tenant's queue is bounded on its own, a reserved place counts
// until it is used or released, and a place given back is free again.
func TestFairQueueBoundsPerTenant(t *testing.T) {
	q := newFairQueue(2)
	for range 2 {
		if err := q.reserve("a"); err != nil {
			t.Fatal(err)
		}
	}
	if err := q.reserve("a"); !errors.Is(err, ErrQueueFull) {
		t.Fatalf("3rd place of a = %v, want ErrQueueFull", err)
	}
	if err := q.reserve("b"); err != nil {
		t.Fatalf("b is refused because a is full: %v", err)
	}
	q.release("a")
	if err := q.reserve("a"); err != nil {
		t.Fatalf("a place given back is not free again: %v", err)
	}
	q.close()
	if err := q.push(Message{Tenant: "a"}); !errors.Is(err, ErrDispatcherClosed) {
		t.Errorf("push after close = %v, want ErrDispatcherClosed", err)
	}
	if err := q.reserve("c"); !errors.Is(err, ErrDispatcherClosed) {
		t.Errorf("reserve after close = %v", err)
	}
}

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

// A mail delayed for a retry keeps its place in its tenant's room, is
// drained after close, and comes out at once when the dispatcher gives up
// (abandon) rather than at its time.
func TestFairQueueDelayedRetries(t *testing.T) {
	q := newFairQueue(1)
	q.retry(job{Message: Message{Tenant: "a", Subject: "later"}, tries: 1}, time.Now().Add(time.Hour))
	if err := q.reserve("a"); !errors.Is(err, ErrQueueFull) {
		t.Fatalf("reserve beside a delayed mail in a room of 1 = %v, want ErrQueueFull", err)
	}
	q.close()
	got := make(chan job, 1)
	go func() {
		j, _ := q.pop() // waits: the mail is not due, and close drains it
		got <- j
	}()
	q.abandon()
	select {
	case j := <-got:
		if j.Subject != "later" || j.tries != 1 {
			t.Fatalf("popped %+v, want the delayed mail with its tries", j)
		}
	case <-time.After(waitMail):
		t.Fatal("abandon did not hand out the delayed mail")
	}
	if _, ok := q.pop(); ok {
		t.Fatal("pop after the drain reports a mail")
	}
	if len(q.queues) != 0 {
		t.Errorf("tenants kept after the drain: %v", q.queues)
	}
}
