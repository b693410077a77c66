package op

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"

	"github.com/guestpass/guestpass/pkg/store/memory"
)

// The stored auth request has a size cap of its own, whatever reaches
// CreateAuthRequest (a backstop for the /authorize bounds, which the
// server tests cover): a request that would store more is refused with
// invalid_request.
func TestStoredAuthRequestCap(t *testing.T) {
	st := memory.New(nil)
	defer st.Close()
	s := &storage{tenant: "fabrikam", st: st, clock: time.Now, clients: map[string]*client{
		"portal": newClient("fabrikam", Client{ID: "portal", Secret: "s", RedirectURIs: []string{"https://app.example/cb"}}),
	}}
	req := func(prompts int) *oidc.AuthRequest {
		return &oidc.AuthRequest{ClientID: "portal", RedirectURI: "https://app.example/cb", ResponseType: oidc.ResponseTypeCode,
			Scopes: []string{"openid"}, Prompt: strings.Fields(strings.Repeat("login ", prompts))}
	}
	a, err := s.CreateAuthRequest(context.Background(), req(1), "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Get(context.Background(), s.k("authreq", a.GetID())); err != nil {
		t.Fatalf("a normal request was not stored: %v", err)
	}
	_, err = s.CreateAuthRequest(context.Background(), req(maxStoredAuthRequest/6), "")
	var oe *oidc.Error
	if !errors.As(err, &oe) || oe.ErrorType != oidc.InvalidRequest {
		t.Fatalf("oversized record: %v, want invalid_request", err)
	}
}
