package querycache_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rediware/rediware/internal/redistest"
	"github.com/rediware/rediware/store/cache"
	"github.com/rediware/rediware/store/goredis"
	"github.com/rediware/rediware/store/querycache"
	"github.com/rediware/rediware/store/tiered"
)

func TestMain(m *testing.M) { redistest.Main(m) }

func newStore(t *testing.T, srv *redistest.Server) *goredis.Store {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	t.Cleanup(func() { c.Close() })
	return goredis.New(c)
}

func TestKey_depends_on_text_and_args(t *testing.T) {
	a, _ := querycache.Key("SELECT $1", 1)
	b, _ := querycache.Key("SELECT $1", 2)
	c, _ := querycache.Key("SELECT $1", "1")
	d, _ := querycache.Key("SELECT $1", 1)
	if a == b || a == c || a != d {
		t.Fatalf("keys %s %s %s %s", a, b, c, d)
	}
	if _, err := querycache.Key("x", func() {}); err == nil {
		t.Fatal("unmarshalable argument accepted")
	}
}

func TestCache_invalidation_on_A_drops_results_cached_by_B(t *testing.T) {
	srv := redistest.Start(t)
	ctx := t.Context()
	qa := querycache.New[string](cache.New(newStore(t, srv), cache.Options[string]{Codec: cache.String()}))
	qb := querycache.New[string](cache.New(newStore(t, srv), cache.Options[string]{Codec: cache.String()}))
	var runs atomic.Int32
	q := querycache.Query{SQL: "SELECT name FROM users WHERE id = $1", Args: []any{42}, Deps: []string{"user:42"}, TTL: time.Minute}
	run := func(v string) func(context.Context) (string, error) {
		return func(context.Context) (string, error) { runs.Add(1); return v, nil }
	}
	if v, _ := qb.Do(ctx, q, run("ann")); v != "ann" {
		t.Fatal(v)
	}
	if v, _ := qb.Do(ctx, q, run("never")); v != "ann" || runs.Load() != 1 {
		t.Fatalf("second Do = %q after %d runs: not cached", v, runs.Load())
	}
	other := querycache.Query{SQL: "SELECT 1", Deps: []string{"user:7"}}
	_, _ = qb.Do(ctx, other, run("one"))
	if n, err := qa.Invalidate(ctx, "user:42"); err != nil || n != 1 {
		t.Fatalf("Invalidate = %d %v, want 1", n, err)
	}
	if v, _ := qb.Do(ctx, q, run("bob")); v != "bob" {
		t.Fatalf("B served %q after A invalidated its dependency", v)
	}
	if v, _ := qb.Do(ctx, other, run("two")); v != "one" {
		t.Fatalf("unrelated query dropped: %q", v)
	}
}

func TestCache_over_tiered_drops_local_results_everywhere(t *testing.T) {
	srv := redistest.Start(t)
	ctx := t.Context()
	mk := func() (*querycache.Cache[string], *tiered.Cache[string]) {
		tc := tiered.New(cache.New(newStore(t, srv), cache.Options[string]{Codec: cache.String()}), tiered.Options[string]{})
		t.Cleanup(func() { tc.Close() })
		<-tc.Ready()
		return querycache.New[string](tc), tc
	}
	qa, _ := mk()
	qb, tb := mk()
	q := querycache.Query{SQL: "SELECT 1", Deps: []string{"table:orders"}}
	_, _ = qb.Do(ctx, q, func(context.Context) (string, error) { return "old", nil })
	if tb.LocalLen() != 1 {
		t.Fatal("not in B's local tier")
	}
	_, _ = qa.Invalidate(ctx, "table:orders")
	deadline := time.Now().Add(20 * time.Second)
	for tb.LocalLen() != 0 {
		if time.Now().After(deadline) {
			t.Fatal("B's local tier kept the dependent result")
		}
		time.Sleep(time.Millisecond)
	}
	if v, _ := qb.Do(ctx, q, func(context.Context) (string, error) { return "new", nil }); v != "new" {
		t.Fatalf("B = %q", v)
	}
}
