package server_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/guestpass/guestpass/pkg/store"
	"github.com/guestpass/guestpass/pkg/store/redistest"
)

// refreshCall presents a refresh token as the portal client.
func refreshCall(t *testing.T, e *env, tok string) (int, map[string]any) {
	t.Helper()
	resp, body := call(t, e, http.MethodPost, "fabrikam", "/oauth/token",
		url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok}}, "portal", "portal-secret", nil)
	var m map[string]any
	_ = json.Unmarshal([]byte(body), &m)
	return resp.StatusCode, m
}

// Presenting one refresh token several times at once (a replay racing the
// real client) yields at most one new pair, and ends the family: the
// rotation's swap goes out with the new tokens' save, so the
// loser's revocation must also end what the winner got.
func TestSecRefreshReplayRace(t *testing.T) {
	e := newEnv(t, envOptions{redis: redistest.Start(t)})
	r, b, tok := signedInTokens(t, e)
	// Several rounds, each a new family (the browser's session signs in
	// again): one round may see no two presentations overlap.
	for round := range 4 {
		if round > 0 {
			tok, _ = r.callback(t, e, "fabrikam", b.get(r.authURL()))
		}
		replayRace(t, e, tok.RefreshToken)
	}
}

func replayRace(t *testing.T, e *env, refresh string) {
	t.Helper()
	const n = 32
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		wins  []map[string]any
		start = make(chan struct{})
	)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			if status, m := refreshCall(t, e, refresh); status == http.StatusOK {
				mu.Lock()
				wins = append(wins, m)
				mu.Unlock()
			}
		}()
	}
	close(start)
	wg.Wait()
	if len(wins) > 1 {
		t.Fatalf("%d of %d presentations of one refresh token got new tokens", len(wins), n)
	}
	for _, m := range wins {
		if status, _ := refreshCall(t, e, m["refresh_token"].(string)); status == http.StatusOK {
			t.Fatal("the refresh token issued in a replay race still works")
		}
		_, body := call(t, e, http.MethodPost, "fabrikam", "/oauth/introspect",
			url.Values{"token": {m["access_token"].(string)}}, "portal", "portal-secret", nil)
		if !strings.Contains(body, `"active":false`) {
			t.Fatalf("the access token issued in a replay race is still active: %s", body)
		}
	}
}

// The refresh grant reads its family's revoked mark in the same round trip
// as the token, and fails closed as userinfo does: a mark that cannot be
// read (a Redis WRONGTYPE: the key holds a hash) is a 503, never new
// tokens; the token itself is not spent, and works once the mark reads.
func TestSecRefreshFamilyMarkFailsClosed(t *testing.T) {
	e := newEnv(t, envOptions{redis: redistest.Start(t)})
	_, _, tok := signedInTokens(t, e)
	mark := store.TagKey("fabrikam", accessTokenFamily(t, tok.AccessToken), "rtf-revoked")
	if err := e.store.HSet(bg(), mark, "x", []byte("1")); err != nil {
		t.Fatal(err)
	}
	status, m := refreshCall(t, e, tok.RefreshToken)
	if status != http.StatusServiceUnavailable || m["error"] != "temporarily_unavailable" || m["access_token"] != nil {
		t.Fatalf("refresh with an unreadable revoked mark: %d %v, want 503 temporarily_unavailable", status, m["error"])
	}
	if err := e.store.Delete(bg(), mark); err != nil {
		t.Fatal(err)
	}
	if status, m := refreshCall(t, e, tok.RefreshToken); status != http.StatusOK {
		t.Fatalf("refresh once the mark reads: %d %v", status, m["error"])
	}
}
