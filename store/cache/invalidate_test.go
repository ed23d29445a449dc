package cache_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/rediware/rediware/store/cache"
)

func TestInvalidateTags_drops_tagged_entries(t *testing.T) {
	_, s := newStore(t)
	ctx := t.Context()
	c := cache.New(s, cache.Options[int]{})
	_ = c.Set(ctx, "a", 1, time.Minute, "team:1")
	_ = c.Set(ctx, "b", 2, time.Minute, "team:1", "org:9")
	_ = c.Set(ctx, "c", 3, time.Minute, "team:2")
	n, err := c.InvalidateTags(ctx, "team:1")
	if err != nil || n != 2 {
		t.Fatalf("InvalidateTags = %d %v, want 2 deleted", n, err)
	}
	for _, k := range []string{"a", "b"} {
		if _, ok, _ := c.Get(ctx, k); ok {
			t.Fatalf("%s survived its tag's invalidation", k)
		}
	}
	if v, ok, _ := c.Get(ctx, "c"); !ok || v != 3 {
		t.Fatal("c (other tag) was dropped")
	}
}

func TestInvalidateTags_entry_kept_by_a_failed_delete_reads_as_stale(t *testing.T) {
	_, s := newStore(t)
	ctx := t.Context()
	c := cache.New(s, cache.Options[int]{})
	_ = c.Set(ctx, "a", 1, time.Minute, "t")
	raw, _, _ := s.Get(ctx, "cache:a")
	if _, err := c.InvalidateTags(ctx, "t"); err != nil {
		t.Fatal(err)
	}
	// Put the old entry back, as if the UNLINK had been lost.
	_ = s.Set(ctx, "cache:a", raw, time.Minute)
	if _, ok, _ := c.Get(ctx, "a"); ok {
		t.Fatal("an entry stamped with the old tag version was served")
	}
}

func TestInvalidateTags_load_racing_the_invalidation_is_not_served(t *testing.T) {
	_, s := newStore(t)
	ctx := t.Context()
	c := cache.New(s, cache.Options[string]{Codec: cache.String()})
	loading := make(chan struct{})
	proceed := make(chan struct{})
	done := make(chan string)
	go func() {
		v, _ := c.GetOrLoad(ctx, "q", func(context.Context) (string, error) {
			close(loading)
			<-proceed // the database is read here, before the invalidation
			return "old", nil
		}, time.Minute, "user:42")
		done <- v
	}()
	<-loading
	if _, err := c.InvalidateTags(ctx, "user:42"); err != nil {
		t.Fatal(err)
	}
	close(proceed)
	if v := <-done; v != "old" {
		t.Fatalf("the racing load returned %q", v)
	}
	if v, ok, _ := c.Get(ctx, "q"); ok {
		t.Fatalf("Get served %q, written by a load that started before the invalidation", v)
	}
	v, err := c.GetOrLoad(ctx, "q", func(context.Context) (string, error) { return "new", nil }, time.Minute, "user:42")
	if err != nil || v != "new" {
		t.Fatalf("reload = %q %v", v, err)
	}
	if v, ok, _ := c.Get(ctx, "q"); !ok || v != "new" {
		t.Fatalf("after reload Get = %q %v", v, ok)
	}
}

func TestInvalidateTags_member_set_expires_and_is_pruned(t *testing.T) {
	_, s := newStore(t)
	ctx := t.Context()
	c := cache.New(s, cache.Options[int]{Prefix: "p:", Jitter: -1})
	_ = c.Set(ctx, "short", 1, 50*time.Millisecond, "t")
	time.Sleep(80 * time.Millisecond)
	_ = c.Set(ctx, "long", 2, 10*time.Second, "t")
	d := s.Client()
	members, err := d.ZRange(ctx, "{p:~tag:t}:m", 0, -1).Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(members) != 1 || members[0] != "p:long" {
		t.Fatalf("members %v, want the expired one pruned", members)
	}
	ttl, _ := d.PTTL(ctx, "{p:~tag:t}:m").Result()
	if ttl <= 5*time.Second || ttl > 10*time.Second { // the short member's would be 50ms
		t.Fatalf("member set ttl %v, want the newest member's", ttl)
	}
}

