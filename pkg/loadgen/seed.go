package loadgen

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/guestpass/guestpass/pkg/adminclient"
	"github.com/guestpass/guestpass/pkg/canon"
	"github.com/guestpass/guestpass/pkg/guests"
	"github.com/guestpass/guestpass/pkg/store/redisstore"
)

// seedWorkers is how many invitations are in flight at once.
const seedWorkers = 32

// SeedGuests invites n guests, spread over the tenants in turn, and
// returns their addresses. With a Redis store they are written through
// pkg/guests to the servers' keyspace (what the admin API's invite does,
// without its HTTP and token round trips: 10^5 guests in seconds); with
// the memory store only the server can hold them, so they go through the
// admin API (client credentials of each tenant's bench-admin client).
func (t *Target) SeedGuests(ctx context.Context, n int) ([]Guest, error) {
	if !t.Started {
		return nil, errors.New("--guests needs a guestpass the tool starts (not --target)")
	}
	out := make([]Guest, n)
	for i := range out {
		out[i] = Guest{Email: fmt.Sprintf("guest-%d@bench.example", i), Tenant: i % len(t.Tenants)}
	}
	invite, closeFn, err := t.inviter(ctx)
	if err != nil {
		return nil, err
	}
	defer closeFn()
	var (
		next  atomic.Int64
		wg    sync.WaitGroup
		once  sync.Once
		first error
	)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for range seedWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				if err := invite(ctx, out[i]); err != nil {
					once.Do(func() { first = fmt.Errorf("invite %s: %w", out[i].Email, err); cancel() })
					return
				}
			}
		}()
	}
	wg.Wait()
	return out, first
}

// inviter returns how one guest is invited, and what to close after.
func (t *Target) inviter(ctx context.Context) (func(context.Context, Guest) error, func(), error) {
	if t.store.Type == "redis" {
		st, err := redisstore.New(redisstore.Options{Addrs: t.store.Addrs, Username: t.store.Username,
			Password: t.store.Password, DB: t.store.DB, KeyPrefix: t.store.KeyPrefix, PoolSize: seedWorkers})
		if err != nil {
			return nil, nil, err
		}
		repo := guests.NewRepo(st, t.codeKey, time.Now)
		return func(ctx context.Context, g Guest) error {
			a, err := canon.Email(g.Email)
			if err != nil {
				return err
			}
			_, _, err = repo.For(t.Tenants[g.Tenant].ID).Invite(ctx, a.Canonical, a.Canonical, "")
			return err
		}, func() { _ = st.Close() }, nil
	}
	hc := &http.Client{Timeout: requestTimeout, Transport: newTransport(nil)}
	clients := make([]*adminclient.Client, len(t.Tenants))
	for i, tn := range t.Tenants {
		c, err := adminclient.New(t.BaseURL+"/"+tn.ID, adminClientID, t.adminPass, hc)
		if err != nil {
			return nil, nil, err
		}
		// The client fetches its token on first use, unguarded: get it
		// here, before the workers share the client.
		if _, _, err := c.Policy(ctx); err != nil {
			return nil, nil, fmt.Errorf("admin API of %s: %w", tn.ID, err)
		}
		clients[i] = c
	}
	return func(ctx context.Context, g Guest) error {
		_, _, err := clients[g.Tenant].Invite(ctx, adminclient.InviteRequest{Email: g.Email})
		return err
	}, func() {}, nil
}
