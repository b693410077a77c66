package redisproc

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// ClusterArgs are the arguments that make a server a Cluster node. Its
// cluster state, nodes.conf, is kept in its --dir (Redis works there),
// so a restart rejoins with its identity and slots.
func ClusterArgs() []string {
	return []string{"--cluster-enabled", "yes"}
}

// FormCluster makes the started nodes at addrs one Cluster of masters
// only (redis-cli --cluster create, which must be on PATH) and returns
// once every node reports it up (WaitCluster).
func FormCluster(ctx context.Context, addrs []string) error {
	args := append([]string{"--cluster", "create"}, addrs...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	if out, err := exec.CommandContext(ctx, "redis-cli", args...).CombinedOutput(); err != nil {
		return fmt.Errorf("redis-cli --cluster create: %w\n%s", err, out)
	}
	return WaitCluster(ctx, addrs)
}

// WaitCluster waits, at most StartTimeout, until every node at addrs
// reports cluster_state:ok.
func WaitCluster(ctx context.Context, addrs []string) error {
	deadline := time.Now().Add(StartTimeout)
	for _, a := range addrs {
		c := redis.NewClient(&redis.Options{Addr: a, MaxRetries: -1, PoolSize: 1, DisableIdentity: true})
		err := waitClusterOK(ctx, c, deadline)
		_ = c.Close()
		if err != nil {
			return fmt.Errorf("redis cluster node %s: %w", a, err)
		}
	}
	return nil
}

func waitClusterOK(ctx context.Context, c *redis.Client, deadline time.Time) error {
	for {
		info, err := c.ClusterInfo(ctx).Result()
		if err == nil && strings.Contains(info, "cluster_state:ok") {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not ready within %v (%v):\n%s", StartTimeout, err, info)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
