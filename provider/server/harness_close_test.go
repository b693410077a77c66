package server_test

import (
	"errors"
	"net"
	"os"
	"strings"
	"testing"
	"time"
)

// TestHarnessClosesUnusedConnections: an HTTP client may dial a connection
// it then never uses (it raced another that came free first). The
// harness's cleanup must close such a connection itself; a graceful
// Shutdown instead waits for it (5 s, its grace for connections that
// never sent a request) and then gives up, leaving it open, at the end of
// every test that leaves one behind.
func TestHarnessClosesUnusedConnections(t *testing.T) {
	var conn net.Conn
	t.Run("env", func(t *testing.T) {
		e := newEnv(t, envOptions{})
		c, err := net.Dial("tcp", strings.TrimPrefix(e.base, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		conn = c
	}) // the env's cleanup has run
	defer conn.Close()
	// The deadline only bounds a failing run; a passing one reads EOF
	// without waiting.
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err := conn.Read(make([]byte, 1))
	if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatal("the env's server left an unused connection open after cleanup")
	}
	if err == nil {
		t.Fatal("the env's server wrote to a connection that sent no request")
	}
}
