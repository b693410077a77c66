package redisstore_test

import (
	"context"
	"errors"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/guestpass/guestpass/pkg/store"
	"github.com/guestpass/guestpass/pkg/store/redisstore"
	"github.com/guestpass/guestpass/pkg/store/redistest"
	"github.com/guestpass/guestpass/pkg/store/storetest"
)

// TestClusterConformance runs the store conformance suite against a real
// Redis Cluster: several addrs select go-redis's cluster client, and the
// hash tags (Key's tenant, TagKey's tenant and tag) keep the keys of every
// multi-key command and script in one slot.
func TestClusterConformance(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a three-node cluster")
	}
	addrs := redistest.StartCluster(t)
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := redisstore.New(redisstore.Options{Addrs: addrs, KeyPrefix: redistest.KeyPrefix(t)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		if _, ok := s.Client().(*redis.ClusterClient); !ok {
			t.Fatalf("several addrs gave a %T, want a cluster client", s.Client())
		}
		return s
	})
}

// TestSentinelConformance: addrs of Sentinels plus masterName select
// go-redis's failover client, which finds the master through Sentinel.
func TestSentinelConformance(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a master and a sentinel")
	}
	sentinel := redistest.StartSentinel(t, "gp-master")
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := redisstore.New(redisstore.Options{Addrs: []string{sentinel}, MasterName: "gp-master", KeyPrefix: redistest.KeyPrefix(t)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		return s
	})
}

// TestClusterPingEveryMaster: readiness on a Cluster must fail while any
// master holding slots is down, not only when the node the client happens
// to ask is. One master of the private Cluster is killed (no replica
// takes over), then restarted.
func TestClusterPingEveryMaster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a three-node cluster")
	}
	cl := redistest.StartClusterNodes(t)
	s, err := redisstore.New(redisstore.Options{Addrs: cl.Addrs, KeyPrefix: redistest.KeyPrefix(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	ctx := context.Background()
	if err := s.Ping(ctx); err != nil {
		t.Fatalf("Ping with every master up: %v", err)
	}
	for i := range cl.Addrs {
		cl.Kill(i)
		err := s.Ping(ctx)
		if !errors.Is(err, store.ErrUnavailable) {
			t.Fatalf("Ping with master %d (%s) down: %v; want store.ErrUnavailable", i, cl.Addrs[i], err)
		}
		cl.Restart(i)
		if err := s.Ping(ctx); err != nil {
			t.Fatalf("Ping after master %d restarted: %v", i, err)
		}
	}
}
