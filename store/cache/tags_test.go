package cache_test

import (
	"context"
	"errors"
	"fmt"
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
