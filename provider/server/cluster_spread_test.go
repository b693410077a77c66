package server_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/guestpass/guestpass/pkg/store/redistest"
)

// One tenant is not held to one Cluster node (issue 11, item 5): after a
// dozen sign-ins of one tenant on a real three-master Cluster, that
// tenant's keys (authorization requests, codes, tokens, sessions, tagged
// by their own ids) are on every master, read from each master itself.
func TestClusterSpreadsOneTenant(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a three-node cluster")
	}
	masters := redistest.StartCluster(t)
	e := newEnv(t, envOptions{cluster: masters})
	r := newRP(t, e, "contoso", "portal", "contoso-secret")
	for i := range 12 {
		addr := fmt.Sprintf("spread%02d@guest.example", i)
		r.callback(t, e, "contoso", signIn(t, e, newBrowser(t), r.authURL(), addr))
	}
	ctx := context.Background()
	total := 0
	for _, m := range masters {
		c := redis.NewClient(&redis.Options{Addr: m})
		keys, err := c.Keys(ctx, "*").Result()
		_ = c.Close()
		if err != nil {
			t.Fatalf("keys of %s: %v", m, err)
		}
		n := 0
		for _, k := range keys {
			if strings.Contains(k, "{contoso") {
				n++
			}
		}
		t.Logf("master %s holds %d of contoso's keys", m, n)
		if n == 0 {
			t.Errorf("master %s holds none of contoso's keys: the tenant is held to fewer nodes", m)
		}
		total += n
	}
	if total < 12 {
		t.Fatalf("only %d keys of contoso in the cluster", total)
	}
}
