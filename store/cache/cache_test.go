package cache_test

import (
	"context"
	"encoding/binary"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rediware/rediware/store"
	"github.com/rediware/rediware/store/cache"
)

type cacheEvent = cache.Event

type user struct {
	ID   int    `json:"id"`
	Name string `json:"name"`
}

// point implements encoding.BinaryMarshaler for the Binary codec.
type point struct{ X, Y int32 }

func (p *point) MarshalBinary() ([]byte, error) {
	b := binary.BigEndian.AppendUint32(nil, uint32(p.X))
	return binary.BigEndian.AppendUint32(b, uint32(p.Y)), nil
}

func (p *point) UnmarshalBinary(b []byte) error {
	if len(b) != 8 {
		return errors.New("point: want 8 bytes")
	}
	p.X, p.Y = int32(binary.BigEndian.Uint32(b)), int32(binary.BigEndian.Uint32(b[4:]))
	return nil
}

func TestCache_codecs_round_trip(t *testing.T) {
	_, s := newStore(t)
	ctx := t.Context()

	t.Run("json", func(t *testing.T) {
		c := cache.New(s, cache.Options[user]{Prefix: "j:"})
		if err := c.Set(ctx, "u", user{1, "ann"}, time.Minute); err != nil {
			t.Fatal(err)
		}
		got, ok, err := c.Get(ctx, "u")
		if err != nil || !ok || got != (user{1, "ann"}) {
			t.Fatalf("Get = %v %v %v", got, ok, err)
		}
	})
	t.Run("string", func(t *testing.T) {
		c := cache.New(s, cache.Options[string]{Prefix: "s:", Codec: cache.String()})
		if err := c.Set(ctx, "k", "héllo", time.Minute); err != nil {
			t.Fatal(err)
		}
		got, ok, err := c.Get(ctx, "k")
		if err != nil || !ok || got != "héllo" {
			t.Fatalf("Get = %q %v %v", got, ok, err)
		}
	})
	t.Run("bytes", func(t *testing.T) {
		c := cache.New(s, cache.Options[[]byte]{Prefix: "b:", Codec: cache.Bytes()})
		if err := c.Set(ctx, "k", []byte{0, 1, 255}, time.Minute); err != nil {
			t.Fatal(err)
		}
		got, ok, err := c.Get(ctx, "k")
		if err != nil || !ok || string(got) != "\x00\x01\xff" {
			t.Fatalf("Get = %v %v %v", got, ok, err)
		}
	})
	t.Run("binary", func(t *testing.T) {
		c := cache.New(s, cache.Options[point]{Prefix: "p:", Codec: cache.Binary[point]()})
		if err := c.Set(ctx, "k", point{-3, 7}, time.Minute); err != nil {
			t.Fatal(err)
		}
		got, ok, err := c.Get(ctx, "k")
		if err != nil || !ok || got != (point{-3, 7}) {
			t.Fatalf("Get = %v %v %v", got, ok, err)
		}
		raw, _, _ := s.Get(ctx, "p:k")
		if len(raw) != 21+8 {
			t.Fatalf("binary entry is %d bytes, want header 21 + 8", len(raw))
		}
	})
}

