package tiered_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rediware/rediware/internal/redistest"
	"github.com/rediware/rediware/store/cache"
	"github.com/rediware/rediware/store/goredis"
	"github.com/rediware/rediware/store/tiered"
)

// On Redis Cluster, PUBLISH reaches subscribers connected to any node, so
// two instances whose subscriptions land on different nodes stay coherent.
func TestCache_on_cluster(t *testing.T) {
	cl := redistest.SharedCluster(t)
	ctx := t.Context()
	received := make(chan string, 64)
	mk := func(hook cache.Hook) *tiered.Cache[string] {
		c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: cl.Addrs()})
		t.Cleanup(func() { c.Close() })
		return start(t, cache.New(goredis.New(c), cache.Options[string]{Codec: cache.String(), Prefix: "tcl:"}), tiered.Options[string]{Hook: hook})
	}
	a := mk(nil)
	b := mk(func(e cache.Event) {
		if e.Kind == cache.Invalidate && e.Op == "delete" {
			received <- e.Key
		}
	})
	for i := range 20 {
		k := fmt.Sprint("k", i%4) // keys on several slots
		want := fmt.Sprint("v", i)
		if err := a.Set(ctx, k, want, time.Minute); err != nil {
			t.Fatal(err)
		}
		select {
		case <-received:
		case <-time.After(20 * time.Second):
			t.Fatal("invalidation not received across the cluster")
		}
		if v, _, _ := b.Get(ctx, k); v != want {
			t.Fatalf("B = %q, want %q", v, want)
		}
	}
}
