package otp

import (
	"testing"

	"github.com/guestpass/guestpass/pkg/store/redistest"
)

// sharedRedis is the one Redis this package's tests share, each isolated
// by its own key prefix; a test that stops its server starts a private one.
var sharedRedis *redistest.Server

func TestMain(m *testing.M) {
	redistest.Main(m, &sharedRedis)
}
