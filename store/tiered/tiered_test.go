package tiered_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rediware/rediware/internal/redistest"
	"github.com/rediware/rediware/store/cache"
	"github.com/rediware/rediware/store/goredis"
	"github.com/rediware/rediware/store/tiered"
)

func TestMain(m *testing.M) { redistest.Main(m) }

func storeFor(t *testing.T, srv *redistest.Server) *goredis.Store {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: srv.Addr(), MaxRetries: -1})
	t.Cleanup(func() { c.Close() })
	s, err := goredis.NewWithOptions(c, goredis.Options{SubscriptionHealthInterval: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// instance is one application instance: its own client and tiered cache.
func instance(t *testing.T, srv *redistest.Server, o tiered.Options[string]) *tiered.Cache[string] {
	t.Helper()
	return start(t, cache.New(storeFor(t, srv), cache.Options[string]{Codec: cache.String(), Prefix: "t:"}), o)
}

// start returns a tiered cache over rc, closed when the test ends, once its
// subscription is ready.
func start(t *testing.T, rc *cache.Cache[string], o tiered.Options[string]) *tiered.Cache[string] {
	t.Helper()
	c := tiered.New(rc, o)
	t.Cleanup(func() { c.Close() })
	select {
	case <-c.Ready():
	case <-time.After(20 * time.Second):
		t.Fatal("subscription not ready")
	}
	return c
}

func TestCache_serves_local_tier_after_first_read(t *testing.T) {
	srv := redistest.Start(t)
	ctx := t.Context()
	var localHits atomic.Int32
	c := instance(t, srv, tiered.Options[string]{Hook: func(e cache.Event) {
		if e.Tier == cache.TierLocal && e.Kind == cache.Hit {
			localHits.Add(1)
		}
	}})
	if err := c.Set(ctx, "k", "v", time.Minute); err != nil {
		t.Fatal(err)
	}
	if v, ok, err := c.Get(ctx, "k"); err != nil || !ok || v != "v" {
		t.Fatalf("Get = %q %v %v", v, ok, err)
	}
	// Remove it behind the cache's back: only the local tier has it now.
	if _, err := c.Redis().Store().Delete(ctx, "t:k"); err != nil {
		t.Fatal(err)
	}
	if v, ok, _ := c.Get(ctx, "k"); !ok || v != "v" || localHits.Load() != 1 {
		t.Fatalf("Get = %q %v, local hits %d: local tier not used", v, ok, localHits.Load())
	}
}

func TestCache_local_ttl_never_exceeds_redis_ttl(t *testing.T) {
	srv := redistest.Start(t)
	ctx := t.Context()
	a := instance(t, srv, tiered.Options[string]{LocalTTL: time.Hour})
	b := instance(t, srv, tiered.Options[string]{LocalTTL: time.Hour})
	rc := cache.New(a.Redis().Store(), cache.Options[string]{Codec: cache.String(), Prefix: "t:", Jitter: -1})
	// A TTL long enough that B reads the entry before it expires even on a
	// loaded machine, short enough to keep the test quick.
	if err := rc.Set(ctx, "k", "v", time.Second); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := b.Get(ctx, "k"); !ok {
		t.Fatal("miss")
	}
	// Wait until Redis itself no longer has the entry (polling, not a
	// fixed sleep), then B must not serve it from its local tier.
	deadline := time.Now().Add(20 * time.Second)
	for {
		_, found, err := a.Redis().Store().Get(ctx, "t:k")
		if err != nil {
			t.Fatal(err)
		}
		if !found {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the Redis entry never expired")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if v, ok, _ := b.Get(ctx, "k"); ok {
		t.Fatalf("local tier served %q after the Redis entry expired", v)
	}
}

func TestCache_bounded_by_entries(t *testing.T) {
	srv := redistest.Start(t)
	ctx := t.Context()
	c := instance(t, srv, tiered.Options[string]{MaxEntries: 10})
	for i := range 25 {
		k := fmt.Sprint("k", i)
		_ = c.Set(ctx, k, "v", time.Minute)
		_, _, _ = c.Get(ctx, k)
	}
	if n := c.LocalLen(); n != 10 {
		t.Fatalf("local tier holds %d entries, want 10", n)
	}
}

func TestCache_bounded_by_bytes(t *testing.T) {
	srv := redistest.Start(t)
	ctx := t.Context()
	c := instance(t, srv, tiered.Options[string]{MaxBytes: 1000, Size: func(v string) int64 { return int64(len(v)) }})
	for i := range 10 {
		k := fmt.Sprint("k", i)
		_ = c.Set(ctx, k, string(make([]byte, 300)), time.Minute)
		_, _, _ = c.Get(ctx, k)
	}
	if n := c.LocalLen(); n != 3 {
		t.Fatalf("local tier holds %d entries of 300 bytes under a 1000-byte bound, want 3", n)
	}
}

// TestCache_after_invalidation_received_never_serves_old_value writes on A
// and checks that B, once its hook has seen the invalidation, never returns
// the old value, while other goroutines on B keep filling the local tier
// from Redis (the race the invalidation log exists for).
func TestCache_after_invalidation_received_never_serves_old_value(t *testing.T) {
	srv := redistest.Start(t)
	ctx := t.Context()
	a := instance(t, srv, tiered.Options[string]{})
	received := make(chan string, 1024)
	b := instance(t, srv, tiered.Options[string]{Hook: func(e cache.Event) {
		if e.Tier == cache.TierLocal && e.Kind == cache.Invalidate && e.Op == "delete" {
			received <- e.Key
		}
	}})
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 { // background readers racing the invalidations
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
					_, _, _ = b.Get(ctx, "k")
					time.Sleep(50 * time.Microsecond)
				}
			}
		})
	}
	const rounds = 200
	lat := make([]time.Duration, 0, rounds)
	for i := range rounds {
		val := fmt.Sprint("v", i)
		start := time.Now()
		if err := a.Set(ctx, "k", val, time.Minute); err != nil {
			t.Fatal(err)
		}
		select {
		case <-received:
		case <-time.After(20 * time.Second):
			t.Fatal("invalidation not received")
		}
		lat = append(lat, time.Since(start))
		for range 3 {
			if v, _, _ := b.Get(ctx, "k"); v != val {
				close(stop)
				t.Fatalf("round %d: B served %q after receiving the invalidation of a write of %q", i, v, val)
			}
		}
	}
	close(stop)
	wg.Wait()
	slices.Sort(lat)
	t.Logf("write on A to invalidation applied on B (includes the Redis SET): p50 %v, p99 %v, max %v",
		lat[len(lat)/2], lat[len(lat)*99/100], lat[len(lat)-1])
}

