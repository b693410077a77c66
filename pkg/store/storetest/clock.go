package storetest

import (
	"sync"
	"time"
)

// Clock is the settable clock of every test: the store and the code under
// test share it, so a test crosses an expiry line without waiting. It
// either stands still at a start (NewClock: unit tests on the memory
// store) or follows the wall clock (NewWallClock: end-to-end tests with
// Redis, which keeps its own time); Advance moves it forward in both.
type Clock struct {
	mu     sync.Mutex
	start  time.Time // zero: the wall clock
	offset time.Duration
}

// NewClock returns a clock that reads start until advanced.
func NewClock(start time.Time) *Clock { return &Clock{start: start} }

// NewWallClock returns a clock that reads the wall clock, plus whatever
// it was advanced by.
func NewWallClock() *Clock { return &Clock{} }

// Now is the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.start.IsZero() {
		return time.Now().Add(c.offset)
	}
	return c.start.Add(c.offset)
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset += d
}