func TestInvalidatePattern_deletes_matching_keys_in_batches(t *testing.T) {
	_, s := newStore(t)
	ctx := t.Context()
	c := cache.New(s, cache.Options[int]{Prefix: "pp[1]:"})
	for i := range 1200 {
		_ = c.Set(ctx, fmt.Sprintf("user:%d", i), i, time.Minute)
	}
	_ = c.Set(ctx, "order:1", 1, time.Minute, "x")
	n, err := c.InvalidatePattern(ctx, "user:*")
	if err != nil || n != 1200 {
		t.Fatalf("InvalidatePattern = %d %v, want 1200", n, err)
	}
	if _, ok, _ := c.Get(ctx, "order:1"); !ok {
		t.Fatal("non-matching key deleted")
	}
	if n, _ := c.InvalidatePattern(ctx, "*"); n != 1 {
		t.Fatalf("InvalidatePattern(*) = %d, want 1 (meta keys kept)", n)
	}
	if ex, _ := s.Client().Exists(ctx, "{pp[1]:~tag:x}:m").Result(); ex != 1 {
		t.Fatal("InvalidatePattern deleted the cache's own tag keys")
	}
}

func TestInvalidate_tombstone_defeats_a_racing_fill(t *testing.T) {
	_, s := newStore(t)
	ctx := t.Context()
	c := cache.New(s, cache.Options[string]{Codec: cache.String()})
	loading := make(chan struct{})
	proceed := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = c.GetOrLoad(ctx, "k", func(context.Context) (string, error) {
			close(loading)
			<-proceed
			return "old", nil
		}, time.Minute)
	}()
	<-loading
	// The database changes and the writer invalidates, while the fill that
	// read the old row is still running.
	if err := c.Invalidate(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	close(proceed)
	<-done
	if v, ok, _ := c.Get(ctx, "k"); ok {
		t.Fatalf("Get served %q from a fill that started before Invalidate", v)
	}
	v, _ := c.GetOrLoad(ctx, "k", func(context.Context) (string, error) { return "new", nil }, time.Minute)
	if v != "new" {
		t.Fatalf("next GetOrLoad = %q, want new", v)
	}
	if v, ok, _ := c.Get(ctx, "k"); !ok || v != "new" {
		t.Fatalf("after tombstone refill Get = %q %v", v, ok)
	}
}

func TestWriteThrough_failing_writer_leaves_no_entry(t *testing.T) {
	_, s := newStore(t)
	ctx := t.Context()
	c := cache.New(s, cache.Options[string]{Codec: cache.String()})
	_ = c.Set(ctx, "k", "old", time.Minute)
	dbErr := errors.New("db: constraint violated")
	err := c.WriteThrough(ctx, "k", "new", func(context.Context, string) error { return dbErr }, time.Minute)
	if !errors.Is(err, dbErr) {
		t.Fatalf("WriteThrough = %v, want the db error", err)
	}
	if v, ok, _ := c.Get(ctx, "k"); ok {
		t.Fatalf("cache holds %q after a failed database write", v)
	}
}

func TestWriteThrough_writes_database_then_cache(t *testing.T) {
	_, s := newStore(t)
	ctx := t.Context()
	c := cache.New(s, cache.Options[string]{Codec: cache.String()})
	var db string
	err := c.WriteThrough(ctx, "k", "v1", func(_ context.Context, v string) error {
		if _, ok, _ := c.Get(ctx, "k"); ok {
			t.Error("cache written before the database")
		}
		db = v
		return nil
	}, time.Minute)
	if err != nil || db != "v1" {
		t.Fatalf("WriteThrough = %v, db %q", err, db)
	}
	if v, ok, _ := c.Get(ctx, "k"); !ok || v != "v1" {
		t.Fatalf("Get = %q %v", v, ok)
	}
}

func TestWriteThrough_redis_down_still_writes_database(t *testing.T) {
	srv, s := newStore(t)
	ctx := t.Context()
	c := cache.New(s, cache.Options[string]{Codec: cache.String()})
	srv.Kill()
	var db string
	err := c.WriteThrough(ctx, "k", "v", func(_ context.Context, v string) error { db = v; return nil }, 0)
	if !errors.Is(err, cache.ErrCacheNotUpdated) || db != "v" {
		t.Fatalf("WriteThrough = %v (db %q), want ErrCacheNotUpdated after the db write", err, db)
	}
}

