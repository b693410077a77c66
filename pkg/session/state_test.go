package session

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

type testState struct {
	Email   string `json:"e"`
	Allowed bool   `json:"a"`
}

func TestStateBoundToTenantFlowAndKey(t *testing.T) {
	now := time.Now()
	f := NewFlows(Options{HashKey: make([]byte, 32), BlockKey: make([]byte, 32), Clock: func() time.Time { return now }})
	rec := httptest.NewRecorder()
	if err := f.SetState(rec, "fabrikam", "flow-1", "req-1", testState{"a@b.example", true}); err != nil {
		t.Fatal(err)
	}
	cookies := rec.Result().Cookies()
	if len(cookies) != 1 || !cookies[0].HttpOnly || cookies[0].Path != "/fabrikam" || cookies[0].SameSite != http.SameSiteLaxMode {
		t.Fatalf("cookie = %+v", cookies)
	}
	req := httptest.NewRequest(http.MethodGet, "/fabrikam/login", nil)
	req.AddCookie(cookies[0])

	var got testState
	if err := f.State(req, "fabrikam", "flow-1", "req-1", &got); err != nil || got.Email != "a@b.example" || !got.Allowed {
		t.Fatalf("state = %+v, %v", got, err)
	}
	for _, tc := range []struct{ tenant, flow, key string }{
		{"contoso", "flow-1", "req-1"},  // another tenant
		{"fabrikam", "flow-2", "req-1"}, // another browser's flow
	} {
		if err := f.State(req, tc.tenant, tc.flow, tc.key, &got); err == nil {
			t.Fatalf("state decoded for %+v", tc)
		}
	}
	// Another sign-in of the same flow looks for another cookie.
	if err := f.State(req, "fabrikam", "flow-1", "req-2", &got); err == nil {
		t.Fatal("state decoded for another auth request")
	}
	// Tampering is refused.
	bad := *cookies[0]
	bad.Value = bad.Value[:len(bad.Value)-2] + "xx"
	req2 := httptest.NewRequest(http.MethodGet, "/fabrikam/login", nil)
	req2.AddCookie(&bad)
	if err := f.State(req2, "fabrikam", "flow-1", "req-1", &got); err == nil {
		t.Fatal("tampered state accepted")
	}
	// It expires with the flow.
	now = now.Add(FlowLifetime + time.Second)
	if err := f.State(req, "fabrikam", "flow-1", "req-1", &got); err == nil {
		t.Fatal("expired state accepted")
	}
}
