package mail

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"regexp"
	"slices"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/guestpass/guestpass/pkg/canon"
	"github.com/guestpass/guestpass/pkg/metrics"
	"github.com/guestpass/guestpass/pkg/store"
	"github.com/guestpass/guestpass/pkg/store/memory"
)

// ErrQueueFull is returned by Reserve when the tenant's queue
// has no room: the caller learns at once (and can tell the guest) rather
// than a page waiting or a mail vanishing silently.
var ErrQueueFull = errors.New("mail: queue full")

// ErrDispatcherClosed is returned by Reserve and Send after Close.
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
	// Retries caps the retries of a failed delivery (0: none beyond the
	// mail's validity, the default; negative: no retry). A mail is retried
	// for as long as it is useful (Message.Valid), then dropped.
	Retries int
	// Backoff is the wait before the first retry (default 2s), doubled
	// for each further retry up to MaxBackoff (default 30s), with jitter
	// (between half and all of it).
	Backoff, MaxBackoff time.Duration
	// SendTimeout bounds one delivery attempt (default 60s).
	SendTimeout time.Duration
	// Store holds the outbox. Nil: a private memory store (mails are lost
	// with the process). With a shared Redis, every replica sends from
	// one outbox and a crashed replica's mails are sent by the others.
	Store store.Store
	// Lease is how long a replica holds a mail it is sending before
	// another may take it (default SendTimeout + 30s; must exceed it).
	Lease time.Duration
	// ForgetDelay is how long the outcome of a mail sent here may wait to
	// be recorded with others in one round trip (default 20 ms; at most
	// half of what Lease leaves after SendTimeout). See forgetter.
	ForgetDelay time.Duration
	// PollInterval is how often the outbox is looked at when this
	// replica queued nothing (default 1s): mails queued by another
	// replica, retries of a crashed one.
	PollInterval time.Duration
	// Now is the clock (default time.Now).
	Now    func() time.Time
	Logger *zap.Logger
	// Metrics is optional.
	Metrics *metrics.Metrics
}

