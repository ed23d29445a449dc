package cache_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rediware/rediware/store/cache"
)

// With FillLock, an early refresh must still load: the entry it finds in
// Redis when it takes the lock is the very one it is refreshing, not
// another instance's fill.
func TestGetOrLoad_xfetch_refreshes_with_FillLock(t *testing.T) {
	_, s := newStore(t)
	waitEarlyRefresh(t, cache.New(s, cache.Options[int]{Beta: 1e9, Jitter: -1, FillLock: true}))
}

// OnRefresh listeners hear of an early refresh once its value is in Redis,
// and not of an ordinary fill.
func TestCache_OnRefresh_reports_refreshed_keys_after_the_write(t *testing.T) {
	_, s := newStore(t)
	ctx := t.Context()
	c := cache.New(s, cache.Options[int]{Beta: 1e9, Jitter: -1})
	heard := make(chan int, 4)
	remove := c.OnRefresh(func(ctx context.Context, key string) {
		v, ok, err := c.Get(ctx, key)
		if err != nil || !ok {
			v = -1
		}
		heard <- v // the value in Redis when the listener runs
	})
	var n atomic.Int32
	load := func(context.Context) (int, error) {
		time.Sleep(2 * time.Millisecond)
		return int(n.Add(1)), nil
	}
	if v, _ := c.GetOrLoad(ctx, "k", load, time.Minute); v != 1 {
		t.Fatalf("first = %d", v)
	}
	select {
	case v := <-heard:
		t.Fatalf("a miss's fill was reported as a refresh (%d)", v)
	case <-time.After(50 * time.Millisecond):
	}
	_, _ = c.GetOrLoad(ctx, "k", load, time.Minute) // a hit: refreshes
	select {
	case v := <-heard:
		if v != 2 {
			t.Fatalf("listener saw %d in Redis, want the refreshed 2", v)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no refresh reported")
	}
	remove()
	_, _ = c.GetOrLoad(ctx, "k", load, time.Minute) // refreshes again, unheard
	deadline := time.Now().Add(20 * time.Second)
	for n.Load() < 3 {
		if time.Now().After(deadline) {
			t.Fatal("no second refresh")
		}
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond)
	if len(heard) != 0 {
		t.Fatal("a removed listener was called")
	}
}
