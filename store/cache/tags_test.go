package cache_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/rediware/rediware/store"
	"github.com/rediware/rediware/store/cache"
)

// manyTags returns more tags than an entry can carry (readers refuse an
// envelope with more than 1024, as a bound against hostile entries).
func manyTags() []string {
	tags := make([]string, 1025)
	for i := range tags {
		tags[i] = fmt.Sprint("t", i)
	}
	return tags
}

func TestSet_more_tags_than_an_entry_holds_is_an_error(t *testing.T) {
	_, s := newStore(t)
	c := cache.New(s, cache.Options[int]{})
	if err := c.Set(t.Context(), "k", 1, time.Minute, manyTags()...); !errors.Is(err, store.ErrInvalidKey) {
		t.Fatalf("Set = %v, want an error wrapping store.ErrInvalidKey", err)
	}
}

func TestGetOrLoad_more_tags_than_an_entry_holds_is_an_error(t *testing.T) {
	_, s := newStore(t)
	c := cache.New(s, cache.Options[int]{})
	load := func(context.Context) (int, error) { return 1, nil }
	if _, err := c.GetOrLoad(t.Context(), "k", load, time.Minute, manyTags()...); !errors.Is(err, store.ErrInvalidKey) {
		t.Fatalf("GetOrLoad = %v, want an error wrapping store.ErrInvalidKey", err)
	}
}

func TestGetOrLoad_empty_tag_is_an_error(t *testing.T) {
	_, s := newStore(t)
	c := cache.New(s, cache.Options[int]{})
	load := func(context.Context) (int, error) { return 1, nil }
	if _, err := c.GetOrLoad(t.Context(), "k", load, time.Minute, "a", ""); !errors.Is(err, store.ErrInvalidKey) {
		t.Fatalf("GetOrLoad = %v, want an error wrapping store.ErrInvalidKey", err)
	}
}

// A key the store refuses (longer than its limit) is the caller's error,
// not a Redis outage to load around: GetOrLoad reports it instead of
// calling the loader, every time, and caching nothing.
func TestGetOrLoad_key_refused_by_the_store_is_an_error(t *testing.T) {
	_, s := newStore(t)
	c := cache.New(s, cache.Options[int]{})
	calls := 0
	load := func(context.Context) (int, error) { calls++; return 1, nil }
	long := strings.Repeat("x", store.DefaultMaxKeyLen+1)
	if _, err := c.GetOrLoad(t.Context(), long, load, time.Minute); !errors.Is(err, store.ErrInvalidKey) || calls != 0 {
		t.Fatalf("GetOrLoad = %v after %d loads, want store.ErrInvalidKey and none", err, calls)
	}
}

// Likewise for a tag the store refuses.
func TestGetOrLoad_tag_refused_by_the_store_is_an_error(t *testing.T) {
	_, s := newStore(t)
	c := cache.New(s, cache.Options[int]{})
	calls := 0
	load := func(context.Context) (int, error) { calls++; return 1, nil }
	long := strings.Repeat("t", store.DefaultMaxKeyLen+1)
	if _, err := c.GetOrLoad(t.Context(), "k", load, time.Minute, long); !errors.Is(err, store.ErrInvalidKey) || calls != 0 {
		t.Fatalf("GetOrLoad = %v after %d loads, want store.ErrInvalidKey and none", err, calls)
	}
}
