package op

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"

	"github.com/guestpass/guestpass/pkg/store"
)

// An authorization request is stored at every /authorize hit, before
// anyone signs in, so both how long an untouched one is kept and how many
// one client can make are bounded (issue 11: one client made ~2,260/s,
// about 7 GB of Redis an hour when each was kept an hour).
//
// Lifetime: authRequestIdleTTL until the first sign-in page is shown (a
// request nobody follows is gone in 15 minutes), then authRequestStepTTL
// from that page (the guest's time to get and enter a code: codeTTL is
// 30 minutes); completing it is refused an hour after /authorize
// (authRequestTTL) whatever the record's TTL.
const (
	authRequestIdleTTL = 15 * time.Minute
	authRequestStepTTL = 45 * time.Minute
	// authorizeWindow is the window of the per-client-IP /authorize count.
	authorizeWindow = time.Minute
)

// errAuthorizeLimited means the client IP made more authorization
// requests this minute than the tenant allows: nothing was stored.
var errAuthorizeLimited = errors.New("too many authorization requests from this client")

// authorizeCountScript counts the client's /authorize hits in the current
// window. KEYS: the client's counter. ARGV: window ms. Returns {count}.
// The count and the request's save go in one pipeline (one round trip):
// they cannot share a script, since a request is keyed by its own id's
// hash tag (spread over a Cluster) and the counter by the client's.
var authorizeCountScript = store.NewScript(`
local n = redis.call('INCR', KEYS[1])
if n == 1 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
end
return {n}
`, func(tx store.Tx, keys, args []string) ([]int64, error) {
	if len(args) != 1 {
		return nil, fmt.Errorf("authorize count script: %d args, want 1", len(args))
	}
	ms, err := strconv.ParseInt(args[0], 10, 64)
	if err != nil {
		return nil, fmt.Errorf("authorize count script: %w", err)
	}
	n, err := tx.Incr(keys[0], 1, time.Duration(ms)*time.Millisecond)
	if err != nil {
		return nil, err
	}
	return []int64{n}, nil
})

// touchScript extends a stored auth request to ARGV[1] ms when it would
// expire sooner (it never shortens one); a request that is gone stays
// gone. KEYS: the auth request. Returns {1} when extended.
var touchScript = store.NewScript(`
local t = redis.call('PTTL', KEYS[1])
if t > 0 and t < tonumber(ARGV[1]) then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  return {1}
end
return {0}
`, func(tx store.Tx, keys, args []string) ([]int64, error) {
	ms, err := strconv.ParseInt(args[0], 10, 64)
	if err != nil {
		return nil, fmt.Errorf("touch script: %w", err)
	}
	want := time.Duration(ms) * time.Millisecond
	left, err := tx.TTL(keys[0])
	if errors.Is(err, store.ErrNotFound) {
		return []int64{0}, nil
	}
	if err != nil || left <= 0 || left >= want {
		return []int64{0}, err
	}
	v, err := tx.Get(keys[0])
	if err != nil {
		return nil, err
	}
	return []int64{1}, tx.Set(keys[0], v, want)
})

// saveAuthRequest stores a new auth request for its first
// authRequestIdleTTL, refusing one whose stored form would exceed
// maxStoredAuthRequest whatever the parameters. client is the key of the
// client's address for the per-IP limit ("" or a limit of 0: none).
func (s *storage) saveAuthRequest(ctx context.Context, a *AuthRequest, client string) error {
	b, err := json.Marshal(a)
	if err != nil {
		return fmt.Errorf("encode auth request: %w", err)
	}
	if len(b) > maxStoredAuthRequest {
		return oidc.ErrInvalidRequest().WithDescription("the authorization request is too large")
	}
	key := s.k("authreq", a.ID)
	if client == "" || s.authorizePerIP <= 0 {
		if err := s.st.Set(ctx, key, b, authRequestIdleTTL); err != nil {
			return fmt.Errorf("save auth request: %w", err)
		}
		return nil
	}
	count := store.RunOp(authorizeCountScript, []string{s.k("authorize-ip", client)}, ms(authorizeWindow))
	if err := s.st.Pipeline(ctx, count, store.SetOp(key, b, authRequestIdleTTL)); err != nil {
		return fmt.Errorf("save auth request: %w", err)
	}
	if len(count.Ints) != 1 {
		return fmt.Errorf("save auth request: count script answered %v", count.Ints)
	}
	if count.Ints[0] > int64(s.authorizePerIP) {
		// Over the limit: the request saved beside the count is taken
		// back, a round trip that only a client over its limit pays.
		if err := s.st.Delete(ctx, key); err != nil {
			return fmt.Errorf("withdraw auth request: %w", err)
		}
		return errAuthorizeLimited
	}
	return nil
}

func ms(d time.Duration) string { return strconv.FormatInt(d.Milliseconds(), 10) }

// TouchAuthRequestOp extends the request's lifetime to authRequestStepTTL
// once a sign-in page is shown for it, as an op of that page's batch (no
// round trip of its own). An id that cannot name a request needs no op.
func (t *Tenant) TouchAuthRequestOp(id string) *store.Op {
	if !validRequestID(id) {
		return nil
	}
	return store.RunOp(touchScript, []string{t.storage.k("authreq", id)}, ms(authRequestStepTTL))
}
