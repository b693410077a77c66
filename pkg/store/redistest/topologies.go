package redistest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/guestpass/guestpass/pkg/redisproc"
)

// StartCluster starts a three-master Redis Cluster of private
// redis-server processes and returns their addresses.
func StartCluster(t testing.TB) []string {
	t.Helper()
	return StartClusterNodes(t).Addrs
}

// Cluster is a private three-master Redis Cluster (no replicas) whose
// masters a test may kill and restart one at a time: a node outage.
type Cluster struct {
	// Addrs are the masters' addresses, in creation order.
	Addrs []string

	tb testing.TB
	// nodes restart on their own port with their own nodes.conf, so that
	// each rejoins with its identity and its slots.
	nodes []*redisproc.Server
}

// StartClusterNodes is StartCluster for tests that kill nodes.
func StartClusterNodes(t testing.TB) *Cluster {
	t.Helper()
	if _, err := exec.LookPath("redis-cli"); err != nil {
		t.Fatalf("redis-cli (Debian package redis-tools, with redis-server) is needed: %v", err)
	}
	c := &Cluster{tb: t}
	for i := 0; i < 3; i++ {
		dir := t.TempDir()
		n := startNode(t, redisproc.Options{Dir: dir, Args: append(redisproc.ClusterArgs(), "--save", "", "--appendonly", "no")})
		c.nodes = append(c.nodes, n)
		c.Addrs = append(c.Addrs, n.Addr)
	}
	if err := redisproc.FormCluster(context.Background(), c.Addrs); err != nil {
		t.Fatalf("redistest: %v", err)
	}
	return c
}

// Kill stops master i with SIGKILL (an outage) and waits until it exited.
// With no replicas its slots stay assigned to it: the Cluster serves the
// other masters' slots and not its own until Restart.
func (c *Cluster) Kill(i int) { c.nodes[i].Stop() }

// Restart starts master i again on its port with its nodes.conf, and
// waits until every node agrees the Cluster is up again.
func (c *Cluster) Restart(i int) {
	c.tb.Helper()
	if err := c.nodes[i].Restart(context.Background()); err != nil {
		c.tb.Fatalf("redistest: restart cluster node %d: %v", i, err)
	}
	if err := redisproc.WaitCluster(context.Background(), c.Addrs); err != nil {
		c.tb.Fatalf("redistest: %v", err)
	}
}

// StartSentinel starts a private master and one Sentinel watching it
// under masterName, and returns the Sentinel's address.
func StartSentinel(t testing.TB, masterName string) string {
	t.Helper()
	master := startNode(t, redisproc.Options{Dir: t.TempDir(), Args: []string{"--save", "", "--appendonly", "no"}}).Addr
	// The Sentinel rewrites its config file (its state), so it has one;
	// its port and bind come from redisproc's arguments.
	dir := t.TempDir()
	conf := fmt.Sprintf("sentinel monitor %s 127.0.0.1 %s 1\n", masterName, strings.Split(master, ":")[1])
	if err := os.WriteFile(dir+"/sentinel.conf", []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	return startNode(t, redisproc.Options{Dir: dir, Config: dir + "/sentinel.conf", Args: []string{"--sentinel"}}).Addr
}

// startNode starts a redis-server on a free port and returns it once it
// answers, stopped at the end of the test at the latest.
func startNode(t testing.TB, o redisproc.Options) *redisproc.Server {
	t.Helper()
	n, err := redisproc.Start(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.Stop) // a no-op once stopped
	return n
}
