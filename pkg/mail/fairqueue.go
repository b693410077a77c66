package mail

import "sync"

// fairQueue holds mails per tenant, each tenant's queue bounded, and hands
// them to the workers round-robin over the tenants that have mail waiting:
// a tenant with a thousand mails queued delays another tenant's next mail
// by at most one delivery per worker, and can never take its room.
//
// A place is reserved before a mail is pushed into it (Reserve/Slot), so
// capacity is decided at once, before the caller commits to anything.
type fairQueue struct {
	mu     sync.Mutex
	cond   *sync.Cond
	size   int
	queues map[string]*tenantQueue
	ready  []string // tenants with mail waiting, in serving order
	closed bool
}

type tenantQueue struct {
	mails    []Message
	reserved int // places held by slots not yet sent or released
}

func newFairQueue(size int) *fairQueue {
	q := &fairQueue{size: size, queues: map[string]*tenantQueue{}}
	q.cond = sync.NewCond(&q.mu)
	return q
}

// reserve holds a place in tenant's queue.
func (q *fairQueue) reserve(tenant string) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return ErrDispatcherClosed
	}
	tq := q.queues[tenant]
	if tq == nil {
		tq = &tenantQueue{}
		q.queues[tenant] = tq
	}
	if len(tq.mails)+tq.reserved >= q.size {
		return ErrQueueFull
	}
	tq.reserved++
	return nil
}

// push turns a reserved place into a queued mail. After close it gives
// the place back and fails: the workers may be gone, and the caller must
// hear that the mail will not go out.
func (q *fairQueue) push(m Message) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	tq := q.queues[m.Tenant]
	tq.reserved--
	if q.closed {
		q.forget(m.Tenant, tq)
		return ErrDispatcherClosed
	}
	tq.mails = append(tq.mails, m)
	if len(tq.mails) == 1 {
		q.ready = append(q.ready, m.Tenant)
	}
	q.cond.Signal()
	return nil
}

// release gives a reserved place back.
func (q *fairQueue) release(tenant string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	tq := q.queues[tenant]
	tq.reserved--
	q.forget(tenant, tq)
}

// pop waits for the next mail, taking tenants in turn. It reports false
// once the queue is closed and drained.
func (q *fairQueue) pop() (Message, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for len(q.ready) == 0 {
		if q.closed {
			return Message{}, false
		}
		q.cond.Wait()
	}
	tenant := q.ready[0]
	q.ready = q.ready[1:]
	tq := q.queues[tenant]
	m := tq.mails[0]
	tq.mails[0] = Message{} // let the body be collected
	tq.mails = tq.mails[1:]
	if len(tq.mails) > 0 {
		q.ready = append(q.ready, tenant) // back of the line
	}
	q.forget(tenant, tq)
	return m, true
}

// close refuses new reservations and wakes the workers to drain.
func (q *fairQueue) close() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.closed = true
	q.cond.Broadcast()
}

// forget drops an empty tenant queue, so the map holds only tenants with
// mail waiting or places held.
func (q *fairQueue) forget(tenant string, tq *tenantQueue) {
	if len(tq.mails) == 0 && tq.reserved == 0 {
		delete(q.queues, tenant)
	}
}