func TestCache_compresses_values_over_threshold(t *testing.T) {
	_, s := newStore(t)
	ctx := t.Context()
	c := cache.New(s, cache.Options[string]{Codec: cache.String(), CompressAbove: 100})
	big := strings.Repeat("abcdefgh", 1000)
	if err := c.Set(ctx, "big", big, time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := c.Set(ctx, "small", "tiny", time.Minute); err != nil {
		t.Fatal(err)
	}
	raw, _, _ := s.Get(ctx, "cache:big")
	if len(raw) >= len(big)/4 || raw[0]&1 != 1 {
		t.Fatalf("stored %d bytes, flags %08b: not compressed", len(raw), raw[0])
	}
	small, _, _ := s.Get(ctx, "cache:small")
	if small[0]&1 != 0 {
		t.Fatal("small value compressed")
	}
	got, ok, err := c.Get(ctx, "big")
	if err != nil || !ok || got != big {
		t.Fatalf("Get big: ok=%v err=%v equal=%v", ok, err, got == big)
	}
}

func TestCache_Get_miss(t *testing.T) {
	_, s := newStore(t)
	c := cache.New(s, cache.Options[user]{})
	_, ok, err := c.Get(t.Context(), "nope")
	if ok || err != nil {
		t.Fatalf("Get = %v %v, want miss", ok, err)
	}
}

func TestCache_Get_unreadable_entry_is_a_miss(t *testing.T) {
	_, s := newStore(t)
	ctx := t.Context()
	rec := &recorder{}
	c := cache.New(s, cache.Options[user]{Hook: rec.hook})
	if err := s.Set(ctx, "cache:x", []byte("not an envelope"), time.Minute); err != nil {
		t.Fatal(err)
	}
	_, ok, err := c.Get(ctx, "x")
	if ok || err != nil {
		t.Fatalf("Get = %v %v, want miss", ok, err)
	}
	if rec.count("redis:error") != 1 {
		t.Fatalf("events %v, want one redis:error", rec.events)
	}
	// GetOrLoad replaces it.
	got, err := c.GetOrLoad(ctx, "x", func(context.Context) (user, error) { return user{ID: 9}, nil }, time.Minute)
	if err != nil || got.ID != 9 {
		t.Fatalf("GetOrLoad = %v %v", got, err)
	}
	if got, ok, _ := c.Get(ctx, "x"); !ok || got.ID != 9 {
		t.Fatalf("after refill Get = %v %v", got, ok)
	}
}

func TestCache_rejects_reserved_and_empty_keys(t *testing.T) {
	_, s := newStore(t)
	c := cache.New(s, cache.Options[user]{})
	if err := c.Set(t.Context(), "~tag", user{}, 0); !errors.Is(err, cache.ErrReservedKey) {
		t.Fatalf("Set(~tag) = %v", err)
	}
	if _, _, err := c.Get(t.Context(), ""); !errors.Is(err, store.ErrInvalidKey) {
		t.Fatalf("Get(\"\") = %v", err)
	}
	if err := c.Set(t.Context(), "k", user{}, -time.Second); !errors.Is(err, cache.ErrInvalidTTL) {
		t.Fatalf("Set(ttl<0) = %v", err)
	}
}

func TestCache_Set_applies_jitter(t *testing.T) {
	_, s := newStore(t)
	ctx := t.Context()
	c := cache.New(s, cache.Options[int]{Jitter: 0.5})
	seen := map[time.Duration]bool{}
	for i := range 20 {
		k := "k" + string(rune('a'+i))
		if err := c.Set(ctx, k, i, 100*time.Second); err != nil {
			t.Fatal(err)
		}
		ttl, _, err := s.TTL(ctx, "cache:"+k)
		if err != nil {
			t.Fatal(err)
		}
		if ttl > 100*time.Second || ttl < 49*time.Second {
			t.Fatalf("ttl %v outside [50s, 100s]", ttl)
		}
		seen[ttl/time.Second] = true
	}
	if len(seen) < 5 {
		t.Fatalf("only %d distinct TTLs in 20 writes: no jitter", len(seen))
	}
}

func TestCache_Delete(t *testing.T) {
	_, s := newStore(t)
	ctx := t.Context()
	c := cache.New(s, cache.Options[int]{})
	_ = c.Set(ctx, "a", 1, 0)
	_ = c.Set(ctx, "b", 2, 0)
	if err := c.Delete(ctx, "a", "b", "missing"); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := c.Get(ctx, "a"); ok {
		t.Fatal("a still cached")
	}
}

func TestGetOrLoad_loads_once_per_process(t *testing.T) {
	_, s := newStore(t)
	ctx := t.Context()
	c := cache.New(s, cache.Options[int]{})
	var calls atomic.Int32
	load := func(context.Context) (int, error) {
		calls.Add(1)
		time.Sleep(50 * time.Millisecond)
		return 7, nil
	}
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			v, err := c.GetOrLoad(ctx, "k", load, time.Minute)
			if err != nil || v != 7 {
				t.Errorf("GetOrLoad = %v %v", v, err)
			}
		})
	}
	wg.Wait()
	if n := calls.Load(); n != 1 {
		t.Fatalf("loader ran %d times, want 1", n)
	}
	if v, ok, _ := c.Get(ctx, "k"); !ok || v != 7 {
		t.Fatalf("not cached: %v %v", v, ok)
	}
}

