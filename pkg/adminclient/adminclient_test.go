package adminclient

import (
	"context"
	"errors"
	"net"
	"net/http"
	"testing"
	"time"
)

// A server that accepts the connection and never answers is reported as
// unreachable once the client's timeout passes, not waited on forever.
func TestHungServerIsUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { <-stop; c.Close() }()
		}
	}()
	c, err := New("http://"+ln.Addr().String()+"/alpha", "admin", "s", &http.Client{Timeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = c.Policy(context.Background())
	var u *UnreachableError
	if !errors.As(err, &u) {
		t.Fatalf("err = %v, want *UnreachableError", err)
	}
}

func TestNewRefusesANonURL(t *testing.T) {
	for _, s := range []string{"localhost:8080/demo", "ftp://x/demo", "", "http:///demo", "http://localhost:8080/demo?x=1", "http://localhost:8080/demo#f"} {
		if _, err := New(s, "a", "b", nil); err == nil {
			t.Errorf("New(%q) accepted", s)
		}
	}
	if _, err := New("http://localhost:8080/demo/", "a", "b", nil); err != nil {
		t.Fatal(err)
	}
}
