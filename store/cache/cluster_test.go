package cache_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rediware/rediware/internal/redistest"
	"github.com/rediware/rediware/store/cache"
	"github.com/rediware/rediware/store/goredis"
)

// On Redis Cluster, entries spread over every master while each tag's keys
// share one slot; pattern invalidation must reach every master.
func TestCache_on_cluster(t *testing.T) {
	cl := redistest.SharedCluster(t)
	newStore := func() *goredis.Store {
		c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: cl.Addrs()})
		t.Cleanup(func() { c.Close() })
		return goredis.New(c)
	}
	ctx := t.Context()
	s := newStore()
	c := cache.New(s, cache.Options[int]{Prefix: "cl:", FillLock: true})

	t.Run("pattern invalidation covers every master", func(t *testing.T) {
		slots := map[int]bool{}
		for i := range 300 {
			k := fmt.Sprint("user:", i)
			if err := c.Set(ctx, k, i, time.Minute); err != nil {
				t.Fatal(err)
			}
			slots[masterOf(redisSlot("cl:"+k))] = true
		}
		if len(slots) != 3 {
			t.Fatalf("keys on %d masters, want 3", len(slots))
		}
		n, err := c.InvalidatePattern(ctx, "user:*")
		if err != nil || n != 300 {
			t.Fatalf("InvalidatePattern = %d %v, want 300", n, err)
		}
	})
	t.Run("tags with members on every master", func(t *testing.T) {
		for i := range 30 {
			_ = c.Set(ctx, fmt.Sprint("t:", i), i, time.Minute, "group")
		}
		n, err := c.InvalidateTags(ctx, "group")
		if err != nil || n != 30 {
			t.Fatalf("InvalidateTags = %d %v, want 30", n, err)
		}
		for i := range 30 {
			if _, ok, _ := c.Get(ctx, fmt.Sprint("t:", i)); ok {
				t.Fatalf("t:%d survived", i)
			}
		}
	})
	t.Run("fill lock across two clients", func(t *testing.T) {
		c2 := cache.New(newStore(), cache.Options[int]{Prefix: "cl:", FillLock: true})
		var calls atomic.Int32
		load := func(context.Context) (int, error) {
			calls.Add(1)
			time.Sleep(100 * time.Millisecond)
			return 1, nil
		}
		var wg sync.WaitGroup
		for _, x := range []*cache.Cache[int]{c, c2} {
			wg.Go(func() { _, _ = x.GetOrLoad(ctx, "hot", load, time.Minute) })
		}
		wg.Wait()
		if calls.Load() != 1 {
			t.Fatalf("loader ran %d times", calls.Load())
		}
	})
}

func masterOf(slot int) int {
	switch {
	case slot <= 5460:
		return 0
	case slot <= 10922:
		return 1
	default:
		return 2
	}
}
