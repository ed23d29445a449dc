package tiered_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/rediware/rediware/internal/redistest"
	"github.com/rediware/rediware/store"
	"github.com/rediware/rediware/store/cache"
	"github.com/rediware/rediware/store/tiered"
)

// mutedStore cannot publish: the other instances never hear of a change.
type mutedStore struct{ store.Store }

func (mutedStore) Publish(context.Context, string, []byte) (int64, error) {
	return 0, store.ErrUnavailable
}

func mutedInstance(t *testing.T, srv *redistest.Server) *tiered.Cache[string] {
	t.Helper()
	return start(t, cache.New[string](mutedStore{storeFor(t, srv)}, cache.Options[string]{Codec: cache.String(), Prefix: "t:"}), tiered.Options[string]{})
}

// The database was written, but the other instances' local tiers may still
// serve the old value: WriteThrough must say so, as Set does.
func TestCache_WriteThrough_reports_an_unpublished_invalidation(t *testing.T) {
	srv := redistest.Start(t)
	c := mutedInstance(t, srv)
	err := c.WriteThrough(t.Context(), "k", "v", func(context.Context, string) error { return nil }, time.Minute)
	if !errors.Is(err, cache.ErrCacheNotUpdated) {
		t.Fatalf("WriteThrough = %v, want ErrCacheNotUpdated", err)
	}
}

func TestCache_WriteAround_reports_an_unpublished_invalidation(t *testing.T) {
	srv := redistest.Start(t)
	c := mutedInstance(t, srv)
	err := c.WriteAround(t.Context(), "k", func(context.Context) error { return nil })
	if !errors.Is(err, cache.ErrCacheNotUpdated) {
		t.Fatalf("WriteAround = %v, want ErrCacheNotUpdated", err)
	}
}