func (o *DispatcherOptions) defaults() {
	if o.Workers <= 0 {
		o.Workers = 4
	}
	if o.QueueSize <= 0 {
		o.QueueSize = 1000
	}
	if o.Backoff <= 0 {
		o.Backoff = 2 * time.Second
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 30 * time.Second
	}
	if o.SendTimeout <= 0 {
		o.SendTimeout = 60 * time.Second
	}
	if o.Lease <= o.SendTimeout {
		o.Lease = o.SendTimeout + 30*time.Second
	}
	if o.ForgetDelay <= 0 {
		o.ForgetDelay = 20 * time.Millisecond
	}
	// The lease must outlast the wait for a worker, the send and the
	// forget's delay: keep the delay well inside what the send leaves.
	o.ForgetDelay = min(o.ForgetDelay, (o.Lease-o.SendTimeout)/2)
	if o.PollInterval <= 0 {
		o.PollInterval = time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
}

// Dispatcher delivers mails in the background so that the request that
// asked for a mail never waits for the mail server (B3: page timing must
// not depend on it, nor reveal whether a mail was sent). Mails wait in a
// durable outbox (outbox.go) until sent or useless.
type Dispatcher struct {
	t   Transport
	box *outbox
	// durable: the outbox outlives this process (not a memory store), so
	// Close leaves what is queued to the other replicas or the next start
	// instead of draining it.
	durable bool
	from    string
	opt     DispatcherOptions
	log     *zap.Logger
	// forgets records the outcomes of the mails queued leased here in
	// batches (see forget); nil for a memory outbox, which forgets at
	// once: no round trip to save, and its drain at Close waits for an
	// empty queue.
	forgets *forgetter

	// ctx is cancelled when Close gives up waiting (or at a crash in
	// tests): sends in flight end at once.
	ctx    context.Context
	cancel context.CancelFunc

	wake chan struct{} // a mail was queued here: look now
	stop chan struct{} // closed: the poller ends
	sem  chan struct{} // one token per delivery in flight
	done chan struct{} // closed when the poller has ended
	wg   sync.WaitGroup
	// finished is closed when Close has done all its work (a second
	// Close waits for it).
	finished chan struct{}

	mu sync.Mutex
	// closing: Close has begun, Reserve refuses; the places already held
	// may still be sent into until closed (or Close's ctx ends).
	closing bool
	// closed: no mail is queued any more (handOff refuses).
	closed   bool
	reserved map[string]int // places held by slots not yet sent or released
	// heldOut is closed when the last place held is given back during
	// Close (nil when Close does not wait for one).
	heldOut chan struct{}
	// backlog: the poller has seen (or been handed) mail due and not yet
	// claimed. While it has, a new mail waits its turn in the queue instead
	// of going straight to a worker (the tenants' turns stay fair).
	backlog bool
	// waiting holds the mails leased here that wait for a worker, a queue
	// per tenant, served in turn by the workers as they free up (waitRoom
	// bounds them); waitingN counts each tenant's places taken (queued, or
	// being written to the outbox), waitingAll all of them.
	waiting    map[string][]*claimed
	waitingN   map[string]int
	waitingAll int
	// depths are the tenants' queue depths as last read (Reserve).
	depths map[string]depthSeen
	// last is the tenant served last (by the poller or a hand-over).
	last string
	// gaugedAt is when the gauges were set (the poller's own).
	gaugedAt time.Time

	// owned is the private memory store made when Options.Store is nil
	// (its sweeper stops with the dispatcher).
	owned io.Closer

	// crashed: outcomes are not recorded (tests: a replica killed mid-send).
	crashed bool
}

// NewDispatcher starts the poller.
func NewDispatcher(t Transport, from string, opts DispatcherOptions) *Dispatcher {
	opts.defaults()
	st, durable := opts.Store, true
	var owned io.Closer
	if st == nil {
		mem := memory.New(opts.Now)
		st, owned = mem, mem
	}
	if _, mem := st.(*memory.Store); mem {
		durable = false
	}
	ctx, cancel := context.WithCancel(context.Background())
	d := &Dispatcher{
		t: t, box: &outbox{st: st, lease: opts.Lease}, durable: durable,
		from: from, opt: opts, log: opts.Logger, ctx: ctx, cancel: cancel,
		wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{}), finished: make(chan struct{}),
		sem: make(chan struct{}, opts.Workers), reserved: map[string]int{}, owned: owned,
		waiting: map[string][]*claimed{}, waitingN: map[string]int{}, depths: map[string]depthSeen{},
	}
	if durable {
		d.forgets = &forgetter{box: d.box, delay: opts.ForgetDelay, log: opts.Logger}
	}
	go d.poll()
	return d
}

// defaultValidity is the lifetime of a mail whose Valid is 0 (every mail
// of the product says its own; this only bounds a careless caller).
const defaultValidity = 24 * time.Hour

// storeTimeout bounds one outbox call made for a request.
const storeTimeout = 5 * time.Second

// Reserve holds a place in tenant's queue, or fails at once with
// ErrQueueFull (or ErrDispatcherClosed, or a store error). The place is
// the caller's until it sends a mail into it or releases it: a page can
// thus learn whether a mail could be queued before it decides anything,
// and the answer is the same whether or not it then sends one. The room
// counts the shared outbox (retries included) and this replica's places
// held; replicas reserving at the same instant may pass it by a few.
func (d *Dispatcher) Reserve(tenant string) (Slot, error) {
	now := d.opt.Now()
	d.mu.Lock()
	if d.closing { // closed is set only after closing
		d.mu.Unlock()
		return nil, ErrDispatcherClosed
	}
	if s, ok := d.depths[tenant]; ok && now.Sub(s.at) < depthFresh &&
		int(s.n)+s.added+d.reserved[tenant] < d.opt.QueueSize/2 {
		// Far from full a moment ago: no need to ask the store again.
		d.reserved[tenant]++
		d.mu.Unlock()
		return &slot{d: d, tenant: tenant}, nil
	}
	d.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	n, err := d.box.depth(ctx, tenant)
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closing { // closed is set only after closing
		return nil, ErrDispatcherClosed
	}
	d.depths[tenant] = depthSeen{n: n, at: now}
	if int(n)+d.reserved[tenant] >= d.opt.QueueSize {
		return nil, ErrQueueFull
	}
	d.reserved[tenant]++
	return &slot{d: d, tenant: tenant}, nil
}

