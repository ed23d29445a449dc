package tiered_test

import (
	"context"
	"testing"
	"time"

	"github.com/rediware/rediware/internal/redistest"
	"github.com/rediware/rediware/store"
	"github.com/rediware/rediware/store/cache"
	"github.com/rediware/rediware/store/tiered"
)

// pausingStore holds a fill right after its write of key reached Redis,
// until resume is closed: the fill's result is not yet delivered.
type pausingStore struct {
	store.Store
	key     string
	written chan struct{}
	resume  chan struct{}
}

func (p *pausingStore) SetNX(ctx context.Context, key string, v []byte, ttl time.Duration) (bool, error) {
	ok, err := p.Store.SetNX(ctx, key, v, ttl)
	if key == p.key && ok {
		close(p.written)
		<-p.resume
	}
	return ok, err
}

// A GetOrLoad that starts after this instance applied an invalidation, and
// joins a load that wrote its value to Redis before that invalidation,
// must not keep that older value in the local tier.
func TestCache_read_joining_an_older_load_does_not_install_it_after_invalidation(t *testing.T) {
	srv := redistest.Start(t)
	ctx := t.Context()
	a := instance(t, srv, tiered.Options[string]{})
	ps := &pausingStore{Store: storeFor(t, srv), key: "t:k", written: make(chan struct{}), resume: make(chan struct{})}
	misses := make(chan struct{}, 16)
	rc := cache.New[string](ps, cache.Options[string]{Codec: cache.String(), Prefix: "t:", Hook: func(e cache.Event) {
		if e.Kind == cache.Miss && e.Op == "get_or_load" {
			misses <- struct{}{}
		}
	}})
	applied := make(chan struct{}, 16)
	b := start(t, rc, tiered.Options[string]{LocalTTL: time.Hour, Hook: func(e cache.Event) {
		if e.Tier == cache.TierLocal && e.Kind == cache.Invalidate && e.Key == "k" {
			applied <- struct{}{}
		}
	}})
	wait := func(ch chan struct{}, what string) {
		t.Helper()
		select {
		case <-ch:
		case <-time.After(20 * time.Second):
			t.Fatal(what)
		}
	}

	first := make(chan error, 1)
	go func() {
		_, err := b.GetOrLoad(ctx, "k", func(context.Context) (string, error) { return "old", nil }, time.Hour)
		first <- err
	}()
	wait(ps.written, "first load did not write")
	wait(misses, "no miss")
	// The database changes; A invalidates, and B applies it.
	if err := a.Invalidate(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	wait(applied, "invalidation not applied on B")
	second := make(chan error, 1)
	go func() {
		_, err := b.GetOrLoad(ctx, "k", func(context.Context) (string, error) { return "new", nil }, time.Hour)
		second <- err
	}()
	wait(misses, "second read did not miss")
	time.Sleep(100 * time.Millisecond) // let it join the first load
	close(ps.resume)
	for _, ch := range []chan error{first, second} {
		select {
		case err := <-ch:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(20 * time.Second):
			t.Fatal("GetOrLoad did not return")
		}
	}
	if v, ok, err := b.Get(ctx, "k"); err != nil || (ok && v == "old") {
		t.Fatalf("B.Get = %q %v %v after applying the invalidation: the older load's value was kept locally", v, ok, err)
	}
}
