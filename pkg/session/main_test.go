package session

import (
	"testing"
	"time"

	"github.com/guestpass/guestpass/pkg/store/backendtest"
	"github.com/guestpass/guestpass/pkg/store/storetest"
)

// backends runs this package's tests on memory and on the one Redis
// they share (each test isolated by its own key prefix).
var backends = backendtest.Shared{Start: time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)}

func TestMain(m *testing.M) { backends.Main(m) }

// newFakeClock is a settable clock where every test's clock starts, for
// the tests that need no store.
func newFakeClock() *storetest.Clock { return storetest.NewClock(backends.Start) }