func TestGetOrLoad_fill_lock_loads_once_across_instances(t *testing.T) {
	srv, s1 := newStore(t)
	s2 := storeFor(t, srv)
	ctx := t.Context()
	var calls atomic.Int32
	load := func(context.Context) (int, error) {
		calls.Add(1)
		time.Sleep(150 * time.Millisecond)
		return 42, nil
	}
	rec := &recorder{}
	a := cache.New(s1, cache.Options[int]{FillLock: true, Hook: rec.hook})
	b := cache.New(s2, cache.Options[int]{FillLock: true, Hook: rec.hook})
	var wg sync.WaitGroup
	for _, c := range []*cache.Cache[int]{a, b, a, b} {
		wg.Go(func() {
			v, err := c.GetOrLoad(ctx, "hot", load, time.Minute)
			if err != nil || v != 42 {
				t.Errorf("GetOrLoad = %v %v", v, err)
			}
		})
	}
	wg.Wait()
	if n := calls.Load(); n != 1 {
		t.Fatalf("loader ran %d times across two instances, want 1", n)
	}
	if rec.count("redis:lock_wait")+rec.count("redis:hit") == 0 {
		t.Fatalf("the instance that did not load neither waited for the fill nor hit: %v", rec.events)
	}
}

func TestGetOrLoad_fill_lock_holder_failure_lets_waiter_load(t *testing.T) {
	srv, s1 := newStore(t)
	s2 := storeFor(t, srv)
	ctx := t.Context()
	a := cache.New(s1, cache.Options[int]{FillLock: true})
	b := cache.New(s2, cache.Options[int]{FillLock: true})
	started := make(chan struct{})
	go func() {
		_, _ = a.GetOrLoad(ctx, "k", func(context.Context) (int, error) {
			close(started)
			time.Sleep(50 * time.Millisecond)
			return 0, errors.New("db down")
		}, time.Minute)
	}()
	<-started
	v, err := b.GetOrLoad(ctx, "k", func(context.Context) (int, error) { return 5, nil }, time.Minute)
	if err != nil || v != 5 {
		t.Fatalf("waiter GetOrLoad = %v %v, want 5", v, err)
	}
}

func TestGetOrLoad_caches_not_found(t *testing.T) {
	_, s := newStore(t)
	ctx := t.Context()
	// The three calls below must all land within NegativeTTL: leave room
	// for a loaded machine.
	c := cache.New(s, cache.Options[user]{NegativeTTL: 30 * time.Second, Jitter: -1})
	var calls atomic.Int32
	load := func(context.Context) (user, error) {
		calls.Add(1)
		return user{}, cache.ErrNotFound
	}
	for range 3 {
		if _, err := c.GetOrLoad(ctx, "ghost", load, time.Minute); !errors.Is(err, cache.ErrNotFound) {
			t.Fatalf("GetOrLoad = %v, want ErrNotFound", err)
		}
	}
	if n := calls.Load(); n != 1 {
		t.Fatalf("loader ran %d times, want 1", n)
	}
	if _, ok, _ := c.Get(ctx, "ghost"); ok {
		t.Fatal("Get reports a negative entry as found")
	}
	ttl, _, _ := s.TTL(ctx, "cache:ghost")
	if ttl > 30*time.Second || ttl <= 0 {
		t.Fatalf("negative entry ttl %v, want NegativeTTL", ttl)
	}
}

func TestGetOrLoad_without_NegativeTTL_does_not_cache_not_found(t *testing.T) {
	_, s := newStore(t)
	c := cache.New(s, cache.Options[user]{})
	var calls atomic.Int32
	load := func(context.Context) (user, error) { calls.Add(1); return user{}, cache.ErrNotFound }
	for range 2 {
		if _, err := c.GetOrLoad(t.Context(), "ghost", load, 0); !errors.Is(err, cache.ErrNotFound) {
			t.Fatal(err)
		}
	}
	if calls.Load() != 2 {
		t.Fatalf("loader ran %d times, want 2", calls.Load())
	}
}

