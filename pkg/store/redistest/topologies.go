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
	if _, err := exec.LookPath("redis-cli"); err != nil {
		t.Fatalf("redis-cli (Debian package redis-tools, with redis-server) is needed: %v", err)
	}
	var addrs []string
	for i := 0; i < 3; i++ {
		addr := freeAddr(t)
		dir := t.TempDir()
		startNode(t, addr, "--cluster-enabled", "yes", "--cluster-config-file", dir+"/nodes.conf",
			"--save", "", "--appendonly", "no")
		addrs = append(addrs, addr)
	}
	args := append([]string{"--cluster", "create"}, addrs...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	if out, err := exec.Command("redis-cli", args...).CombinedOutput(); err != nil {
		t.Fatalf("cluster create: %v\n%s", err, out)
	}
	// Wait until every node agrees the cluster is up.
	deadline := time.Now().Add(20 * time.Second)
	for _, a := range addrs {
		for {
			out, _ := exec.Command("redis-cli", "-h", "127.0.0.1", "-p", strings.Split(a, ":")[1], "cluster", "info").Output()
			if strings.Contains(string(out), "cluster_state:ok") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("cluster not ready:\n%s", out)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return addrs
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

func startNode(t testing.TB, addr string, args ...string) {
	dir := t.TempDir()
	all := append([]string{"--port", strings.Split(addr, ":")[1], "--bind", "127.0.0.1", "--dir", dir}, args...)
	cmd := exec.Command("redis-server", all...)
	proc, err := proctest.Start(cmd)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(proc.Kill)
	waitClusterNode(t, addr)
}
