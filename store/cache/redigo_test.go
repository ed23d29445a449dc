package cache_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rediware/rediware/internal/redistest"
	"github.com/rediware/rediware/store"
	"github.com/rediware/rediware/store/cache"
	"github.com/rediware/rediware/store/redigo"
)

func redigoStore(t *testing.T, srv *redistest.Server) store.Store {
	t.Helper()
	pool, err := redigo.NewPool(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pool.Close() })
	return redigo.New(pool)
}

// The cache runs on the redigo backend too: scripts, pipelines (tag
// versions) and replies must come back the same.
func TestCache_on_redigo_backend(t *testing.T) {
	srv := redistest.Start(t)
	ctx := t.Context()
	s1, s2 := redigoStore(t, srv), redigoStore(t, srv)
	c := cache.New(s1, cache.Options[user]{FillLock: true, NegativeTTL: time.Minute})

	t.Run("round trip", func(t *testing.T) {
		if err := c.Set(ctx, "u", user{1, "ann"}, time.Minute); err != nil {
			t.Fatal(err)
		}
		if v, ok, err := c.Get(ctx, "u"); err != nil || !ok || v.Name != "ann" {
			t.Fatalf("Get = %v %v %v", v, ok, err)
		}
	})
	t.Run("tags with two versions pipelined", func(t *testing.T) {
		_ = c.Set(ctx, "a", user{ID: 1}, time.Minute, "x", "y")
		if _, ok, _ := c.Get(ctx, "a"); !ok {
			t.Fatal("tagged entry not served")
		}
		if n, err := c.InvalidateTags(ctx, "y"); err != nil || n != 1 {
			t.Fatalf("InvalidateTags = %d %v", n, err)
		}
		if _, ok, _ := c.Get(ctx, "a"); ok {
			t.Fatal("served after invalidation")
		}
	})
	t.Run("tombstone replaced by compare-and-set", func(t *testing.T) {
		_ = c.Invalidate(ctx, "t")
		v, err := c.GetOrLoad(ctx, "t", func(context.Context) (user, error) { return user{ID: 5}, nil }, time.Minute)
		if err != nil || v.ID != 5 {
			t.Fatal(v, err)
		}
		if v, ok, _ := c.Get(ctx, "t"); !ok || v.ID != 5 {
			t.Fatalf("tombstone not replaced: %v %v", v, ok)
		}
	})
	t.Run("fill lock across two pools", func(t *testing.T) {
		c2 := cache.New(s2, cache.Options[user]{FillLock: true})
		var calls atomic.Int32
		load := func(context.Context) (user, error) {
			calls.Add(1)
			time.Sleep(100 * time.Millisecond)
			return user{ID: 9}, nil
		}
		var wg sync.WaitGroup
		for _, x := range []*cache.Cache[user]{c, c2} {
			wg.Go(func() { _, _ = x.GetOrLoad(ctx, "hot", load, time.Minute) })
		}
		wg.Wait()
		if calls.Load() != 1 {
			t.Fatalf("loader ran %d times", calls.Load())
		}
	})
	t.Run("pattern", func(t *testing.T) {
		_ = c.Set(ctx, "p:1", user{}, time.Minute)
		_ = c.Set(ctx, "p:2", user{}, time.Minute)
		if n, err := c.InvalidatePattern(ctx, "p:*"); err != nil || n != 2 {
			t.Fatalf("InvalidatePattern = %d %v", n, err)
		}
	})
}