func TestGetOrLoad_loader_error_is_not_cached(t *testing.T) {
	_, s := newStore(t)
	c := cache.New(s, cache.Options[int]{NegativeTTL: time.Minute})
	boom := errors.New("boom")
	if _, err := c.GetOrLoad(t.Context(), "k", func(context.Context) (int, error) { return 0, boom }, 0); !errors.Is(err, boom) {
		t.Fatalf("err = %v", err)
	}
	if v, err := c.GetOrLoad(t.Context(), "k", func(context.Context) (int, error) { return 3, nil }, 0); err != nil || v != 3 {
		t.Fatalf("second GetOrLoad = %v %v", v, err)
	}
}

func TestGetOrLoad_xfetch_refreshes_before_expiry(t *testing.T) {
	_, s := newStore(t)
	rec := &recorder{}
	// A huge beta makes every hit refresh: the probability is 1 for any
	// remaining TTL shorter than delta*beta.
	c := cache.New(s, cache.Options[int]{Beta: 1e9, Jitter: -1, Hook: rec.hook})
	waitEarlyRefresh(t, c)
	if rec.count("redis:early_refresh") == 0 {
		t.Fatal("no early_refresh event")
	}
}

// waitEarlyRefresh loads "k" through c (whose huge Beta refreshes every
// hit), hits it, and waits for the background refresh to write a new
// value to Redis.
func waitEarlyRefresh(t *testing.T, c *cache.Cache[int]) {
	t.Helper()
	ctx := t.Context()
	var n atomic.Int32
	load := func(context.Context) (int, error) {
		time.Sleep(2 * time.Millisecond) // a load time for XFetch to weigh
		return int(n.Add(1)), nil
	}
	if v, _ := c.GetOrLoad(ctx, "k", load, time.Minute); v != 1 {
		t.Fatalf("first = %d", v)
	}
	if v, _ := c.GetOrLoad(ctx, "k", load, time.Minute); v != 1 {
		t.Fatalf("hit returned %d, want the cached 1 (refresh is in the background)", v)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		if v, ok, _ := c.Get(ctx, "k"); ok && v >= 2 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no early refresh: loader ran %d times", n.Load())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestGetOrLoad_no_early_refresh_far_from_expiry(t *testing.T) {
	_, s := newStore(t)
	ctx := t.Context()
	c := cache.New(s, cache.Options[int]{Jitter: -1}) // beta 1
	var n atomic.Int32
	load := func(context.Context) (int, error) { time.Sleep(time.Millisecond); return int(n.Add(1)), nil }
	for range 100 {
		if _, err := c.GetOrLoad(ctx, "k", load, time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(20 * time.Millisecond)
	if n.Load() != 1 {
		t.Fatalf("loader ran %d times for a key an hour from expiry", n.Load())
	}
}

func TestGetOrLoad_redis_down_falls_through_to_loader(t *testing.T) {
	srv, s := newStore(t)
	ctx := t.Context()
	rec := &recorder{}
	c := cache.New(s, cache.Options[int]{Hook: rec.hook, FillLock: true})
	srv.Kill()
	v, err := c.GetOrLoad(ctx, "k", func(context.Context) (int, error) { return 11, nil }, time.Minute)
	if err != nil || v != 11 {
		t.Fatalf("GetOrLoad with Redis down = %v %v, want the loader's 11", v, err)
	}
	if rec.count("redis:error") == 0 || rec.count("loader:load") != 1 {
		t.Fatalf("events %v", rec.events)
	}
	if err := c.Set(ctx, "k", 1, 0); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("Set with Redis down = %v, want ErrUnavailable", err)
	}
	if _, _, err := c.Get(ctx, "k"); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("Get with Redis down = %v, want ErrUnavailable", err)
	}
	if err := c.Delete(ctx, "k"); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("Delete with Redis down = %v", err)
	}
	if _, err := c.InvalidateTags(ctx, "t"); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("InvalidateTags with Redis down = %v", err)
	}
	if _, err := c.InvalidatePattern(ctx, "*"); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("InvalidatePattern with Redis down = %v", err)
	}
}

