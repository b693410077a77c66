package mail

import (
	"context"
	"sync"
	"time"

	"go.uber.org/zap"
)

// forgetBatch is how many outcomes one pipeline records at most: a full
// batch is written at once, by the worker that filled it.
const forgetBatch = 64

// forgetter records the outcomes of the mails sent (or dropped) here in
// batches: a group commit. Under load (hundreds of mails a second) the
// forgets of many mails share one pipeline instead of paying a Redis round
// trip each, guestpass's CPU and Redis's alike. A batch is written when
// forgetBatch are pending or delay after the first of them, whichever
// comes first; with nothing pending there is no timer and no trip. It
// takes the mails queued leased to this replica, whose queue entries are
// not due before their leases run out (Dispatcher.forget says why only
// those), so the entries waiting here hide nothing from the claims; they
// do count in the queue's depth (Reserve's room, the gauge) for the delay.
//
// Until its forget lands a mail keeps its lease, so no replica sends it
// again: the lease (Lease, default 90 s) is far longer than the delay
// (DispatcherOptions.ForgetDelay, default 20 ms, at most half of what
// the lease leaves after the send). A crash between the send and the
// write loses the pending forgets: their leases run out and another
// replica sends those mails again. That is the outbox's at-least-once, as
// when a forget fails; only the window grew, by the delay.
type forgetter struct {
	box   *outbox
	delay time.Duration
	log   *zap.Logger

	mu      sync.Mutex
	pending []*claimed
	// gen tells a batch's timer whether its batch is still the one
	// pending: a batch written by size or by close leaves its timer
	// nothing to do.
	gen uint64
	// closed: the dispatcher has stopped; a late outcome is written at
	// once. dead: a crashed replica (tests) writes nothing more.
	closed, dead bool
	// writing counts the batches being written (close waits for them).
	// Add is called under mu while !closed, so never during close's Wait.
	writing sync.WaitGroup
}

// add records c's outcome: pending, or written now with a full batch.
func (f *forgetter) add(c *claimed) {
	f.mu.Lock()
	if f.dead {
		f.mu.Unlock()
		return
	}
	if f.closed {
		f.mu.Unlock()
		f.write([]*claimed{c})
		return
	}
	f.pending = append(f.pending, c)
	switch len(f.pending) {
	case forgetBatch:
		batch := f.takeLocked()
		f.writing.Add(1)
		f.mu.Unlock()
		defer f.writing.Done()
		f.write(batch)
		return
	case 1:
		gen := f.gen
		time.AfterFunc(f.delay, func() { f.due(gen) })
	}
	f.mu.Unlock()
}

// due writes the batch gen when its delay is up, unless it went already.
func (f *forgetter) due(gen uint64) {
	f.mu.Lock()
	if gen != f.gen || f.closed || f.dead || len(f.pending) == 0 {
		f.mu.Unlock()
		return
	}
	batch := f.takeLocked()
	f.writing.Add(1)
	f.mu.Unlock()
	defer f.writing.Done()
	f.write(batch)
}

// takeLocked hands over the pending batch and starts the next (mu held).
func (f *forgetter) takeLocked() []*claimed {
	batch := f.pending
	f.pending = nil
	f.gen++
	return batch
}

// write forgets a batch in one pipeline. If the store is unreachable the
// leases run out and the mails are tried again (sent twice at worst).
func (f *forgetter) write(batch []*claimed) {
	if len(batch) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	if err := f.box.done(ctx, batch...); err != nil {
		f.log.Warn("mail outbox: outcome not recorded", zap.Int("mails", len(batch)), zap.Error(err))
	}
}

// close writes what is pending and waits for the batches being written:
// once it returns every outcome of this dispatcher is recorded (or its
// failure logged). Outcomes after it are written one by one.
func (f *forgetter) close() {
	f.mu.Lock()
	f.closed = true
	batch := f.takeLocked()
	f.mu.Unlock()
	f.write(batch)
	f.writing.Wait()
}
