package guests_test

import (
	"testing"
	"time"

	"github.com/guestpass/guestpass/pkg/store/backendtest"
)

// backends runs this package's tests on memory and on the one Redis
// they share (each test isolated by its own key prefix).
var backends = backendtest.Shared{Start: time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)}

func TestMain(m *testing.M) { backends.Main(m) }
