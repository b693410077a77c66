package otp

import (
	"testing"

	"github.com/guestpass/guestpass/pkg/store/backendtest"
)

// shared holds the one Redis this package's tests share, each isolated
// by its own key prefix; a test that stops its server starts a private one.
var shared backendtest.Shared

func TestMain(m *testing.M) { shared.Main(m) }
