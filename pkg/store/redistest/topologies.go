package redistest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/guestpass/guestpass/pkg/proctest"
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

	tb    testing.TB
	nodes []*clusterNode
}

// clusterNode keeps what a restart needs: the same port and the same
// nodes.conf, so the node rejoins with its identity and its slots.
type clusterNode struct {
	addr string
	args []string
	proc proctest.Current
}

// StartClusterNodes is StartCluster for tests that kill nodes.
func StartClusterNodes(t testing.TB) *Cluster {
	t.Helper()
	if _, err := exec.LookPath("redis-cli"); err != nil {
		t.Fatalf("redis-cli (Debian package redis-tools, with redis-server) is needed: %v", err)
	}
	c := &Cluster{tb: t}
	for i := 0; i < 3; i++ {
		addr := freeAddr(t)
		dir := t.TempDir()
		n := &clusterNode{addr: addr, args: []string{"--cluster-enabled", "yes",
			"--cluster-config-file", dir + "/nodes.conf", "--save", "", "--appendonly", "no"}}
		n.proc.Set(startNode(t, addr, n.args...))
		c.nodes = append(c.nodes, n)
		c.Addrs = append(c.Addrs, addr)
	}
	args := append([]string{"--cluster", "create"}, c.Addrs...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	if out, err := exec.Command("redis-cli", args...).CombinedOutput(); err != nil {
		t.Fatalf("cluster create: %v\n%s", err, out)
	}
	c.waitOK()
	return c
}

// Kill stops master i with SIGKILL (an outage) and waits until it exited.
// With no replicas its slots stay assigned to it: the Cluster serves the
// other masters' slots and not its own until Restart.
func (c *Cluster) Kill(i int) { c.nodes[i].proc.Kill() }

// Restart starts master i again on its port with its nodes.conf, and
// waits until every node agrees the Cluster is up again.
func (c *Cluster) Restart(i int) {
	c.tb.Helper()
	n := c.nodes[i]
	n.proc.Kill()
	n.proc.Set(startNode(c.tb, n.addr, n.args...))
	c.waitOK()
}

// waitOK waits until every node reports cluster_state:ok.
func (c *Cluster) waitOK() {
	c.tb.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for _, a := range c.Addrs {
		for {
			out, _ := exec.Command("redis-cli", "-h", "127.0.0.1", "-p", strings.Split(a, ":")[1], "cluster", "info").Output()
			if strings.Contains(string(out), "cluster_state:ok") {
				break
			}
			if time.Now().After(deadline) {
				c.tb.Fatalf("cluster not ready:\n%s", out)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

func waitClusterNode(t testing.TB, addr string) {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr})
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for c.Ping(context.Background()).Err() != nil {
		if time.Now().After(deadline) {
			t.Fatalf("redis-server at %s did not start", addr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// StartSentinel starts a private master and one Sentinel watching it
// under masterName, and returns the Sentinel's address.
func StartSentinel(t testing.TB, masterName string) string {
	t.Helper()
	master := freeAddr(t)
	startNode(t, master, "--save", "", "--appendonly", "no")
	sentinel := freeAddr(t)
	dir := t.TempDir()
	conf := fmt.Sprintf("port %s\nbind 127.0.0.1\nsentinel monitor %s 127.0.0.1 %s 1\n",
		strings.Split(sentinel, ":")[1], masterName, strings.Split(master, ":")[1])
	if err := os.WriteFile(dir+"/sentinel.conf", []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("redis-server", dir+"/sentinel.conf", "--sentinel")
	cmd.Dir = dir
	proc, err := proctest.Start(cmd)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(proc.Kill)
	waitClusterNode(t, sentinel)
	return sentinel
}

func freeAddr(t testing.TB) string {
	ports, err := proctest.FreePorts(1)
	if err != nil {
		t.Fatal(err)
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[0]))
}

// startNode starts a redis-server on addr, waits until it answers and
// returns it, killed at the end of the test at the latest.
func startNode(t testing.TB, addr string, args ...string) *proctest.Proc {
	t.Helper()
	dir := t.TempDir()
	all := append([]string{"--port", strings.Split(addr, ":")[1], "--bind", "127.0.0.1", "--dir", dir}, args...)
	cmd := exec.Command("redis-server", all...)
	proc, err := proctest.Start(cmd)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(proc.Kill) // a no-op once killed
	waitClusterNode(t, addr)
	return proc
}
