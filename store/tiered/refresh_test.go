package tiered_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rediware/rediware/internal/redistest"
	"github.com/rediware/rediware/store/cache"
	"github.com/rediware/rediware/store/tiered"
)

// refreshingInstance is an instance whose Redis tier refreshes every hit
// early (a huge XFetch beta), with long local and Redis TTLs, so that only
// an invalidation can drop a local copy during the test.
func refreshingInstance(t *testing.T, srv *redistest.Server, fillLock bool) *tiered.Cache[string] {
	t.Helper()
	rc := cache.New(storeFor(t, srv), cache.Options[string]{Codec: cache.String(), Prefix: "t:",
		Beta: 1e9, Jitter: -1, FillLock: fillLock})
	return start(t, rc, tiered.Options[string]{LocalTTL: time.Hour})
}

// When one instance refreshes an entry early, every instance's local tier
// drops the value it replaced, as after a write: no instance keeps serving
// the older value until its local copy expires.
func TestCache_early_refresh_drops_older_value_from_every_local_tier(t *testing.T) {
	for _, fillLock := range []bool{false, true} {
		t.Run(fmt.Sprint("FillLock=", fillLock), func(t *testing.T) {
			srv := redistest.Start(t)
			ctx := t.Context()
			a := refreshingInstance(t, srv, fillLock)
			b := refreshingInstance(t, srv, fillLock)
			var n atomic.Int32
			load := func(context.Context) (string, error) {
				time.Sleep(2 * time.Millisecond) // a load time for XFetch to weigh
				return fmt.Sprint("v", n.Add(1)), nil
			}
			// A loads v1 (a miss: no refresh) and keeps it locally.
			if v, err := a.GetOrLoad(ctx, "k", load, time.Hour); err != nil || v != "v1" {
				t.Fatalf("A first load = %q %v", v, err)
			}
			// B hits v1 in Redis, keeps it locally, and refreshes it early in
			// the background: Redis gets v2.
			if v, err := b.GetOrLoad(ctx, "k", load, time.Hour); err != nil || v != "v1" {
				t.Fatalf("B = %q %v, want the cached v1 (the refresh runs in the background)", v, err)
			}
			deadline := time.Now().Add(20 * time.Second)
			for {
				v, ok, err := a.Redis().Get(ctx, "k")
				if err != nil {
					t.Fatal(err)
				}
				if ok && v == "v2" {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("Redis holds %q %v, never the refreshed v2 (loads: %d)", v, ok, n.Load())
				}
				time.Sleep(5 * time.Millisecond)
			}
			// Both local tiers must let go of v1: B at once (it refreshed),
			// A when the invalidation arrives over pub/sub.
			for name, c := range map[string]*tiered.Cache[string]{"A": a, "B": b} {
				for {
					v, ok, err := c.Get(ctx, "k")
					if err != nil {
						t.Fatal(err)
					}
					if ok && v == "v2" {
						break
					}
					if time.Now().After(deadline) {
						t.Fatalf("instance %s still serves %q %v after the refresh wrote v2", name, v, ok)
					}
					time.Sleep(5 * time.Millisecond)
				}
			}
		})
	}
}