func TestCache_invalidates_tags_and_patterns_on_every_instance(t *testing.T) {
	srv := redistest.Start(t)
	ctx := t.Context()
	a := instance(t, srv, tiered.Options[string]{})
	b := instance(t, srv, tiered.Options[string]{})
	load := func(v string) cache.Loader[string] {
		return func(context.Context) (string, error) { return v, nil }
	}
	_, _ = b.GetOrLoad(ctx, "q1", load("old"), time.Minute, "user:42")
	_, _ = b.GetOrLoad(ctx, "p:1", load("old"), time.Minute)
	if _, err := a.InvalidateTags(ctx, "user:42"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.InvalidatePattern(ctx, "p:*"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for b.LocalLen() > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("B still holds %d local entries", b.LocalLen())
		}
		time.Sleep(time.Millisecond)
	}
	if v, _ := b.GetOrLoad(ctx, "q1", load("new"), time.Minute, "user:42"); v != "new" {
		t.Fatalf("q1 = %q after tag invalidation", v)
	}
}

func TestCache_flushes_local_tier_on_reconnect(t *testing.T) {
	srv := redistest.Start(t)
	ctx := t.Context()
	reconnected := make(chan struct{}, 4)
	b := instance(t, srv, tiered.Options[string]{Hook: func(e cache.Event) {
		if e.Op == "reconnected" {
			reconnected <- struct{}{}
		}
	}})
	if _, err := b.GetOrLoad(ctx, "k", func(context.Context) (string, error) { return "v", nil }, time.Minute); err != nil {
		t.Fatal(err)
	}
	if b.LocalLen() != 1 {
		t.Fatal("not cached locally")
	}
	srv.Restart() // invalidations published meanwhile would be lost
	select {
	case <-reconnected:
	case <-time.After(30 * time.Second):
		t.Fatal("no reconnect")
	}
	if n := b.LocalLen(); n != 0 {
		t.Fatalf("local tier kept %d entries across a reconnect", n)
	}
}

func TestCache_redis_down_get_or_load_falls_through(t *testing.T) {
	srv := redistest.Start(t)
	ctx := t.Context()
	c := instance(t, srv, tiered.Options[string]{})
	srv.Kill()
	v, err := c.GetOrLoad(ctx, "k", func(context.Context) (string, error) { return "db", nil }, time.Minute)
	if err != nil || v != "db" {
		t.Fatalf("GetOrLoad = %q %v", v, err)
	}
	if c.LocalLen() != 0 {
		t.Fatal("a value that is not in Redis was cached locally")
	}
	if err := c.Set(ctx, "k", "v", 0); err == nil {
		t.Fatal("Set with Redis down reported no error")
	}
}

func TestCache_hooks_report_each_tier(t *testing.T) {
	srv := redistest.Start(t)
	ctx := t.Context()
	var mu sync.Mutex
	seen := map[string]int{}
	hook := func(e cache.Event) {
		mu.Lock()
		seen[e.Tier.String()+":"+e.Kind.String()]++
		mu.Unlock()
	}
	rc := cache.New(storeFor(t, srv), cache.Options[string]{Codec: cache.String(), Prefix: "h:", Hook: hook})
	c := tiered.New(rc, tiered.Options[string]{Hook: hook})
	defer c.Close()
	select {
	case <-c.Ready():
	case <-time.After(20 * time.Second):
		t.Fatal("subscription not ready")
	}
	load := func(context.Context) (string, error) { return "v", nil }
	_, _ = c.GetOrLoad(ctx, "k", load, time.Minute) // local miss, redis miss, load
	_, _ = c.GetOrLoad(ctx, "k", load, time.Minute) // local hit
	mu.Lock()
	defer mu.Unlock()
	for _, want := range []string{"local:miss", "redis:miss", "loader:load", "local:hit"} {
		if seen[want] != 1 {
			t.Fatalf("%s seen %d times; all: %v", want, seen[want], seen)
		}
	}
}
