package tiered_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/rediware/rediware/internal/redistest"
	"github.com/rediware/rediware/store/cache"
	"github.com/rediware/rediware/store/redigo"
	"github.com/rediware/rediware/store/tiered"
)

// The two-tier cache keeps coherent on the redigo backend too (its
// subscriptions, publishes and reconnect events).
func TestCache_on_redigo_backend(t *testing.T) {
	srv := redistest.Start(t)
	ctx := t.Context()
	received := make(chan string, 64)
	mk := func(hook cache.Hook) *tiered.Cache[string] {
		pool, err := redigo.NewPool(srv.URL())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { pool.Close() })
		return start(t, cache.New(redigo.New(pool), cache.Options[string]{Codec: cache.String(), Prefix: "rg:"}), tiered.Options[string]{Hook: hook})
	}
	a := mk(nil)
	b := mk(func(e cache.Event) {
		if e.Kind == cache.Invalidate && e.Op == "delete" {
			received <- e.Key
		}
	})
	for i := range 20 {
		want := fmt.Sprint("v", i)
		if err := a.Set(ctx, "k", want, time.Minute); err != nil {
			t.Fatal(err)
		}
		select {
		case <-received:
		case <-time.After(20 * time.Second):
			t.Fatal("invalidation not received")
		}
		if v, _, _ := b.Get(ctx, "k"); v != want {
			t.Fatalf("B = %q, want %q", v, want)
		}
		if b.LocalLen() != 1 {
			t.Fatal("B did not keep it locally")
		}
	}
}
