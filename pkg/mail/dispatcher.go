package mail

import (
	"context"
	"errors"
	"math/rand/v2"
	"regexp"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/guestpass/guestpass/pkg/canon"
	"github.com/guestpass/guestpass/pkg/metrics"
)

// ErrQueueFull is returned by Enqueue and Reserve when the tenant's queue
// has no room: the caller learns at once (and can tell the guest) rather
// than a page waiting or a mail vanishing silently.
var ErrQueueFull = errors.New("mail: queue full")

// ErrDispatcherClosed is returned by Enqueue after Close.
var ErrDispatcherClosed = errors.New("mail: dispatcher closed")

// DispatcherOptions tune asynchronous delivery. Zero values get defaults.
type DispatcherOptions struct {
	// Workers is the number of concurrent deliveries (default 4). With an
	// SMTP transport, more workers than PoolSize only wait for a slot.
	Workers int
	// QueueSize is how many mails of one tenant may wait (default 1000).
	// Each tenant has a queue of its own, served in turn, so one tenant's
	// burst neither fills the others' room nor delays their mail for long.
	QueueSize int
	// Retries is how many times a failed delivery is retried (default 3;
	// negative: none).
	Retries int
	// Backoff is the wait before the first retry (default 2s), doubled
	// for each further retry, with jitter (between half and all of it).
	// A mail waits for its retry in its tenant's queue, not in a worker.
	Backoff time.Duration
	// SendTimeout bounds one delivery attempt (default 60s).
	SendTimeout time.Duration
	Logger      *zap.Logger
	// Metrics is optional.
	Metrics *metrics.Metrics
}

// Dispatcher delivers mails in the background so that the request that
// asked for a mail never waits for the mail server (B3: page timing must
// not depend on it, nor reveal whether a mail was sent).
type Dispatcher struct {
	t    Transport
	from string
	opt  DispatcherOptions
	log  *zap.Logger

	// ctx is cancelled when Close gives up waiting: retries stop and the
	// remaining mails fail fast.
	ctx    context.Context
	cancel context.CancelFunc

	q  *fairQueue
	wg sync.WaitGroup
}

// NewDispatcher starts the workers.
func NewDispatcher(t Transport, from string, opts DispatcherOptions) *Dispatcher {
	if opts.Workers <= 0 {
		opts.Workers = 4
	}
	if opts.QueueSize <= 0 {
		opts.QueueSize = 1000
	}
	if opts.Retries == 0 {
		opts.Retries = 3
	}
	if opts.Retries < 0 {
		opts.Retries = 0
	}
	if opts.Backoff <= 0 {
		opts.Backoff = 2 * time.Second
	}
	if opts.SendTimeout <= 0 {
		opts.SendTimeout = 60 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = zap.NewNop()
	}
	ctx, cancel := context.WithCancel(context.Background())
	d := &Dispatcher{
		t: t, from: from, opt: opts, log: opts.Logger,
		ctx: ctx, cancel: cancel,
		q: newFairQueue(opts.QueueSize),
	}
	d.wg.Add(opts.Workers)
	for range opts.Workers {
		go d.work()
	}
	return d
}

// Enqueue hands m to the workers, in the queue of m.Tenant. It never
// blocks: a full queue or a closed dispatcher is an error, and the mail is
// counted as failed.
func (d *Dispatcher) Enqueue(m Message) error {
	s, err := d.Reserve(m.Tenant)
	if err != nil {
		if errors.Is(err, ErrQueueFull) {
			d.failed(m, 0, err)
		}
		return err
	}
	return s.Send(m)
}

// Reserve holds a place in tenant's queue, or fails at once with
// ErrQueueFull (or ErrDispatcherClosed). The place is the caller's until
// it sends a mail into it or releases it: a page can thus learn whether a
// mail could be queued before it decides anything, and the answer is the
// same whether or not it then sends one.
func (d *Dispatcher) Reserve(tenant string) (Slot, error) {
	if err := d.q.reserve(tenant); err != nil {
		return nil, err
	}
	return &slot{d: d, tenant: tenant}, nil
}

// Slot is a place held in a tenant's queue (Reserve). The first call of
// Send or Release uses it up; after that Release does nothing and Send
// reports ErrSlotUsed, so "defer Release()" after a Send is safe.
type Slot interface {
	// Send queues m (its Tenant is set to the slot's) in the place held.
	Send(m Message) error
	// Release gives the place back unused.
	Release()
}

