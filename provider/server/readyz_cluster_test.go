package server_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/guestpass/guestpass/pkg/store/redistest"
)

// Issue 11 item 3: /readyz on a Redis Cluster answers 503 while one
// master holding slots is down (it used to ping whichever node answered),
// and 200 again once the master is back.
func TestReadyzClusterMasterDown(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a three-node cluster")
	}
	cl := redistest.StartClusterNodes(t)
	e := newEnv(t, envOptions{cluster: cl.Addrs})
	ready := func() int {
		t.Helper()
		c := &http.Client{Timeout: 10 * time.Second}
		resp, err := c.Get(e.base + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := ready(); got != http.StatusOK {
		t.Fatalf("/readyz with every master up: %d", got)
	}
	cl.Kill(1)
	if got := ready(); got != http.StatusServiceUnavailable {
		t.Errorf("/readyz with master %s down: %d, want 503", cl.Addrs[1], got)
	}
	cl.Restart(1)
	if got := ready(); got != http.StatusOK {
		t.Errorf("/readyz after the master restarted: %d", got)
	}
}
