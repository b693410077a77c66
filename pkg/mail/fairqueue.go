package mail

import (
	"container/heap"
	"sync"
	"time"
)

// fairQueue holds mails per tenant, each tenant's queue bounded, and hands
// them to the workers round-robin over the tenants that have mail waiting:
// a tenant with a thousand mails queued delays another tenant's next mail
// by at most one delivery per worker, and can never take its room.
//
// A place is reserved before a mail is pushed into it (Reserve/Slot), so
// capacity is decided at once, before the caller commits to anything.
//
// A mail to retry is not waited for in a worker (a tenant whose mail
// server keeps answering "try later" would hold every worker and undo the
// fairness): it waits here, delayed, until its time, then rejoins the back
// of its tenant's queue. Delayed mails count towards their tenant's room.
type fairQueue struct {
	mu      sync.Mutex
	cond    *sync.Cond
	size    int
	now     func() time.Time
	queues  map[string]*tenantQueue
	ready   []string // tenants with mail waiting, in serving order
	delayed delayHeap
	closed  bool
	// hurry makes every delayed mail due at once: the dispatcher is
	// being abandoned, and the mails are to fail fast, not wait.
	hurry bool
}

// job is a mail and the delivery attempts already made for it.
type job struct {
	Message
	tries int
}

type tenantQueue struct {
	mails    []job
	reserved int // places held by slots not yet sent or released
	waiting  int // mails of the tenant delayed for a retry
}

func newFairQueue(size int) *fairQueue {
	q := &fairQueue{size: size, queues: map[string]*tenantQueue{}, now: time.Now}
	q.cond = sync.NewCond(&q.mu)
	return q
}

// tenant returns tenant's queue, made if needed.
func (q *fairQueue) tenant(tenant string) *tenantQueue {
	tq := q.queues[tenant]
	if tq == nil {
		tq = &tenantQueue{}
		q.queues[tenant] = tq
	}
	return tq
}

// reserve holds a place in tenant's queue.
func (q *fairQueue) reserve(tenant string) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return ErrDispatcherClosed
	}
	tq := q.tenant(tenant)
	if len(tq.mails)+tq.reserved+tq.waiting >= q.size {
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
	q.enqueue(tq, job{Message: m})
	return nil
}

// enqueue appends j to its tenant's queue and wakes a worker.
func (q *fairQueue) enqueue(tq *tenantQueue, j job) {
	tq.mails = append(tq.mails, j)
	if len(tq.mails) == 1 {
		q.ready = append(q.ready, j.Tenant)
	}
	q.cond.Signal()
}

// retry puts j back, due at at. It is taken even after close: the queue
// drains with its retries. (A tenant's room may be exceeded by the mails
// the workers hold at the moment, never by more.)
func (q *fairQueue) retry(j job, at time.Time) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.tenant(j.Tenant).waiting++
	heap.Push(&q.delayed, delayedJob{at: at, job: j})
	q.cond.Broadcast() // a waiting worker's wake-up time may be later
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
// once the queue is closed and drained, delayed mails included.
func (q *fairQueue) pop() (job, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for {
		q.promoteDue()
		if len(q.ready) > 0 {
			return q.take(), true
		}
		if q.closed && len(q.delayed) == 0 {
			return job{}, false
		}
		q.waitForWork()
	}
}

// waitForWork waits (q.mu held) for a push, a retry, close, or the next
// delayed mail's time.
func (q *fairQueue) waitForWork() {
	if len(q.delayed) == 0 {
		q.cond.Wait()
		return
	}
	t := time.AfterFunc(q.delayed[0].at.Sub(q.now()), func() {
		q.mu.Lock()
		q.cond.Broadcast()
		q.mu.Unlock()
	})
	q.cond.Wait()
	t.Stop()
}

// promoteDue moves delayed mails whose time has come to the back of their
// tenants' queues.
func (q *fairQueue) promoteDue() {
	now := q.now()
	for len(q.delayed) > 0 && (q.hurry || !q.delayed[0].at.After(now)) {
		d := heap.Pop(&q.delayed).(delayedJob)
		tq := q.tenant(d.job.Tenant)
		tq.waiting--
		q.enqueue(tq, d.job)
	}
}

// take hands out the first ready tenant's next mail (q.mu held, ready
// not empty).
func (q *fairQueue) take() job {
	tenant := q.ready[0]
	q.ready = q.ready[1:]
	tq := q.queues[tenant]
	j := tq.mails[0]
	tq.mails[0] = job{} // let the body be collected
	tq.mails = tq.mails[1:]
	if len(tq.mails) > 0 {
		q.ready = append(q.ready, tenant) // back of the line
	}
	q.forget(tenant, tq)
	return j
}

// close refuses new reservations and wakes the workers to drain.
func (q *fairQueue) close() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.closed = true
	q.cond.Broadcast()
}

// abandon makes every delayed mail due now, so that the workers hand them
// back (to be counted as failed) instead of waiting for their time.
func (q *fairQueue) abandon() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.hurry = true
	q.cond.Broadcast()
}

// forget drops an empty tenant queue, so the map holds only tenants with
// mail waiting, delayed or places held.
func (q *fairQueue) forget(tenant string, tq *tenantQueue) {
	if len(tq.mails) == 0 && tq.reserved == 0 && tq.waiting == 0 {
		delete(q.queues, tenant)
	}
}

// delayedJob is a mail waiting for its retry time.
type delayedJob struct {
	at  time.Time
	job job
}

// delayHeap orders delayed mails by time (container/heap).
type delayHeap []delayedJob

func (h delayHeap) Len() int           { return len(h) }
func (h delayHeap) Less(i, j int) bool { return h[i].at.Before(h[j].at) }
func (h delayHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *delayHeap) Push(x any)        { *h = append(*h, x.(delayedJob)) }
func (h *delayHeap) Pop() any {
	old := *h
	d := old[len(old)-1]
	old[len(old)-1] = delayedJob{}
	*h = old[:len(old)-1]
	return d
}
