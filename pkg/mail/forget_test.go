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
	"github.com/guestpass/guestpass/pkg/store/redisstore"
	"github.com/guestpass/guestpass/pkg/store/redistest"
	"github.com/redis/go-redis/v9"
)

// outboxLeft lists the outbox keys that hold a mail, a lease or a queue
// entry (the tenants' listing aside) in st's Redis.
func outboxLeft(t *testing.T, st *redisstore.Store) []string {
	t.Helper()
	keys, err := st.Client().Keys(context.Background(), "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	var left []string
	for _, k := range keys {
		for _, part := range []string{":outbox:m:", ":outbox:l:", ":outbox:q"} {
			if strings.Contains(k, part) {
				left = append(left, k)
			}
		}
	}
	return left
}

// waitFor waits (bounded) until ok holds.
func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(waitMail); !ok(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// A burst of mails sent here is forgotten in a few pipelines, not one
// round trip a mail; Close writes the forgets still pending, and nothing
// of the mails is left in Redis: no body, lease or queue entry.
func TestForgetsAreBatched(t *testing.T) {
	st := redisStore(t, redistest.Start(t).Addr, redistest.KeyPrefix(t))
	hook := &rtHook{only: "del"} // a forget's pipeline deletes the mail and its lease
	st.Client().AddHook(hook.hook())
	srv := mailtest.Start(t)
	m := metrics.New()
	// The delay outlasts the test: batches go by size, and the rest at Close.
	d := NewDispatcher(newSMTP(t, SMTPOptions{Addr: srv.Addr, PoolSize: 4}), "no-reply@example.com", DispatcherOptions{
		Workers: 4, QueueSize: 1000, Lease: 10 * time.Minute, ForgetDelay: time.Minute, Store: st, Metrics: m,
	})
	defer d.Close(context.Background())
	// Bursts of 40 with the workers free: each fits the places waiting
	// here (16 per worker and tenant, twice that in all), so every mail is
	// queued leased to this replica and none is claimed by the poller
	// (whose mails are forgotten at once).
	const k, burst = 3*forgetBatch + 8, 40
	for i := range k {
		msg := Message{Tenant: fmt.Sprint("t", i%4), To: fmt.Sprintf("u%d@example.com", i), Subject: "s", Text: "t", Kind: KindCode}
		if err := d.Enqueue(msg); err != nil {
			t.Fatal(err)
		}
		if (i+1)%burst == 0 || i+1 == k {
			waitOutcome(t, m, "sent", float64(i+1))
		}
	}
	waitFor(t, "the last forgets pending", func() bool { return d.forgets.held() == k%forgetBatch })
	if err := d.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := d.forgets.held(); n != 0 {
		t.Errorf("%d forgets still pending after Close", n)
	}
	if left := outboxLeft(t, st); len(left) != 0 {
		t.Errorf("left in Redis after the burst and Close: %v", left)
	}
	if n := hook.n.Load(); n == 0 || n > k/forgetBatch+1 {
		t.Errorf("%d mails forgotten in %d round trips, want at most %d", k, n, k/forgetBatch+1)
	}
	if n := len(srv.Messages()); n != k {
		t.Errorf("%d mails delivered, want %d", n, k)
	}
}

// With the default delay a lone mail's forget is written soon after the
// send, without waiting for more or for Close, in one round trip.
func TestForgetIsWrittenAfterTheDelay(t *testing.T) {
	st := redisStore(t, redistest.Start(t).Addr, redistest.KeyPrefix(t))
	hook := &rtHook{only: "del"}
	st.Client().AddHook(hook.hook())
	srv := mailtest.Start(t)
	d := NewDispatcher(newSMTP(t, SMTPOptions{Addr: srv.Addr}), "no-reply@example.com", DispatcherOptions{Store: st})
	defer d.Close(context.Background())
	if err := d.Enqueue(codeMessage(t, "ada@example.com", "12344321")); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.WaitFor("ada@example.com", waitMail); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the mail forgotten", func() bool { return len(outboxLeft(t, st)) == 0 })
	if n := hook.n.Load(); n != 1 {
		t.Errorf("forgotten in %d round trips, want 1", n)
	}
	if n := d.forgets.held(); n != 0 {
		t.Errorf("%d forgets pending", n)
	}
}

// A replica killed after the send but before its forget was written
// leaves the mail leased: once the lease runs out another replica sends
// it again (at least once, never lost), and then forgets it.
func TestUnwrittenForgetMailIsSentAgain(t *testing.T) {
	r := redistest.Start(t)
	prefix := redistest.KeyPrefix(t)
	srvA := mailtest.Start(t)
	stA := redisStore(t, r.Addr, prefix)
	a := NewDispatcher(newSMTP(t, SMTPOptions{Addr: srvA.Addr}), "no-reply@example.com", DispatcherOptions{
		Workers: 1, SendTimeout: 500 * time.Millisecond, Lease: 3 * time.Second, ForgetDelay: time.Second, Store: stA,
	})
	if err := a.Enqueue(codeMessage(t, "ada@example.com", "55667788")); err != nil {
		t.Fatal(err)
	}
	first, err := srvA.WaitFor("ada@example.com", waitMail)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the forget pending", func() bool { return a.forgets.held() == 1 })
	a.crash()
	if left := outboxLeft(t, stA); len(left) != 3 {
		t.Fatalf("after the crash Redis holds %v, want the mail, its lease and its entry", left)
	}

	srvB := mailtest.Start(t)
	m := metrics.New()
	stB := redisStore(t, r.Addr, prefix)
	b := NewDispatcher(newSMTP(t, SMTPOptions{Addr: srvB.Addr}), "no-reply@example.com", DispatcherOptions{
		Workers: 1, PollInterval: 50 * time.Millisecond, Store: stB, Metrics: m,
	})
	defer b.Close(context.Background())
	got, err := srvB.WaitFor("ada@example.com", waitMail)
	if err != nil {
		t.Fatalf("the mail whose forget was lost was never sent again: %v", err)
	}
	if mailtest.CodeIn(got.Text) != "55667788" {
		t.Errorf("text = %q", got.Text)
	}
	// Sent again, it is the same mail to the receiving side: one Message-ID.
	if id := got.Header.Get("Message-Id"); id == "" || id != first.Header.Get("Message-Id") {
		t.Errorf("Message-Id %q sent again as %q, want the same", first.Header.Get("Message-Id"), id)
	}
	waitOutcome(t, m, "sent", 1)
	if err := b.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if left := outboxLeft(t, stB); len(left) != 0 {
		t.Errorf("left in Redis: %v", left)
	}
	if na, nb := len(srvA.Messages()), len(srvB.Messages()); na != 1 || nb != 1 {
		t.Errorf("sent %d times by the crashed replica and %d by the survivor, want once each", na, nb)
	}
}

// Close waits for a place held (a page answered, its mail not yet
// queued): the mail sent into it is queued and delivered, then Close
// returns, having forgotten it.
func TestCloseWaitsForPlacesHeld(t *testing.T) {
	st := redisStore(t, redistest.Start(t).Addr, redistest.KeyPrefix(t))
	srv := mailtest.Start(t)
	m := metrics.New()
	d := NewDispatcher(newSMTP(t, SMTPOptions{Addr: srv.Addr}), "no-reply@example.com", DispatcherOptions{Store: st, Metrics: m})
	slot, err := d.Reserve("fabrikam")
	if err != nil {
		t.Fatal(err)
	}
	closed := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitMail)
		defer cancel()
		closed <- d.Close(ctx)
	}()
	// Close has begun: no new place is given.
	waitFor(t, "Close to refuse new places", func() bool {
		s, err := d.Reserve("fabrikam")
		if err == nil {
			s.Release()
		}
		return errors.Is(err, ErrDispatcherClosed)
	})
	select {
	case err := <-closed:
		t.Fatalf("Close returned (%v) while a place was held", err)
	default:
	}
	if err := slot.Send(codeMessage(t, "ada@example.com", "24682468")); err != nil {
		t.Fatalf("Send into a place held during Close: %v", err)
	}
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	if n := len(srv.Messages()); n != 1 {
		t.Errorf("%d mails delivered by the time Close returned, want 1", n)
	}
	if v := outcome(t, m, "sent"); v != 1 {
		t.Errorf("sent = %v, want 1", v)
	}
	if left := outboxLeft(t, st); len(left) != 0 {
		t.Errorf("left in Redis after Close: %v", left)
	}
}