// depthFresh is how long a tenant's queue depth, once read, answers
// Reserve without a new read, as long as it (with the mails queued here
// since, and the places held) is under half the room: at hundreds of
// sign-ins a second, one read every depthFresh instead of one a mail,
// and a queue filling up is read at every Reserve again.
const depthFresh = 100 * time.Millisecond

// depthSeen is a tenant's queue depth as last read, and the mails this
// replica queued since.
type depthSeen struct {
	n     int64
	at    time.Time
	added int
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
		err = s.d.put(m)
		if err != nil {
			s.d.failed(m, 0, err)
		}
	})
	return err
}

func (s *slot) Release() { s.once.Do(func() { s.d.unreserve(s.tenant) }) }

// ErrSlotUsed is returned by a Slot's Send after Send or Release.
var ErrSlotUsed = errors.New("mail: queue slot already used")

// put writes m to the outbox in its reserved place. Usually the mail is
// written already leased to this replica and handed to a worker here (at
// once, or in its tenant's turn once a worker is free): no poll, no claim
// - one round trip to queue it, and once sent its forget shares one with
// those of the other mails sent in the same moment (forgetter). The outbox
// holds it until then, so a crash loses nothing: the lease runs out and
// any replica sends it. A mail that cannot be handed over (the places
// waiting here are taken) waits in the queue for the poller, which serves
// the tenants in turn.
func (d *Dispatcher) put(m Message) error {
	defer d.unreserve(m.Tenant)
	hand, ok := d.handOff(m.Tenant)
	if !ok {
		return ErrDispatcherClosed
	}
	valid := m.Valid
	if valid <= 0 {
		valid = defaultValidity
	}
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	c, err := d.box.put(ctx, d.opt.Now(), m, valid, hand != toPoller)
	if err != nil {
		d.handBack(m.Tenant, hand)
		return err
	}
	d.mu.Lock()
	if s, ok := d.depths[m.Tenant]; ok {
		s.added++
		d.depths[m.Tenant] = s
	}
	d.mu.Unlock()
	switch hand {
	case toPoller:
		d.mu.Lock()
		d.backlog = true
		d.mu.Unlock()
		d.poke()
	case toWorker:
		go d.work(c)
	case toNextWorker:
		d.mu.Lock()
		d.waiting[m.Tenant] = append(d.waiting[m.Tenant], c)
		// The workers may all have freed up while the mail was written:
		// then nobody would look at the queue again.
		var next *claimed
		select {
		case d.sem <- struct{}{}:
			next = d.nextLocked()
		default:
		}
		d.mu.Unlock()
		if next != nil {
			go d.work(next)
		}
	}
	return nil
}

// How put hands a mail over.
type handOver int

const (
	toPoller     handOver = iota // queued, due now: the poller claims it
	toWorker                     // leased here, a worker held for it
	toNextWorker                 // leased here, waiting for a worker in its tenant's turn
)

// waitPerWorker sizes the room for mails leased here that wait for a
// worker: waitPerWorker·Workers per tenant (at most its queue room), twice
// that in all. It is what absorbs the bursts of a load the workers keep up
// with on average (16 browsers may ask for a code at one instant while 4
// mails are on the wire) without the poller's claims; past it a burst
// waits in the outbox queue, not in memory.
const waitPerWorker = 16

// waitRoom is how many mails of one tenant, and of all, may wait here.
func (d *Dispatcher) waitRoom() (tenant, all int) {
	all = waitPerWorker * d.opt.Workers
	return min(all, d.opt.QueueSize), 2 * all
}

