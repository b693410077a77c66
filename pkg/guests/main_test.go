package guests_test

import (
	"testing"
	"time"

	"github.com/guestpass/guestpass/pkg/store"
	"github.com/guestpass/guestpass/pkg/store/backendtest"
	"github.com/guestpass/guestpass/pkg/store/redistest"
	"github.com/guestpass/guestpass/pkg/store/storetest"
)

// sharedRedis is the one Redis this package's tests share; each
// test isolates itself with its own key prefix.
var sharedRedis *redistest.Server

func TestMain(m *testing.M) {
	redistest.Main(m, &sharedRedis)
}

// fakeClock is the settable clock shared with the memory store.
type fakeClock = storetest.Clock

var clockStart = time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)

func newFakeClock() *fakeClock { return storetest.NewClock(clockStart) }

// eachBackend runs f once per store (memory, Redis).
func eachBackend(t *testing.T, f func(t *testing.T, st store.Store, clock *fakeClock)) {
	backendtest.Each(t, sharedRedis, clockStart, f)
}