// A place never sent into nor released holds Close only until its ctx
// ends; the mail sent into it later is refused and counted as failed.
func TestCloseGivesUpOnAPlaceHeldAtItsDeadline(t *testing.T) {
	st := redisStore(t, redistest.Start(t).Addr, redistest.KeyPrefix(t))
	srv := mailtest.Start(t)
	m := metrics.New()
	d := NewDispatcher(newSMTP(t, SMTPOptions{Addr: srv.Addr}), "no-reply@example.com", DispatcherOptions{Store: st, Metrics: m})
	slot, err := d.Reserve("fabrikam")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := d.Close(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Close = %v, want deadline exceeded", err)
	}
	if err := slot.Send(codeMessage(t, "ada@example.com", "13571357")); !errors.Is(err, ErrDispatcherClosed) {
		t.Errorf("Send after Close gave up = %v, want ErrDispatcherClosed", err)
	}
	if v := counterValue(t, m.MailFailures.WithLabelValues(KindCode)); v != 1 {
		t.Errorf("MailFailures = %v, want 1", v)
	}
	if n := len(srv.Messages()); n != 0 {
		t.Errorf("%d mails delivered", n)
	}
}

// A mail the poller claimed has its queue entry due, at the head its
// tenant's claims read: it is forgotten at once, never held for a batch
// (which would hide the mails due behind it for the delay).
func TestClaimedMailIsForgottenAtOnce(t *testing.T) {
	st := redisStore(t, redistest.Start(t).Addr, redistest.KeyPrefix(t))
	srv := mailtest.Start(t)
	d := NewDispatcher(newSMTP(t, SMTPOptions{Addr: srv.Addr}), "no-reply@example.com", DispatcherOptions{
		Store: st, Lease: 10 * time.Minute, ForgetDelay: time.Minute, PollInterval: 10 * time.Millisecond,
	})
	defer d.Close(context.Background())
	// Queued as another replica queues a mail for the pollers: due now,
	// no lease.
	if _, err := d.box.put(context.Background(), time.Now(), codeMessage(t, "ada@example.com", "12344321"), time.Hour, false); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.WaitFor("ada@example.com", waitMail); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the claimed mail forgotten without its batch's minute", func() bool { return len(outboxLeft(t, st)) == 0 })
	if n := d.forgets.held(); n != 0 {
		t.Errorf("%d forgets held for a batch, want the claimed mail's written at once", n)
	}
}

