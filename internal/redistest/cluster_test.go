package redistest_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rediware/rediware/internal/redistest"
)

func clusterClient(t *testing.T, c *redistest.Cluster) *redis.ClusterClient {
	t.Helper()
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs(), MaxRedirects: 3})
	t.Cleanup(func() { cc.Close() })
	return cc
}

func nodeClient(t *testing.T, s *redistest.Server) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: s.Addr(), MaxRetries: -1})
	t.Cleanup(func() { c.Close() })
	return c
}

// writeKeys sets n keys named prefix:i through cc, reads them back, and
// checks that every master holds some of them.
func writeKeys(t *testing.T, c *redistest.Cluster, cc *redis.ClusterClient, prefix string, n int) {
	t.Helper()
	for i := range n {
		k := fmt.Sprintf("%s:%d", prefix, i)
		if err := cc.Set(t.Context(), k, k, 0).Err(); err != nil {
			t.Fatalf("SET %s: %v", k, err)
		}
	}
	total := 0
	for _, s := range c.Masters() {
		keys, _, err := nodeClient(t, s).Scan(t.Context(), 0, prefix+":*", 100000).Result()
		if err != nil {
			t.Fatalf("%s: SCAN: %v", s.Addr(), err)
		}
		if len(keys) == 0 {
			t.Errorf("master %s holds no %s keys; keys are not spread over the cluster", s.Addr(), prefix)
		}
		total += len(keys)
	}
	if total != n {
		t.Errorf("masters hold %d %s keys in total, want %d", total, prefix, n)
	}
	for i := range n {
		k := fmt.Sprintf("%s:%d", prefix, i)
		if got, err := cc.Get(t.Context(), k).Result(); err != nil || got != k {
			t.Fatalf("GET %s = %q, %v", k, got, err)
		}
	}
}

func TestSharedCluster_is_ok_with_three_masters(t *testing.T) {
	t.Parallel()
	c := redistest.SharedCluster(t)
	if len(c.Addrs()) != 3 || len(c.Masters()) != 3 {
		t.Fatalf("Addrs() = %v, %d masters; want 3", c.Addrs(), len(c.Masters()))
	}
	for _, s := range c.Masters() {
		nc := nodeClient(t, s)
		info, err := nc.ClusterInfo(t.Context()).Result()
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"cluster_state:ok", "cluster_size:3", "cluster_known_nodes:3", "cluster_slots_ok:16384"} {
			if !strings.Contains(info, want) {
				t.Errorf("%s: CLUSTER INFO lacks %q:\n%s", s.Addr(), want, info)
			}
		}
		nodes, err := nc.ClusterNodes(t.Context()).Result()
		if err != nil {
			t.Fatal(err)
		}
		if n := strings.Count(nodes, "master"); n != 3 {
			t.Errorf("%s: CLUSTER NODES lists %d masters, want 3:\n%s", s.Addr(), n, nodes)
		}
	}
}

func TestSharedCluster_ClusterClient_routes_keys(t *testing.T) {
	t.Parallel()
	c := redistest.SharedCluster(t)
	writeKeys(t, c, clusterClient(t, c), "routes", 300)
}

func TestSharedCluster_flushes_data_and_scripts_on_each_call(t *testing.T) {
	// Not parallel: the flush only happens while no other test uses the cluster.
	c := redistest.SharedCluster(t)
	cc := clusterClient(t, c)
	if err := cc.Set(t.Context(), "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	sha, err := cc.ScriptLoad(t.Context(), "return 1").Result()
	if err != nil {
		t.Fatal(err)
	}
	redistest.SharedCluster(t)
	if n, err := cc.Exists(t.Context(), "k").Result(); err != nil || n != 0 {
		t.Errorf("EXISTS k after SharedCluster = %d, %v; want 0", n, err)
	}
	for _, s := range c.Masters() {
		ok, err := nodeClient(t, s).ScriptExists(t.Context(), sha).Result()
		if err != nil || ok[0] {
			t.Errorf("%s: SCRIPT EXISTS after SharedCluster = %v, %v; want false", s.Addr(), ok, err)
		}
	}
}

func TestSharedCluster_concurrent_users_are_not_flushed(t *testing.T) {
	t.Parallel()
	c := redistest.SharedCluster(t)
	cc := clusterClient(t, c)
	if err := cc.Set(t.Context(), "concurrent:setup", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			t.Parallel()
			redistest.SharedCluster(t) // the parent still uses it: no flush
			if n, err := cc.Exists(t.Context(), "concurrent:setup").Result(); err != nil || n != 1 {
				t.Errorf("EXISTS concurrent:setup = %d, %v; want 1 (flushed under a running test)", n, err)
			}
		})
	}
}

func TestStartCluster_killed_node_rejoins_after_Restart(t *testing.T) {
	t.Parallel()
	// One cluster for both cases, to pay for forming it once. The short node
	// timeout (set WithArgs) lets the others mark a dead node FAIL quickly.
	c := redistest.StartCluster(t, redistest.WithArgs("--cluster-node-timeout", "500"))
	cc := clusterClient(t, c)
	writeKeys(t, c, cc, "before", 100)

	t.Run("quick restart", func(t *testing.T) {
		node := c.Masters()[1]
		node.Kill()
		if node.Running() {
			t.Fatal("Running() = true after Kill")
		}
		dialFails(t, node.Addr())
		start := time.Now()
		node.Restart()
		c.WaitOK(t)
		t.Logf("cluster ok %v after Restart", time.Since(start).Round(time.Millisecond))
		writeKeys(t, c, cc, "quick", 100)
	})

	t.Run("down past node timeout", func(t *testing.T) {
		node, peer := c.Masters()[2], nodeClient(t, c.Masters()[0])
		node.Kill()
		deadline := time.Now().Add(10 * time.Second)
		for {
			info, err := peer.ClusterInfo(t.Context()).Result()
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(info, "cluster_state:fail") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("cluster still ok 10s after a master was killed:\n%s", info)
			}
			time.Sleep(20 * time.Millisecond)
		}
		start := time.Now()
		node.Restart()
		c.WaitOK(t)
		t.Logf("cluster ok %v after Restart", time.Since(start).Round(time.Millisecond))
		writeKeys(t, c, cc, "long", 100)
	})
}
