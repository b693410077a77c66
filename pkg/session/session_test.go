package session

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/guestpass/guestpass/pkg/store"
	"github.com/guestpass/guestpass/pkg/store/backendtest"
	"github.com/guestpass/guestpass/pkg/store/redisstore"
	"github.com/guestpass/guestpass/pkg/store/redistest"
	"github.com/guestpass/guestpass/pkg/store/storetest"
)

var (
	testHash  = []byte("0123456789abcdef0123456789abcdef")
	testBlock = []byte("fedcba9876543210fedcba9876543210")
)

func testOptions(clock func() time.Time, secure bool) Options {
	return Options{HashKey: testHash, BlockKey: testBlock, Secure: secure, Clock: clock}
}

// cookieFrom returns the one cookie named name set on rec.
func cookieFrom(t *testing.T, rec *httptest.ResponseRecorder, name string) *http.Cookie {
	t.Helper()
	var found *http.Cookie
	for _, c := range rec.Result().Cookies() {
		if c.Name == name {
			if found != nil {
				t.Fatalf("cookie %s set twice", name)
			}
			found = c
		}
	}
	if found == nil {
		t.Fatalf("no %s cookie in %v", name, rec.Result().Header["Set-Cookie"])
	}
	return found
}

// requestWith builds a request to /{tenant}/authorize carrying cookies.
func requestWith(tenant string, cookies ...*http.Cookie) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/"+tenant+"/authorize", nil)
	for _, c := range cookies {
		r.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
	}
	return r
}

func newSession() Session {
	return Session{GuestID: "8c5e5d43-4a5e-4f57-9a51-2d1f7c8c1a10", Email: "ann@example.com", Name: "Ann",
		Source: "otp", AMR: []string{"otp"}}
}