// The forget's delay stays well inside what the lease leaves after the
// send, whatever is configured, so a pending forget never outlives the
// lease that keeps other replicas from sending the mail again.
func TestForgetDelayStaysInsideTheLease(t *testing.T) {
	for _, tc := range []struct{ lease, send, delay, want time.Duration }{
		{0, 0, 0, 20 * time.Millisecond}, // defaults: 90 s lease, 60 s send
		{3 * time.Second, time.Second, 5 * time.Second, time.Second},
		{10 * time.Minute, time.Minute, time.Minute, time.Minute},
		{0, 0, time.Hour, 15 * time.Second},
	} {
		o := DispatcherOptions{Lease: tc.lease, SendTimeout: tc.send, ForgetDelay: tc.delay}
		o.defaults()
		if o.ForgetDelay != tc.want {
			t.Errorf("lease %v, send %v, delay %v: delay %v, want %v", tc.lease, tc.send, tc.delay, o.ForgetDelay, tc.want)
		}
	}
}

// Close returns only once the batches being written are written: a forget
// whose timer fired just before Close is in Redis when Close returns, so
// that a process closing its store next does not lose it (and send those
// mails again after their lease).
func TestCloseWaitsForABatchBeingWritten(t *testing.T) {
	st := redisStore(t, redistest.Start(t).Addr, redistest.KeyPrefix(t))
	writing := make(chan struct{}, 1)
	st.Client().AddHook(redistest.TripHook(func(cmds []redis.Cmder, _ bool) {
		for _, c := range cmds {
			if c.Name() == "del" {
				select {
				case writing <- struct{}{}:
					time.Sleep(300 * time.Millisecond) // a slow forget, in flight
				default:
				}
				return
			}
		}
	}))
	srv := mailtest.Start(t)
	d := NewDispatcher(newSMTP(t, SMTPOptions{Addr: srv.Addr}), "no-reply@example.com", DispatcherOptions{
		Store: st, ForgetDelay: 10 * time.Millisecond,
	})
	if err := d.Enqueue(codeMessage(t, "ada@example.com", "12344321")); err != nil {
		t.Fatal(err)
	}
	select {
	case <-writing: // the timer's batch is being written
	case <-time.After(waitMail):
		t.Fatal("the forget was never written")
	}
	if err := d.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if left := outboxLeft(t, st); len(left) != 0 {
		t.Fatalf("Close returned with the forget still being written: %v left", left)
	}
}