// handOff decides how a mail of tenant is handed over and holds what that
// takes (a worker, or a waiting place; wg counts the delivery to come).
// ok is false once closed.
func (d *Dispatcher) handOff(tenant string) (hand handOver, ok bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return toPoller, false
	}
	if d.backlog {
		return toPoller, true
	}
	select {
	case d.sem <- struct{}{}:
		hand = toWorker
		// The turns go on after the tenant served here.
		d.last = tenant
	default:
		room, roomAll := d.waitRoom()
		if d.waitingN[tenant] >= room || d.waitingAll >= roomAll {
			return toPoller, true
		}
		d.waitingN[tenant]++
		d.waitingAll++
		hand = toNextWorker
	}
	d.wg.Add(1) // under mu: never after Close, so never during Wait
	return hand, true
}

// handBack undoes handOff for a mail that could not be queued.
func (d *Dispatcher) handBack(tenant string, hand handOver) {
	switch hand {
	case toWorker:
		<-d.sem
	case toNextWorker:
		d.mu.Lock()
		d.unwait(tenant)
		d.mu.Unlock()
	default:
		return
	}
	d.wg.Done()
}

// unwait gives back a waiting place (mu held).
func (d *Dispatcher) unwait(tenant string) {
	d.waitingAll--
	if d.waitingN[tenant]--; d.waitingN[tenant] <= 0 {
		delete(d.waitingN, tenant)
	}
}

// nextLocked is called with mu and a worker held: it returns the next
// mail waiting here, taking the tenants in turn after the last served,
// or frees the worker and returns nil when none waits. Freeing it under
// mu is what keeps put from queueing a mail that no worker will look at.
func (d *Dispatcher) nextLocked() *claimed {
	for len(d.waiting) > 0 {
		if c := d.popLocked(d.nextTenant()); c != nil {
			return c
		}
	}
	<-d.sem
	return nil
}

// popLocked takes the tenant's next mail waiting here (mu held); nil when
// none is left that may still be sent here.
func (d *Dispatcher) popLocked(tenant string) *claimed {
	for q := d.waiting[tenant]; len(q) > 0; q = d.waiting[tenant] {
		c := q[0]
		q[0] = nil
		if len(q) == 1 {
			delete(d.waiting, tenant)
		} else {
			d.waiting[tenant] = q[1:]
		}
		d.unwait(tenant)
		if d.opt.Now().Sub(time.Unix(0, c.rec.Enqueued)) > d.opt.Lease-d.opt.SendTimeout-d.opt.ForgetDelay {
			// Waited so long (sends stalling) that the lease could run
			// out mid-send: leave the mail to whichever poller takes it
			// once the lease has, so it goes out once.
			d.wg.Done()
			continue
		}
		d.last = tenant
		return c
	}
	return nil
}

// nextTenant is the first tenant after the last served (in name order,
// wrapping around) with mail waiting here (mu held, some waiting).
func (d *Dispatcher) nextTenant() string {
	after, first := "", ""
	for t := range d.waiting {
		if t > d.last && (after == "" || t < after) {
			after = t
		}
		if first == "" || t < first {
			first = t
		}
	}
	return cmp.Or(after, first)
}

// work delivers c on the worker held for it, then the mails waiting here
// in turn until none is left, then frees the worker. While mail due waits
// in the queue too, the worker goes back to the poller instead, whose
// rounds take every tenant in turn, whether its next mail waits here or
// in the queue (until Close: the poller may be gone).
func (d *Dispatcher) work(c *claimed) {
	backlog := false
	for c != nil {
		d.deliver(c)
		d.wg.Done()
		d.mu.Lock()
		if backlog = d.backlog && !d.closed; backlog {
			<-d.sem
			c = nil
		} else {
			c = d.nextLocked()
		}
		d.mu.Unlock()
	}
	if backlog {
		d.poke()
	}
}

// poke wakes the poller if it sleeps (never blocks).
func (d *Dispatcher) poke() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

func (d *Dispatcher) unreserve(tenant string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.reserved[tenant]--; d.reserved[tenant] <= 0 {
		delete(d.reserved, tenant)
	}
	if len(d.reserved) == 0 && d.heldOut != nil {
		close(d.heldOut)
		d.heldOut = nil
	}
}

func (d *Dispatcher) isClosed() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.closed
}

