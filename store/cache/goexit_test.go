package cache_test

import (
	"context"
	"errors"
	"runtime"
	"testing"
	"time"

	"github.com/rediware/rediware/store/cache"
)

// A loader that ends its goroutine with runtime.Goexit (t.FailNow inside a
// loader does) must not leave the callers waiting for a result that never
// comes.
func TestGetOrLoad_loader_Goexit_is_an_error(t *testing.T) {
	_, s := newStore(t)
	c := cache.New(s, cache.Options[int]{})
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	_, err := c.GetOrLoad(ctx, "k", func(context.Context) (int, error) {
		runtime.Goexit()
		return 1, nil
	}, time.Minute)
	if !errors.Is(err, cache.ErrLoaderPanic) {
		t.Fatalf("GetOrLoad = %v, want ErrLoaderPanic", err)
	}
}