func TestGetOrLoad_caller_context_cancel_does_not_cancel_shared_load(t *testing.T) {
	_, s := newStore(t)
	c := cache.New(s, cache.Options[int]{})
	ctx1, cancel := context.WithCancel(t.Context())
	started, release := make(chan struct{}), make(chan struct{})
	var loaderCtxErr atomic.Value
	go func() {
		<-started // cancel only once the shared load is under way
		cancel()
	}()
	_, err := c.GetOrLoad(ctx1, "k", func(ctx context.Context) (int, error) {
		close(started)
		<-release
		loaderCtxErr.Store(ctx.Err() == nil)
		return 1, nil
	}, time.Minute)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	close(release) // the first caller has given up: let the load finish
	v, err := c.GetOrLoad(t.Context(), "k", func(context.Context) (int, error) { return 2, nil }, time.Minute)
	if err != nil || v != 1 {
		t.Fatalf("after cancelled caller: %v %v, want the shared load's 1", v, err)
	}
	if ok, _ := loaderCtxErr.Load().(bool); !ok {
		t.Fatal("the loader's context was cancelled with the first caller's")
	}
}

func TestMemoize(t *testing.T) {
	_, s := newStore(t)
	c := cache.New(s, cache.Options[string]{Codec: cache.String()})
	var calls atomic.Int32
	greet := cache.Memoize(c, func(name string) string { return "greet:" + name },
		func(_ context.Context, name string) (string, error) {
			calls.Add(1)
			return "hello " + name, nil
		}, time.Minute)
	for range 3 {
		if v, err := greet(t.Context(), "ann"); err != nil || v != "hello ann" {
			t.Fatalf("greet = %q %v", v, err)
		}
	}
	if v, _ := greet(t.Context(), "bob"); v != "hello bob" {
		t.Fatalf("greet(bob) = %q", v)
	}
	if calls.Load() != 2 {
		t.Fatalf("fn ran %d times, want 2", calls.Load())
	}
}

func TestHook_reports_hits_misses_loads(t *testing.T) {
	_, s := newStore(t)
	rec := &recorder{}
	c := cache.New(s, cache.Options[int]{Hook: rec.hook})
	load := func(context.Context) (int, error) { return 1, nil }
	_, _ = c.GetOrLoad(t.Context(), "k", load, 0)
	_, _ = c.GetOrLoad(t.Context(), "k", load, 0)
	if rec.count("redis:miss") != 1 || rec.count("redis:hit") != 1 || rec.count("loader:load") != 1 {
		t.Fatalf("events %v", rec.events)
	}
}

func TestGetOrLoad_loader_panic_is_an_error(t *testing.T) {
	_, s := newStore(t)
	c := cache.New(s, cache.Options[int]{})
	_, err := c.GetOrLoad(t.Context(), "k", func(context.Context) (int, error) { panic("boom") }, 0)
	if !errors.Is(err, cache.ErrLoaderPanic) || !strings.Contains(err.Error(), "boom") {
		t.Fatalf("err = %v, want ErrLoaderPanic", err)
	}
	if v, err := c.GetOrLoad(t.Context(), "k", func(context.Context) (int, error) { return 1, nil }, 0); err != nil || v != 1 {
		t.Fatalf("after a panic: %v %v", v, err)
	}
}

// A caller whose context has ended by the time its Redis lookup runs (the
// lookup fails) must not start a load that runs as if Redis were down:
// callers that join it would get a value that is never cached (and, with
// FillLock, loaded without the lock).
func TestGetOrLoad_caller_context_done_does_not_start_uncached_load(t *testing.T) {
	_, s := newStore(t)
	c := cache.New(s, cache.Options[int]{})
	started, release := make(chan struct{}, 2), make(chan struct{})
	load := func(context.Context) (int, error) {
		started <- struct{}{}
		<-release
		return 1, nil
	}
	done, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := c.GetOrLoad(done, "k", load, time.Minute); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	res := make(chan error, 1)
	go func() {
		_, err := c.GetOrLoad(t.Context(), "k", load, time.Minute)
		res <- err
	}()
	<-started
	time.Sleep(50 * time.Millisecond) // let the second caller join a running load
	close(release)
	if err := <-res; err != nil {
		t.Fatal(err)
	}
	if v, ok, err := c.Get(t.Context(), "k"); err != nil || !ok || v != 1 {
		t.Fatalf("Get = %v %v %v: the load was not cached", v, ok, err)
	}
}