// Close stops accepting mails. First it waits for the places already
// held (Reserve) to be sent into or released: a page answers before its
// mail is queued (provider/login's mailCode), so a mail whose answer went
// out is queued, not lost, when the server shuts down. A durable outbox
// keeps what is queued (the other replicas, or the next start, send it):
// Close waits only for the sends in flight and the mails leased here that
// wait for a worker (at most the waiting room, waitRoom), which would
// otherwise wait out their lease, then records their outcomes (forgetter).
// A memory outbox is drained (with retries) first. If ctx ends first, a
// place still held can queue no more (its Send fails and is counted),
// sends in flight are cancelled, a memory outbox's rest is counted as
// failed, and ctx's error is returned.
func (d *Dispatcher) Close(ctx context.Context) error {
	d.mu.Lock()
	already := d.closing
	d.closing = true
	var heldOut chan struct{}
	if !already && len(d.reserved) > 0 {
		heldOut = make(chan struct{})
		d.heldOut = heldOut
	}
	d.mu.Unlock()
	if already {
		<-d.finished
		return nil
	}
	defer close(d.finished)
	defer d.release()
	if d.forgets != nil {
		defer d.forgets.close() // before the store is released
	}
	if heldOut != nil {
		select {
		case <-heldOut:
		case <-ctx.Done():
		}
	}
	// A place still held now can queue no more (ctx ended): its mail is
	// lost, so Close reports ctx's error whatever happens next.
	d.mu.Lock()
	gaveUp := len(d.reserved) > 0 && ctx.Err() != nil
	d.closed = true
	d.heldOut = nil
	d.mu.Unlock()
	if d.durable {
		close(d.stop)
	} else {
		// The poller may sleep a whole poll interval: wake it, so that an
		// outbox already empty stops at once (a drain needs no wait).
		d.poke()
	}
	select {
	case <-d.done:
		d.cancel()
		if gaveUp {
			return ctx.Err()
		}
		return nil
	case <-ctx.Done():
		d.cancel()
		if !d.durable {
			close(d.stop)
		}
		<-d.done
		d.abandon()
		return ctx.Err()
	}
}

// release closes the private memory store, if any.
func (d *Dispatcher) release() {
	if d.owned != nil {
		_ = d.owned.Close()
	}
}

// abandon counts a memory outbox's remaining mails as failed.
func (d *Dispatcher) abandon() {
	if d.durable {
		return
	}
	ctx := context.Background()
	tenants, _ := d.box.tenants(ctx)
	for _, t := range tenants {
		for {
			c, _, err := d.box.claim(ctx, time.Unix(1<<40, 0), t)
			if err != nil || c == nil {
				break
			}
			d.failed(c.rec.Message, c.rec.Tries, context.Canceled)
			_ = d.box.done(ctx, c)
		}
	}
}

// poll claims due mails, one per tenant in turn, while a worker is free;
// when nothing is due it sleeps until the next retry, a wake-up or the
// poll interval.
func (d *Dispatcher) poll() {
	defer close(d.done)
	defer d.wg.Wait()
	defer d.leftovers()
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		busy, next, empty := d.round()
		if !d.durable && empty && d.isClosed() && d.idle() {
			return
		}
		if busy {
			continue
		}
		wait := d.opt.PollInterval
		if !next.IsZero() {
			wait = min(wait, max(next.Sub(d.opt.Now()), time.Millisecond))
		}
		timer.Reset(wait)
		select {
		case <-d.stop:
			return
		case <-d.wake:
		case <-timer.C:
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
	}
}

// leftovers gives the mails still waiting here a worker once the poller
// has stopped: a worker may have left its turn to it just before.
func (d *Dispatcher) leftovers() {
	d.sem <- struct{}{}
	d.free()
}

// idle reports whether no delivery is in flight and no place is held.
func (d *Dispatcher) idle() bool {
	d.mu.Lock()
	held := len(d.reserved)
	d.mu.Unlock()
	return len(d.sem) == 0 && held == 0
}

