package session

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestFlowEnsureAndGet(t *testing.T) {
	clock := newFakeClock()
	for _, secure := range []bool{false, true} {
		f := NewFlows(testOptions(clock.Now, secure))
		if _, err := f.Get(requestWith("fabrikam"), "fabrikam"); !errors.Is(err, ErrNoFlow) {
			t.Fatalf("Get without a cookie: %v", err)
		}
		rec := httptest.NewRecorder()
		id, err := f.Ensure(rec, requestWith("fabrikam"), "fabrikam")
		if err != nil {
			t.Fatal(err)
		}
		if !validID(id) {
			t.Fatalf("flow id %q is not 32 random bytes in base64url", id)
		}
		c := cookieFrom(t, rec, FlowCookieName)
		if c.Path != "/fabrikam" || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Secure != secure ||
			c.MaxAge != 3600 || c.Domain != "" {
			t.Fatalf("flow cookie attributes: %+v", c)
		}
		got, err := f.Get(requestWith("fabrikam", c), "fabrikam")
		if err != nil || got != id {
			t.Fatalf("Get = %q, %v; want %q", got, err, id)
		}
		// Ensure keeps a valid flow.
		clock.Advance(30 * time.Minute)
		rec2 := httptest.NewRecorder()
		again, err := f.Ensure(rec2, requestWith("fabrikam", c), "fabrikam")
		if err != nil || again != id {
			t.Fatalf("Ensure with a valid flow = %q, %v; want %q", again, err, id)
		}
		// A different browser gets a different flow.
		rec3 := httptest.NewRecorder()
		other, err := f.Ensure(rec3, requestWith("fabrikam"), "fabrikam")
		if err != nil || other == id {
			t.Fatalf("second browser got flow %q (%v)", other, err)
		}
	}
}

func TestFlowExpires(t *testing.T) {
	clock := newFakeClock()
	f := NewFlows(testOptions(clock.Now, false))
	rec := httptest.NewRecorder()
	id, err := f.Ensure(rec, requestWith("fabrikam"), "fabrikam")
	if err != nil {
		t.Fatal(err)
	}
	c := cookieFrom(t, rec, FlowCookieName)
	clock.Advance(59 * time.Minute)
	if got, err := f.Get(requestWith("fabrikam", c), "fabrikam"); err != nil || got != id {
		t.Fatalf("at 59m: %q, %v", got, err)
	}
	clock.Advance(2 * time.Minute)
	if _, err := f.Get(requestWith("fabrikam", c), "fabrikam"); !errors.Is(err, ErrNoFlow) {
		t.Fatalf("at 61m: %v, want ErrNoFlow", err)
	}
	rec2 := httptest.NewRecorder()
	fresh, err := f.Ensure(rec2, requestWith("fabrikam", c), "fabrikam")
	if err != nil || fresh == id {
		t.Fatalf("Ensure after expiry = %q, %v; want a new flow", fresh, err)
	}
}

func TestFlowEnsureRefreshesItsHour(t *testing.T) {
	clock := newFakeClock()
	f := NewFlows(testOptions(clock.Now, false))
	rec := httptest.NewRecorder()
	id, err := f.Ensure(rec, requestWith("fabrikam"), "fabrikam")
	if err != nil {
		t.Fatal(err)
	}
	c := cookieFrom(t, rec, FlowCookieName)
	clock.Advance(50 * time.Minute)
	rec2 := httptest.NewRecorder()
	if _, err := f.Ensure(rec2, requestWith("fabrikam", c), "fabrikam"); err != nil {
		t.Fatal(err)
	}
	c2 := cookieFrom(t, rec2, FlowCookieName)
	clock.Advance(50 * time.Minute)
	if got, err := f.Get(requestWith("fabrikam", c2), "fabrikam"); err != nil || got != id {
		t.Fatalf("refreshed flow at 100m: %q, %v", got, err)
	}
	if _, err := f.Get(requestWith("fabrikam", c), "fabrikam"); !errors.Is(err, ErrNoFlow) {
		t.Fatalf("the original cookie at 100m: %v, want ErrNoFlow", err)
	}
}

func TestFlowCookieIsBoundToTenantAndKeys(t *testing.T) {
	clock := newFakeClock()
	f := NewFlows(testOptions(clock.Now, false))
	rec := httptest.NewRecorder()
	id, err := f.Ensure(rec, requestWith("tenant-a"), "tenant-a")
	if err != nil {
		t.Fatal(err)
	}
	c := cookieFrom(t, rec, FlowCookieName)
	if _, err := f.Get(requestWith("tenant-b", c), "tenant-b"); !errors.Is(err, ErrNoFlow) {
		t.Fatalf("A's flow at B: %v", err)
	}
	recB := httptest.NewRecorder()
	idB, err := f.Ensure(recB, requestWith("tenant-b", c), "tenant-b")
	if err != nil || idB == id {
		t.Fatalf("Ensure at B with A's cookie = %q, %v; want a new flow", idB, err)
	}
	other := NewFlows(Options{HashKey: []byte("another-hash-key-another-hash-ke"), BlockKey: testBlock, Clock: clock.Now})
	if _, err := other.Get(requestWith("tenant-a", c), "tenant-a"); !errors.Is(err, ErrNoFlow) {
		t.Fatalf("decoded under other keys: %v", err)
	}
	tampered := *c
	tampered.Value = alter(c.Value)
	if _, err := f.Get(requestWith("tenant-a", &tampered), "tenant-a"); !errors.Is(err, ErrNoFlow) {
		t.Fatalf("tampered flow cookie: %v", err)
	}
}

func TestCSRFToken(t *testing.T) {
	clock := newFakeClock()
	f := NewFlows(testOptions(clock.Now, false))
	flowX, flowY := mustID(t), mustID(t)
	tok := f.CSRFToken("tenant-a", flowX)
	if tok == "" || tok != f.CSRFToken("tenant-a", flowX) {
		t.Fatal("token not deterministic")
	}
	if !f.CheckCSRF("tenant-a", flowX, tok) {
		t.Fatal("own token refused")
	}
	for name, ok := range map[string]bool{
		"other tenant": f.CheckCSRF("tenant-b", flowX, tok),
		"other flow":   f.CheckCSRF("tenant-a", flowY, tok),
		"empty token":  f.CheckCSRF("tenant-a", flowX, ""),
		"empty flow":   f.CheckCSRF("tenant-a", "", f.CSRFToken("tenant-a", "")),
		"altered":      f.CheckCSRF("tenant-a", flowX, alter(tok)),
		"truncated":    f.CheckCSRF("tenant-a", flowX, tok[:10]),
		"other keys": NewFlows(Options{HashKey: []byte("another-hash-key-another-hash-ke"), BlockKey: testBlock}).
			CheckCSRF("tenant-a", flowX, tok),
	} {
		if ok {
			t.Errorf("%s: accepted", name)
		}
	}
	if f.CSRFToken("tenant-a", flowX) == f.CSRFToken("tenant-b", flowX) || f.CSRFToken("tenant-a", flowX) == f.CSRFToken("tenant-a", flowY) {
		t.Fatal("tokens collide across tenant or flow")
	}
}

func mustID(t *testing.T) string {
	t.Helper()
	id, err := newID()
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// alter changes one character in the middle of s.
func alter(s string) string {
	b := []byte(s)
	i := len(b) / 2
	if b[i] == 'A' {
		b[i] = 'B'
	} else {
		b[i] = 'A'
	}
	return string(b)
}