func TestWriteAround_invalidates_after_write(t *testing.T) {
	_, s := newStore(t)
	ctx := t.Context()
	c := cache.New(s, cache.Options[string]{Codec: cache.String()})
	_ = c.Set(ctx, "k", "old", time.Minute)
	dbErr := errors.New("timeout, may have committed")
	if err := c.WriteAround(ctx, "k", func(context.Context) error { return dbErr }); !errors.Is(err, dbErr) {
		t.Fatalf("WriteAround = %v", err)
	}
	if _, ok, _ := c.Get(ctx, "k"); ok {
		t.Fatal("entry kept after a write that may have committed")
	}
}

// TestWriteThrough_concurrent_writers_leave_no_older_value commits W1 to
// the database, then lets W2 commit and set the cache, and only then lets
// W1 set the cache: the database holds W2's value, so the cache must hold
// W2's value or nothing, never W1's.
func TestWriteThrough_concurrent_writers_leave_no_older_value(t *testing.T) {
	_, s := newStore(t)
	ctx := t.Context()
	c := cache.New(s, cache.Options[string]{Codec: cache.String()})
	var mu sync.Mutex
	db := ""
	commit := func(v string) {
		mu.Lock()
		db = v
		mu.Unlock()
	}
	w1Committed, w2Done := make(chan struct{}), make(chan struct{})
	w1 := make(chan error, 1)
	go func() {
		w1 <- c.WriteThrough(ctx, "k", "v1", func(_ context.Context, v string) error {
			commit(v)
			close(w1Committed)
			<-w2Done // W1's cache update comes last
			return nil
		}, time.Minute)
	}()
	<-w1Committed
	if err := c.WriteThrough(ctx, "k", "v2", func(_ context.Context, v string) error { commit(v); return nil }, time.Minute); err != nil {
		t.Fatal(err)
	}
	close(w2Done)
	if err := <-w1; err != nil {
		t.Fatal(err)
	}
	if v, ok, _ := c.Get(ctx, "k"); ok && v != db {
		t.Fatalf("cache holds %q, database %q", v, db)
	}
	// The next read loads the database's value.
	v, _ := c.GetOrLoad(ctx, "k", func(context.Context) (string, error) { return db, nil }, time.Minute)
	if v != "v2" {
		t.Fatalf("GetOrLoad = %q, want v2", v)
	}
}

// TestWriteThrough_sequential_writers_cache_the_value: the compare-and-set
// that guards against racing writers does not cost a miss when there is
// no race.
func TestWriteThrough_sequential_writers_cache_the_value(t *testing.T) {
	_, s := newStore(t)
	ctx := t.Context()
	c := cache.New(s, cache.Options[string]{Codec: cache.String()})
	for _, v := range []string{"a", "b", "c"} {
		if err := c.WriteThrough(ctx, "k", v, func(context.Context, string) error { return nil }, time.Minute, "tag"); err != nil {
			t.Fatal(err)
		}
		if got, ok, _ := c.Get(ctx, "k"); !ok || got != v {
			t.Fatalf("Get = %q %v, want %q", got, ok, v)
		}
	}
}

// A tag's version key can vanish (it expires; under maxmemory allkeys-*
// Redis may evict it, and the member set with it). An invalidation after
// that must still make every older entry stale: a version number is never
// handed out twice.
func TestInvalidateTags_after_version_key_loss_does_not_revive_older_entries(t *testing.T) {
	_, s := newStore(t)
	ctx := t.Context()
	c := cache.New(s, cache.Options[int]{})
	if _, err := c.InvalidateTags(ctx, "T"); err != nil {
		t.Fatal(err)
	}
	if err := c.Set(ctx, "k", 1, time.Hour, "T"); err != nil { // stamped with T's current version
		t.Fatal(err)
	}
	// The version and member set are lost (evicted); the entry is not.
	if _, err := s.Delete(ctx, "{cache:~tag:T}:v", "{cache:~tag:T}:m"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.InvalidateTags(ctx, "T"); err != nil {
		t.Fatal(err)
	}
	if v, ok, err := c.Get(ctx, "k"); err != nil || ok {
		t.Fatalf("Get = %v %v %v: an entry written before the invalidation is served", v, ok, err)
	}
}