// round waits for a free worker, then claims one due mail, taking the
// tenants in turn from the one after the last served (fairness: a tenant
// with a thousand mails delays another's next mail by one delivery per
// worker). It reports whether it claimed one, the earliest retry seen,
// and whether the whole outbox was empty (when it looked at all of it).
func (d *Dispatcher) round() (busy bool, next time.Time, empty bool) {
	select {
	case d.sem <- struct{}{}:
	case <-d.stop:
		return false, time.Time{}, false
	}
	defer func() {
		if !busy {
			d.free()
		}
	}()
	ctx, cancel := context.WithTimeout(d.ctx, storeTimeout)
	defer cancel()
	tenants, err := d.box.tenants(ctx)
	if err != nil {
		d.log.Warn("mail outbox unreadable", zap.Error(err))
		return false, time.Time{}, false
	}
	var depth int64
	var oldest time.Time
	d.mu.Lock()
	last := d.last
	d.mu.Unlock()
	for _, t := range rotate(tenants, last) {
		// A mail of t leased here, waiting for a worker, takes t's turn
		// (while the queue has mail due, the workers leave the turns to
		// the poller: see work).
		d.mu.Lock()
		c := d.popLocked(t)
		d.mu.Unlock()
		if c == nil {
			var sc scan
			if c, sc, err = d.box.claim(ctx, d.opt.Now(), t); err != nil {
				d.log.Warn("mail outbox claim failed", zap.Error(err))
				return false, time.Time{}, false
			}
			depth += sc.depth
			oldest = earliest(oldest, sc.oldest)
			next = earliest(next, sc.next)
			if c == nil {
				continue
			}
			d.mu.Lock()
			d.last = t
			d.mu.Unlock()
			d.wg.Add(1)
			d.busyGauges(ctx, tenants, oldest)
		}
		go func() {
			defer d.poke() // a worker is free: the next round need not wait
			d.work(c)
		}()
		return true, next, false
	}
	// Nothing due is left unclaimed: new mail may go straight to a worker.
	d.mu.Lock()
	d.backlog = false
	d.mu.Unlock()
	d.gauges(depth, oldest)
	return false, next, depth == 0
}

// free gives up a worker the poller held for nothing, to the mails
// waiting here first.
func (d *Dispatcher) free() {
	d.mu.Lock()
	c := d.nextLocked()
	d.mu.Unlock()
	if c != nil {
		go d.work(c)
	}
}

// rotate starts the list (sorted) after last, wrapping around.
func rotate(tenants []string, last string) []string {
	i, _ := slices.BinarySearch(tenants, last)
	for i < len(tenants) && tenants[i] <= last {
		i++
	}
	return append(tenants[i:len(tenants):len(tenants)], tenants[:i]...)
}

func earliest(a, b time.Time) time.Time {
	if a.IsZero() || (!b.IsZero() && b.Before(a)) {
		return b
	}
	return a
}

// busyGauges refreshes the depth gauge while mails keep the rounds
// short (a round that claims stops scanning), once per poll interval.
func (d *Dispatcher) busyGauges(ctx context.Context, tenants []string, oldest time.Time) {
	now := d.opt.Now()
	if d.opt.Metrics == nil || now.Sub(d.gaugedAt) < d.opt.PollInterval {
		return
	}
	var depth int64
	for _, t := range tenants {
		n, err := d.box.depth(ctx, t)
		if err != nil {
			return
		}
		depth += n
	}
	d.gauges(depth, oldest)
}

func (d *Dispatcher) gauges(depth int64, oldest time.Time) {
	if d.opt.Metrics == nil {
		return
	}
	d.gaugedAt = d.opt.Now()
	d.opt.Metrics.MailQueueDepth.Set(float64(depth))
	age := 0.0
	if !oldest.IsZero() {
		age = max(d.opt.Now().Sub(oldest).Seconds(), 0)
	}
	d.opt.Metrics.MailQueueOldest.Set(age)
}

func (d *Dispatcher) count(outcome string) {
	if d.opt.Metrics != nil {
		d.opt.Metrics.MailOutbox.WithLabelValues(outcome).Inc()
	}
}

