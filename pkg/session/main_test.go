package session

import (
	"fmt"
	"os"
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
	srv, err := redistest.Launch()
	if err != nil {
		fmt.Fprintln(os.Stderr, "redis:", err)
		os.Exit(1)
	}
	sharedRedis = srv
	code := m.Run()
	srv.Close()
	os.Exit(code)
}

// fakeClock is the settable clock shared with the memory store.
type fakeClock = storetest.Clock

var clockStart = time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)

func newFakeClock() *fakeClock { return storetest.NewClock(clockStart) }

// eachBackend runs f once per store (memory, Redis).
func eachBackend(t *testing.T, f func(t *testing.T, st store.Store, clock *fakeClock)) {
	backendtest.Each(t, sharedRedis, clockStart, f)
}
