package otp

import (
	"fmt"
	"os"
	"testing"

	"github.com/guestpass/guestpass/pkg/store/redistest"
)

// sharedRedis is the one Redis this package's tests share, each isolated
// by its own key prefix; a test that stops its server starts a private one.
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