// deliver makes one delivery attempt of c and records its outcome before
// anything else happens to the mail: sent (or maybe sent) and refused
// mails are forgotten, a temporary failure is rescheduled.
func (d *Dispatcher) deliver(c *claimed) {
	m := c.rec.Message
	now := d.opt.Now()
	if !now.Before(time.Unix(0, c.rec.Expires)) {
		d.drop(c, "dropped", errExpired)
		return
	}
	c.rec.Tries++
	m.ID = c.id
	ctx, cancel := context.WithTimeout(d.ctx, d.opt.SendTimeout)
	err := d.t.Send(ctx, d.from, m)
	cancel()
	if d.isCrashed() {
		return // a killed replica records nothing: its lease runs out
	}
	switch {
	case err == nil:
		d.sent(c, "sent")
	case errors.Is(err, ErrMaybeDelivered):
		// The whole mail was written and the reply never came: the server
		// may well have it. Resending would give the guest a second mail
		// (the same code twice); not resending risks one lost mail, which
		// the guest's resend covers.
		d.log.Warn("mail may have been delivered; not resent", zap.String("kind", m.Kind),
			zap.String("to", maskedTo(m)), zap.String("error", scrub(err, m)))
		d.sent(c, "maybe_sent")
	case Permanent(err) || d.ctx.Err() != nil || (d.opt.Retries != 0 && c.rec.Tries > max(d.opt.Retries, 0)):
		d.drop(c, "dropped", err)
	default:
		d.retry(c, err)
	}
}

var errExpired = errors.New("mail: expired before it could be delivered")

func (d *Dispatcher) sent(c *claimed, outcome string) {
	m := c.rec.Message
	d.count(outcome)
	if m.Kind == KindCode && d.opt.Metrics != nil {
		d.opt.Metrics.CodesSent.Inc()
	}
	d.log.Debug("mail sent", zap.String("kind", m.Kind), zap.String("to", maskedTo(m)), zap.Int("attempts", c.rec.Tries))
	d.forget(c)
}

func (d *Dispatcher) drop(c *claimed, outcome string, err error) {
	d.count(outcome)
	d.failed(c.rec.Message, c.rec.Tries, err)
	d.forget(c)
}

// forget removes c from the outbox: with the next batch (forgetter), or
// at once. If the store is unreachable the lease runs out and the mail is
// tried again (sent twice at worst).
//
// Only a mail whose queue entry is not due yet waits for a batch: one
// queued leased to this replica (put), the usual case, which no claim
// reads before its lease runs out. A mail the poller claimed has its
// entry due, at the head of its tenant's queue, where every replica's
// claim reads (scanLimit heads): left there for the delay, a burst of
// them would hide the mails due behind them from all pollers. It is
// forgotten at once, as is every mail of a memory outbox.
func (d *Dispatcher) forget(c *claimed) {
	if d.forgets != nil && time.Unix(0, c.rec.Due).After(d.opt.Now().Add(d.opt.ForgetDelay)) {
		d.forgets.add(c)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	if err := d.box.done(ctx, c); err != nil {
		d.log.Warn("mail outbox: outcome not recorded", zap.Error(err))
	}
}

// retry reschedules c after the backoff, or drops it when that is past
// its expiry: the code (or link) would be dead on arrival.
func (d *Dispatcher) retry(c *claimed, err error) {
	m := c.rec.Message
	now := d.opt.Now()
	at := now.Add(d.backoff(c.rec.Tries))
	if !at.Before(time.Unix(0, c.rec.Expires)) {
		d.drop(c, "dropped", fmt.Errorf("%w (last error: %w)", errExpired, err))
		return
	}
	d.count("retried")
	d.log.Info("mail delivery failed, will retry", zap.String("kind", m.Kind),
		zap.String("to", maskedTo(m)), zap.Int("attempt", c.rec.Tries), zap.String("error", scrub(err, m)))
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	if err := d.box.retry(ctx, now, c, at); err != nil {
		d.log.Warn("mail outbox: retry not recorded", zap.Error(err))
	}
}

func (d *Dispatcher) isCrashed() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.crashed
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

// backoff is Backoff·2^(retry-1) up to MaxBackoff, with "equal jitter":
// between half and all of it, so that many failed mails do not retry in
// lockstep.
func (d *Dispatcher) backoff(retry int) time.Duration {
	b := d.opt.Backoff << min(retry-1, 30)
	if b <= 0 || b > d.opt.MaxBackoff {
		b = d.opt.MaxBackoff
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
