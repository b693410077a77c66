package server_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/guestpass/guestpass/pkg/store/redisstore"
	"github.com/guestpass/guestpass/pkg/store/redistest"
)

// maxSignInRoundTrips is the budget of Redis round trips for one complete
// passcode sign-in (authorize → pages → code → token); README states it.
const maxSignInRoundTrips = 12

// countHook counts Redis round trips: each command and each pipeline is one.
type countHook struct{ n atomic.Int64 }

func (h *countHook) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *countHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.n.Add(1)
		return next(ctx, cmd)
	}
}
func (h *countHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.n.Add(1)
		return next(ctx, cmds)
	}
}

func TestSignInRedisRoundTrips(t *testing.T) {
	e := newEnv(t, envOptions{redis: redistest.Start(t)})
	invite(t, e, "fabrikam", "rt@guest.example", "Round Trip")
	// Warm up: discovery and the tenant's signing key are not part of a
	// sign-in's cost once the server runs.
	r := newRP(t, e, "fabrikam", "portal", "portal-secret")
	clientCredentials(t, e, "fabrikam", "admin", "admin-secret")

	h := &countHook{}
	e.store.(*redisstore.Store).Client().AddHook(h)
	b := newBrowser(t)
	r.callback(t, e, "fabrikam", signIn(t, e, b, r.authURL(), "rt@guest.example"))
	n := h.n.Load()
	t.Logf("one complete passcode sign-in: %d Redis round trips", n)
	if n > maxSignInRoundTrips {
		t.Fatalf("%d round trips, budget %d", n, maxSignInRoundTrips)
	}
}
