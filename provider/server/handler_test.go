package server

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/guestpass/guestpass/connectors"
)

// closer is a connector that records Close.
type closer struct{ closed atomic.Bool }

func (*closer) ID() string                { return "c" }
func (*closer) Name() string              { return "C" }
func (*closer) Source() connectors.Source { return connectors.LDAP("c") }
func (*closer) Claims(string) bool        { return false }
func (c *closer) Close() error            { c.closed.Store(true); return nil }

// A replaced handler closes its connectors only once the request it is
// serving is done: closing a pool under a sign-in in flight would fail it.
func TestHandlerClosesAfterRequestsInFlight(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	c := &closer{}
	h := newHandler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		close(entered)
		<-release
	}), map[string][]connectors.Connector{"t": {c}})
	served := make(chan struct{})
	go func() { h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil)); close(served) }()
	<-entered

	closed := make(chan error, 1)
	go func() { closed <- h.Close(context.Background()) }()
	select {
	case <-closed:
		t.Fatal("Close returned while a request was in flight")
	case <-time.After(50 * time.Millisecond): // a chance to close too early
	}
	if c.closed.Load() {
		t.Fatal("connector closed under a request in flight")
	}
	close(release)
	<-served
	if err := <-closed; err != nil || !c.closed.Load() {
		t.Fatalf("after the request: err %v, closed %v", err, c.closed.Load())
	}
}

// The grace period ends the wait: a stuck request does not keep the old
// pools open for ever.
func TestHandlerCloseGrace(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	entered := make(chan struct{})
	c := &closer{}
	h := newHandler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { close(entered); <-release }),
		map[string][]connectors.Connector{"t": {c}})
	go h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	<-entered
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // the grace period is over
	if err := h.Close(ctx); err != nil || !c.closed.Load() {
		t.Fatalf("after the grace period: err %v, closed %v", err, c.closed.Load())
	}
}