func TestCreateSetsCookieAndRecord(t *testing.T) {
	backends.Each(t, func(t *testing.T, st store.Store, clock *storetest.Clock) {
		ctx := context.Background()
		for _, secure := range []bool{false, true} {
			m := NewManager(st, testOptions(clock.Now, secure))
			rec := httptest.NewRecorder()
			s, err := m.Create(ctx, rec, "fabrikam", newSession(), 24*time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			c := cookieFrom(t, rec, "guestpass_session")
			if c.Path != "/fabrikam" || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode ||
				c.Secure != secure || c.MaxAge != 86400 || !c.Expires.IsZero() || c.Domain != "" {
				t.Fatalf("cookie attributes: %+v (Set-Cookie %q)", c, rec.Result().Header["Set-Cookie"])
			}
			if strings.Contains(c.Value, s.ID) {
				t.Fatal("the cookie carries the session id in the clear")
			}
			if s.Tenant != "fabrikam" || len(s.ID) != 43 || !s.AuthTime.Equal(clock.Now()) ||
				!s.ExpiresAt.Equal(clock.Now().Add(24*time.Hour)) || s.Email != "ann@example.com" {
				t.Fatalf("session = %+v", s)
			}
			ttl, err := st.TTL(ctx, store.TagKey("fabrikam", s.ID, "session"))
			if err != nil || ttl <= 23*time.Hour || ttl > 24*time.Hour {
				t.Fatalf("record TTL = %v, %v; want about 24h", ttl, err)
			}
			got, err := m.Get(ctx, requestWith("fabrikam", c), "fabrikam")
			if err != nil {
				t.Fatal(err)
			}
			if got.ID != s.ID || got.GuestID != s.GuestID || got.Source != "otp" || len(got.AMR) != 1 ||
				!got.ExpiresAt.Equal(s.ExpiresAt) || !got.AuthTime.Equal(s.AuthTime) {
				t.Fatalf("Get = %+v, want %+v", got, s)
			}
		}
	})
}

func TestCreateIssuesFreshIDNoFixation(t *testing.T) {
	backends.Each(t, func(t *testing.T, st store.Store, clock *storetest.Clock) {
		ctx := context.Background()
		m := NewManager(st, testOptions(clock.Now, false))
		rec := httptest.NewRecorder()
		first, err := m.Create(ctx, rec, "fabrikam", newSession(), time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		planted := cookieFrom(t, rec, CookieName)
		// The browser arrives with a valid session cookie (planted by an
		// attacker, or its own) and signs in again: the new session must
		// have a new id, and the planted cookie must not become it.
		s := newSession()
		s.ID = first.ID // even if a caller copies an id in, it is ignored
		rec2 := httptest.NewRecorder()
		second, err := m.Create(ctx, rec2, "fabrikam", s, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if second.ID == first.ID {
			t.Fatal("Create reused the session id")
		}
		c2 := cookieFrom(t, rec2, CookieName)
		got, err := m.Get(ctx, requestWith("fabrikam", c2), "fabrikam")
		if err != nil || got.ID != second.ID {
			t.Fatalf("Get with the new cookie = %+v, %v", got, err)
		}
		if c2.Value == planted.Value {
			t.Fatal("the new cookie equals the old one")
		}
		if got, err := m.Get(ctx, requestWith("fabrikam", planted), "fabrikam"); err != nil || got.ID != first.ID {
			t.Fatalf("the planted cookie now reads %+v, %v; it must still be only the old session", got, err)
		}
	})
}

func TestCookieOfAnotherTenantIsRefused(t *testing.T) {
	backends.Each(t, func(t *testing.T, st store.Store, clock *storetest.Clock) {
		ctx := context.Background()
		m := NewManager(st, testOptions(clock.Now, false))
		rec := httptest.NewRecorder()
		a, err := m.Create(ctx, rec, "tenant-a", newSession(), time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		ca := cookieFrom(t, rec, CookieName)

		// 1. The cookie itself does not decode at B.
		if _, err := m.Get(ctx, requestWith("tenant-b", ca), "tenant-b"); !errors.Is(err, ErrNoSession) {
			t.Fatalf("A's cookie at B: %v, want ErrNoSession", err)
		}
		if _, err := m.cookieID(requestWith("tenant-b", ca), "tenant-b"); !errors.Is(err, ErrNoSession) {
			t.Fatalf("A's cookie decoded at B: %v", err)
		}

		// 2. Even a validly encoded B cookie holding A's id finds no record
		// at B.
		forged, err := m.codec.Encode(codecName("tenant-b"), []byte(a.ID))
		if err != nil {
			t.Fatal(err)
		}
		cb := &http.Cookie{Name: CookieName, Value: forged}
		if _, err := m.Get(ctx, requestWith("tenant-b", cb), "tenant-b"); !errors.Is(err, ErrNoSession) {
			t.Fatalf("A's id at B: %v, want ErrNoSession", err)
		}

		// 3. A record under B's key that names tenant A is refused too.
		raw, err := st.Get(ctx, store.TagKey("tenant-a", a.ID, "session"))
		if err != nil {
			t.Fatal(err)
		}
		if err := st.Set(ctx, store.TagKey("tenant-b", a.ID, "session"), raw, time.Hour); err != nil {
			t.Fatal(err)
		}
		if _, err := m.Get(ctx, requestWith("tenant-b", cb), "tenant-b"); !errors.Is(err, ErrNoSession) {
			t.Fatalf("record of tenant A under B's key: %v, want ErrNoSession", err)
		}

		// A is still fine.
		if _, err := m.Get(ctx, requestWith("tenant-a", ca), "tenant-a"); err != nil {
			t.Fatal(err)
		}
	})
}

func TestAbsoluteLifetime(t *testing.T) {
	// The memory store follows the injected clock, so this crosses the
	// 24-hour line both in the store's expiry and in ExpiresAt.
	clock := newFakeClock()
	st := backendtest.Backends(backends.Redis)[0].Open(t, clock.Now) // memory
	ctx := context.Background()
	m := NewManager(st, testOptions(clock.Now, false))
	rec := httptest.NewRecorder()
	s, err := m.Create(ctx, rec, "fabrikam", newSession(), 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	r := requestWith("fabrikam", cookieFrom(t, rec, CookieName))
	key := store.TagKey("fabrikam", s.ID, "session")

	// Frequent use must not extend the lifetime.
	for range 23 {
		clock.Advance(time.Hour)
		if _, err := m.Get(ctx, r, "fabrikam"); err != nil {
			t.Fatalf("at %v: %v", clock.Now().Sub(s.AuthTime), err)
		}
	}
	clock.Advance(59 * time.Minute) // 23h59
	before, err := st.TTL(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	got, err := m.Get(ctx, r, "fabrikam")
	if err != nil {
		t.Fatalf("at 23h59: %v", err)
	}
	after, err := st.TTL(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	if after > before || after > time.Minute || !got.ExpiresAt.Equal(s.ExpiresAt) {
		t.Fatalf("Get extended the session: TTL %v -> %v, ExpiresAt %v -> %v", before, after, s.ExpiresAt, got.ExpiresAt)
	}
	clock.Advance(2 * time.Minute) // 24h01
	if _, err := m.Get(ctx, r, "fabrikam"); !errors.Is(err, ErrNoSession) {
		t.Fatalf("at 24h01: %v, want ErrNoSession", err)
	}
}

func TestExpiresAtIsCheckedEvenIfTheRecordLingers(t *testing.T) {
	backends.Each(t, func(t *testing.T, st store.Store, _ *storetest.Clock) {
		ctx := context.Background()
		// The store keeps real time; only the manager's clock moves, as
		// when a record outlives its ExpiresAt.
		mclock := storetest.NewClock(time.Now())
		m := NewManager(st, testOptions(mclock.Now, false))
		rec := httptest.NewRecorder()
		s, err := m.Create(ctx, rec, "fabrikam", newSession(), 24*time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		r := requestWith("fabrikam", cookieFrom(t, rec, CookieName))
		mclock.Advance(24*time.Hour + time.Minute)
		if _, err := m.Get(ctx, r, "fabrikam"); !errors.Is(err, ErrNoSession) {
			t.Fatalf("past ExpiresAt: %v, want ErrNoSession", err)
		}
		if _, err := st.Get(ctx, store.TagKey("fabrikam", s.ID, "session")); err != nil {
			t.Fatalf("the record should still be in the store for this test: %v", err)
		}
	})
}

func TestGetDoesNotExtendTTL(t *testing.T) {
	backends.Each(t, func(t *testing.T, st store.Store, clock *storetest.Clock) {
		ctx := context.Background()
		m := NewManager(st, testOptions(clock.Now, false))
		rec := httptest.NewRecorder()
		s, err := m.Create(ctx, rec, "fabrikam", newSession(), 2*time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		key := store.TagKey("fabrikam", s.ID, "session")
		before, err := st.TTL(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		r := requestWith("fabrikam", cookieFrom(t, rec, CookieName))
		for range 5 {
			if _, err := m.Get(ctx, r, "fabrikam"); err != nil {
				t.Fatal(err)
			}
		}
		after, err := st.TTL(ctx, key)
		if err != nil || after > before {
			t.Fatalf("TTL %v -> %v (%v): Get extended it", before, after, err)
		}
	})
}

func TestDelete(t *testing.T) {
	backends.Each(t, func(t *testing.T, st store.Store, clock *storetest.Clock) {
		ctx := context.Background()
		m := NewManager(st, testOptions(clock.Now, true))
		rec := httptest.NewRecorder()
		s, err := m.Create(ctx, rec, "fabrikam", newSession(), time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		old := cookieFrom(t, rec, CookieName)
		del := httptest.NewRecorder()
		if err := m.Delete(ctx, del, requestWith("fabrikam", old), "fabrikam"); err != nil {
			t.Fatal(err)
		}
		cleared := cookieFrom(t, del, CookieName)
		if cleared.MaxAge >= 0 || cleared.Value != "" || cleared.Path != "/fabrikam" || !cleared.HttpOnly || !cleared.Secure {
			t.Fatalf("cleared cookie = %+v", cleared)
		}
		if _, err := st.Get(ctx, store.TagKey("fabrikam", s.ID, "session")); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("record after Delete: %v", err)
		}
		// A copy of the old cookie no longer works.
		if _, err := m.Get(ctx, requestWith("fabrikam", old), "fabrikam"); !errors.Is(err, ErrNoSession) {
			t.Fatalf("old cookie after Delete: %v", err)
		}
		// Logging out without a session is fine and still clears.
		del2 := httptest.NewRecorder()
		if err := m.Delete(ctx, del2, requestWith("fabrikam"), "fabrikam"); err != nil {
			t.Fatal(err)
		}
		cookieFrom(t, del2, CookieName)

		// DeleteByID.
		rec3 := httptest.NewRecorder()
		s3, err := m.Create(ctx, rec3, "fabrikam", newSession(), time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if err := m.DeleteByID(ctx, "fabrikam", s3.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := m.Get(ctx, requestWith("fabrikam", cookieFrom(t, rec3, CookieName)), "fabrikam"); !errors.Is(err, ErrNoSession) {
			t.Fatalf("after DeleteByID: %v", err)
		}
	})
}

func TestBadCookiesAreRefused(t *testing.T) {
	backends.Each(t, func(t *testing.T, st store.Store, clock *storetest.Clock) {
		ctx := context.Background()
		m := NewManager(st, testOptions(clock.Now, false))
		rec := httptest.NewRecorder()
		s, err := m.Create(ctx, rec, "fabrikam", newSession(), time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		good := cookieFrom(t, rec, CookieName)

		other := NewManager(st, Options{HashKey: []byte("another-hash-key-another-hash-ke"), BlockKey: testBlock, Clock: clock.Now})
		otherRec := httptest.NewRecorder()
		if _, err := other.Create(ctx, otherRec, "fabrikam", newSession(), time.Hour); err != nil {
			t.Fatal(err)
		}

		for name, value := range map[string]string{
			"tampered":    alter(good.Value),
			"truncated":   good.Value[:len(good.Value)-4],
			"raw id":      s.ID,
			"empty":       "",
			"garbage":     "not-a-cookie",
			"other keys":  cookieFrom(t, otherRec, CookieName).Value,
			"huge":        strings.Repeat("A", 10000),
			"flow cookie": flowCookieValue(t, clock),
		} {
			r := requestWith("fabrikam", &http.Cookie{Name: CookieName, Value: value})
			if _, err := m.Get(ctx, r, "fabrikam"); !errors.Is(err, ErrNoSession) {
				t.Errorf("%s cookie: %v, want ErrNoSession", name, err)
			}
		}
		if _, err := m.Get(ctx, requestWith("fabrikam"), "fabrikam"); !errors.Is(err, ErrNoSession) {
			t.Errorf("no cookie: %v", err)
		}
	})
}

// flowCookieValue is a valid flow cookie of the same tenant and keys: it
// must not pass as a session cookie.
func flowCookieValue(t *testing.T, clock *storetest.Clock) string {
	f := NewFlows(testOptions(clock.Now, false))
	rec := httptest.NewRecorder()
	if _, err := f.Ensure(rec, requestWith("fabrikam"), "fabrikam"); err != nil {
		t.Fatal(err)
	}
	return cookieFrom(t, rec, FlowCookieName).Value
}

func TestStoreOutageIsNotNoSession(t *testing.T) {
	srv := redistest.Start(t)
	if srv.External() {
		t.Skip("needs a private redis-server to stop")
	}
	st, err := redisstore.New(redisstore.Options{Addrs: []string{srv.Addr}, KeyPrefix: redistest.KeyPrefix(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	m := NewManager(st, testOptions(nil, false))
	rec := httptest.NewRecorder()
	if _, err := m.Create(ctx, rec, "fabrikam", newSession(), time.Hour); err != nil {
		t.Fatal(err)
	}
	r := requestWith("fabrikam", cookieFrom(t, rec, CookieName))
	srv.Stop()
	_, err = m.Get(ctx, r, "fabrikam")
	if err == nil || errors.Is(err, ErrNoSession) || !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("Get during an outage: %v; want a wrapped store.ErrUnavailable", err)
	}
	if _, err := m.Create(ctx, httptest.NewRecorder(), "fabrikam", newSession(), time.Hour); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("Create during an outage: %v", err)
	}
	del := httptest.NewRecorder()
	if err := m.Delete(ctx, del, r, "fabrikam"); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("Delete during an outage: %v", err)
	}
	if c := cookieFrom(t, del, CookieName); c.MaxAge >= 0 {
		t.Fatalf("Delete during an outage did not clear the cookie: %+v", c)
	}
	// Recovery: the server comes back (empty) and the manager works again.
	srv.Restart()
	if _, err := m.Get(ctx, r, "fabrikam"); !errors.Is(err, ErrNoSession) {
		t.Fatalf("Get after the restart of an empty Redis: %v, want ErrNoSession", err)
	}
}

func TestBadKeys(t *testing.T) {
	st := backendtest.Backends(backends.Redis)[0].Open(t, nil) // memory
	for name, o := range map[string]Options{
		"no keys":        {},
		"short hash key": {HashKey: []byte("short"), BlockKey: testBlock},
		"bad block key":  {HashKey: testHash, BlockKey: []byte("12345")},
		"no block key":   {HashKey: testHash},
	} {
		if err := o.Validate(); !errors.Is(err, ErrConfig) {
			t.Errorf("%s: Validate = %v", name, err)
		}
		m := NewManager(st, o)
		if _, err := m.Create(context.Background(), httptest.NewRecorder(), "fabrikam", newSession(), time.Hour); !errors.Is(err, ErrConfig) {
			t.Errorf("%s: Create = %v", name, err)
		}
		f := NewFlows(o)
		if _, err := f.Ensure(httptest.NewRecorder(), requestWith("fabrikam"), "fabrikam"); !errors.Is(err, ErrConfig) {
			t.Errorf("%s: Ensure = %v", name, err)
		}
	}
	if err := testOptions(nil, false).Validate(); err != nil {
		t.Fatal(err)
	}
}
