package querycache_test

import (
	"context"
	"errors"
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

// TestCache_dependency_index_keys_all_expire checks that the dependency
// index cannot grow without bound: after results, negative results and
// invalidations, every key in Redis has a TTL; the member set of a
// dependency lives as long as its longest-lived result, and a dependency's
// version outlives every result stamped with it.
func TestCache_dependency_index_keys_all_expire(t *testing.T) {
	srv := redistest.Start(t)
	ctx := t.Context()
	s := newStore(t, srv)
	qc := querycache.New[string](cache.New(s, cache.Options[string]{
		Codec: cache.String(), Prefix: "qi:", Jitter: -1, NegativeTTL: time.Minute, TagVersionTTL: time.Hour,
	}))
	run := func(context.Context) (string, error) { return "r", nil }
	short := querycache.Query{SQL: "short", Deps: []string{"user:1", "table:t"}, TTL: time.Minute}
	long := querycache.Query{SQL: "long", Deps: []string{"table:t"}, TTL: 3 * time.Hour}
	missing := querycache.Query{SQL: "missing", Deps: []string{"user:2"}, TTL: time.Minute}
	_, _ = qc.Do(ctx, short, run)
	_, _ = qc.Do(ctx, long, run)
	if _, err := qc.Do(ctx, missing, func(context.Context) (string, error) { return "", cache.ErrNotFound }); !errors.Is(err, cache.ErrNotFound) {
		t.Fatalf("missing = %v", err)
	}
	ttl := func(k string) time.Duration {
		t.Helper()
		d, err := s.Client().PTTL(ctx, k).Result()
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	if d := ttl("{qi:~tag:table:t}:m"); d < 2*time.Hour || d > 3*time.Hour {
		t.Fatalf("member set of table:t expires in %v, want its longest result's 3h", d)
	}
	// A version outlives the results its dependency still indexes...
	if _, err := qc.Invalidate(ctx, "table:t", "user:1"); err != nil {
		t.Fatal(err)
	}
	if d := ttl("{qi:~tag:table:t}:v"); d < 2*time.Hour {
		t.Fatalf("version of table:t expires in %v, before the 3h result it indexed", d)
	}
	if d := ttl("{qi:~tag:user:1}:v"); d <= 0 || d > time.Hour {
		t.Fatalf("version of user:1 expires in %v, want TagVersionTTL (1h)", d)
	}
	// ...and is stretched by a result written later that lives longer.
	longer := querycache.Query{SQL: "longer", Deps: []string{"user:1"}, TTL: 3 * time.Hour}
	_, _ = qc.Do(ctx, longer, run)
	if d := ttl("{qi:~tag:user:1}:v"); d < 2*time.Hour {
		t.Fatalf("version of user:1 expires in %v, before the 3h result stamped with it", d)
	}
	_, _ = qc.Do(ctx, long, run)
	keys, err := s.Client().Keys(ctx, "*").Result() // test only: a tiny keyspace
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) == 0 {
		t.Fatal("no keys")
	}
	for _, k := range keys {
		if d := ttl(k); d <= 0 {
			t.Errorf("%q has no TTL (%v)", k, d)
		}
	}
}