type slot struct {
	d      *Dispatcher
	tenant string
	once   sync.Once
}

func (s *slot) Send(m Message) error {
	err := ErrSlotUsed
	s.once.Do(func() {
		m.Tenant = s.tenant
		if err = s.d.q.push(m); err != nil {
			s.d.failed(m, 0, err)
		}
	})
	return err
}

func (s *slot) Release() { s.once.Do(func() { s.d.q.release(s.tenant) }) }

// ErrSlotUsed is returned by a Slot's Send after Send or Release.
var ErrSlotUsed = errors.New("mail: queue slot already used")

// Close stops accepting mails, delivers what is queued (with retries) and
// stops the workers. If ctx ends first, pending retries are abandoned, the
// rest of the queue is counted as failed, and ctx's error is returned.
func (d *Dispatcher) Close(ctx context.Context) error {
	d.q.close()

	done := make(chan struct{})
	go func() {
		d.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		d.cancel()
		return nil
	case <-ctx.Done():
		d.cancel()
		d.q.abandon() // delayed retries fail now instead of waiting
		<-done
		return ctx.Err()
	}
}

func (d *Dispatcher) work() {
	defer d.wg.Done()
	for {
		j, ok := d.q.pop()
		if !ok {
			return
		}
		d.attempt(j)
	}
}

// attempt makes one delivery attempt of j. A temporary failure with
// retries left goes back to the queue, due after the backoff, and the
// worker moves on: it never sleeps on one tenant's mail while others wait.
func (d *Dispatcher) attempt(j job) {
	m := j.Message
	if err := d.ctx.Err(); err != nil {
		d.failed(m, j.tries, err)
		return
	}
	j.tries++
	ctx, cancel := context.WithTimeout(d.ctx, d.opt.SendTimeout)
	err := d.t.Send(ctx, d.from, m)
	cancel()
	if err == nil {
		if m.Kind == KindCode && d.opt.Metrics != nil {
			d.opt.Metrics.CodesSent.Inc()
		}
		d.log.Debug("mail sent", zap.String("kind", m.Kind), zap.String("to", maskedTo(m)), zap.Int("attempts", j.tries))
		return
	}
	if Permanent(err) || j.tries > d.opt.Retries || d.ctx.Err() != nil {
		d.failed(m, j.tries, err)
		return
	}
	d.log.Info("mail delivery failed, will retry", zap.String("kind", m.Kind),
		zap.String("to", maskedTo(m)), zap.Int("attempt", j.tries), zap.String("error", scrub(err, m)))
	d.q.retry(j, time.Now().Add(d.backoff(j.tries)))
}

// failed counts and logs a mail given up. Never the body or the code: the
// log has the kind, the masked recipient and a scrubbed error.
func (d *Dispatcher) failed(m Message, attempts int, err error) {
	if d.opt.Metrics != nil {
		d.opt.Metrics.MailFailures.WithLabelValues(m.Kind).Inc()
	}
	d.log.Warn("mail not delivered", zap.String("kind", m.Kind), zap.String("to", maskedTo(m)),
		zap.Int("attempts", attempts), zap.String("error", scrub(err, m)))
}

// backoff is Backoff·2^(retry-1), with "equal jitter": between half and
// all of it, so that many failed mails do not retry in lockstep.
func (d *Dispatcher) backoff(retry int) time.Duration {
	b := d.opt.Backoff << (retry - 1)
	if b <= 0 || b > time.Hour {
		b = time.Hour
	}
	half := b / 2
	return half + rand.N(half+1)
}

var digitRun = regexp.MustCompile(`[0-9]{8,}`)

// scrub makes an error safe to log: a server's reply may echo the
// recipient, and nothing may ever print something shaped like a code.
func scrub(err error, m Message) string {
	if err == nil {
		return ""
	}
	s := err.Error()
	if m.To != "" {
		to := regexp.MustCompile(`(?i)` + regexp.QuoteMeta(m.To))
		s = to.ReplaceAllLiteralString(s, canon.MaskEmail(m.To))
	}
	return digitRun.ReplaceAllString(s, "[redacted]")
}
