package adminclient

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
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
	for _, s := range []string{"http://example.com/demo", "http://10.0.0.1:8080/demo", "localhost:8080/demo", "ftp://x/demo", "", "http:///demo", "http://localhost:8080/demo?x=1", "http://localhost:8080/demo#f"} {
		if _, err := New(s, "a", "b", nil); err == nil {
			t.Errorf("New(%q) accepted", s)
		}
	}
	for _, s := range []string{"http://localhost:8080/demo/", "http://127.0.0.1:8080/demo", "http://[::1]:8080/demo", "https://id.example.com/demo"} {
		if _, err := New(s, "a", "b", nil); err != nil {
			t.Errorf("New(%q): %v", s, err)
		}
	}
}

// A discovery document that names a token endpoint elsewhere (another
// port here) does not get the client secret sent there.
func TestTokenEndpointMustShareTheIssuersOrigin(t *testing.T) {
	var got atomic.Bool
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.Store(true)
		http.Error(w, "no", http.StatusTeapot)
	}))
	defer elsewhere.Close()
	var issuer string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"issuer": issuer, "token_endpoint": elsewhere.URL + "/demo/oauth/token"})
	}))
	defer srv.Close()
	issuer = srv.URL + "/demo"
	c, err := New(issuer, "admin", "s3cret", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Policy(context.Background()); err == nil || !strings.Contains(err.Error(), "token endpoint") {
		t.Fatalf("err = %v, want a refused token endpoint", err)
	}
	if got.Load() {
		t.Fatal("the client secret was sent to another origin")
	}
}
