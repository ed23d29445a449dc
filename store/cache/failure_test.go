package cache_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/rediware/rediware/store"
	"github.com/rediware/rediware/store/cache"
)

func TestGetOrLoad_slow_redis_falls_through_after_RedisTimeout(t *testing.T) {
	srv, s := newStore(t)
	ctx := t.Context()
	c := cache.New(s, cache.Options[int]{RedisTimeout: 100 * time.Millisecond})
	// Warm the pool: a first dial to a stopped server waits for the
	// client's dial and handshake timeouts.
	if err := c.Set(ctx, "warm", 1, 0); err != nil {
		t.Fatal(err)
	}
	srv.Pause()
	defer srv.Resume()
	// Without RedisTimeout the lookup would wait for the paused server
	// until cctx ends and GetOrLoad would fail; the bound below is far
	// under that and far over the 100ms timeout, so a loaded machine
	// cannot fail it.
	cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	start := time.Now()
	v, err := c.GetOrLoad(cctx, "k", func(context.Context) (int, error) { return 3, nil }, time.Minute)
	if err != nil || v != 3 {
		t.Fatalf("GetOrLoad with Redis paused = %v %v, want the loader's 3", v, err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("took %v: the Redis wait ate the caller's budget", d)
	}
}

func TestBreaker_opens_and_GetOrLoad_skips_redis(t *testing.T) {
	srv, s := newStore(t)
	ctx := t.Context()
	rec := &recorder{}
	br := &store.Breaker{Failures: 2, Cooldown: time.Hour}
	c := cache.New(s, cache.Options[int]{Breaker: br, Hook: rec.hook})
	srv.Kill()
	load := func(context.Context) (int, error) { return 1, nil }
	for range 4 {
		if v, err := c.GetOrLoad(ctx, "k", load, 0); err != nil || v != 1 {
			t.Fatalf("GetOrLoad = %v %v", v, err)
		}
	}
	if br.State() != store.BreakerOpen {
		t.Fatalf("breaker %v, want open", br.State())
	}
	if _, _, err := c.Get(ctx, "k"); !errors.Is(err, store.ErrCircuitOpen) || !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("Get with the breaker open = %v", err)
	}
}
