package writebehind_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rediware/rediware/internal/redistest"
	"github.com/rediware/rediware/store/cache"
	"github.com/rediware/rediware/store/goredis"
	"github.com/rediware/rediware/store/tiered"
	"github.com/rediware/rediware/store/writebehind"
)

func TestMain(m *testing.M) { redistest.Main(m) }

func newStore(t *testing.T, srv *redistest.Server) *goredis.Store {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: srv.Addr(), MaxRetries: -1})
	t.Cleanup(func() { c.Close() })
	return goredis.New(c)
}

// db is a fake database that makes applying idempotent by ID, as the
// package asks of real ones, and records every call.
type db struct {
	mu      sync.Mutex
	rows    map[string]int
	applied map[string]bool // idempotency keys applied
	calls   int
	dupes   int
}

func newDB() *db { return &db{rows: map[string]int{}, applied: map[string]bool{}} }

func (d *db) apply(_ context.Context, op writebehind.Op[int]) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.calls++
	if d.applied[op.ID] {
		d.dupes++
		return nil
	}
	d.applied[op.ID] = true
	d.rows[op.Key] = op.Value
	return nil
}

func (d *db) snapshot() (map[string]int, int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	m := make(map[string]int, len(d.rows))
	for k, v := range d.rows {
		m[k] = v
	}
	return m, d.calls
}

func TestQueue_Write_updates_cache_at_once_and_database_later(t *testing.T) {
	srv := redistest.Start(t)
	s := newStore(t, srv)
	ctx := t.Context()
	c := cache.New(s, cache.Options[int]{})
	d := newDB()
	q, err := writebehind.New(s, d.apply, writebehind.Options[int]{Cache: c})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := q.Write(ctx, "a", 1); err != nil {
		t.Fatal(err)
	}
	if v, ok, _ := c.Get(ctx, "a"); !ok || v != 1 {
		t.Fatalf("cache = %v %v, want 1 at once", v, ok)
	}
	if rows, _ := d.snapshot(); len(rows) != 0 {
		t.Fatal("database written before a worker ran")
	}
	if err := q.Close(ctx); err != nil { // no worker: Close drains itself
		t.Fatal(err)
	}
	if rows, _ := d.snapshot(); rows["a"] != 1 {
		t.Fatalf("rows %v after Close", rows)
	}
	if n, _ := q.Pending(ctx); n != 0 {
		t.Fatalf("%d entries left in the stream", n)
	}
	if _, err := q.Write(ctx, "b", 2); !errors.Is(err, writebehind.ErrClosed) {
		t.Fatalf("Write after Close = %v", err)
	}
}

func TestQueue_coalesces_repeated_writes_to_one_key(t *testing.T) {
	srv := redistest.Start(t)
	s := newStore(t, srv)
	ctx := t.Context()
	d := newDB()
	var coalesced atomic.Int32
	q, _ := writebehind.New(s, d.apply, writebehind.Options[int]{Hook: func(e writebehind.Event) {
		if e.Kind == writebehind.Coalesced {
			coalesced.Add(1)
		}
	}})
	for i := range 100 {
		if _, err := q.Write(ctx, "hot", i); err != nil {
			t.Fatal(err)
		}
	}
	_, _ = q.Write(ctx, "cold", 7)
	if err := q.Close(ctx); err != nil {
		t.Fatal(err)
	}
	rows, calls := d.snapshot()
	if rows["hot"] != 99 || rows["cold"] != 7 {
		t.Fatalf("rows %v", rows)
	}
	if calls != 2 || coalesced.Load() != 99 {
		t.Fatalf("apply called %d times (coalesced %d), want 2 (99)", calls, coalesced.Load())
	}
}

func TestQueue_retries_then_dead_letters(t *testing.T) {
	srv := redistest.Start(t)
	s := newStore(t, srv)
	ctx := t.Context()
	var attempts atomic.Int32
	q, _ := writebehind.New(s, func(_ context.Context, op writebehind.Op[int]) error {
		attempts.Add(1)
		return errors.New("db: constraint violated")
	}, writebehind.Options[int]{MaxAttempts: 3, Backoff: func(int) time.Duration { return time.Millisecond }})
	id, _ := q.Write(ctx, "bad", 1)
	if err := q.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if attempts.Load() != 3 {
		t.Fatalf("%d attempts, want 3", attempts.Load())
	}
	msgs, err := s.Client().XRange(ctx, q.DeadLetters(), "-", "+").Result()
	if err != nil || len(msgs) != 1 {
		t.Fatalf("dead letters %v %v", msgs, err)
	}
	f := msgs[0].Values
	if f["k"] != "bad" || f["i"] != id || f["v"] != "1" || f["err"] != "db: constraint violated" || f["attempts"] != "3" {
		t.Fatalf("dead letter fields %v", f)
	}
	if n, _ := q.Pending(ctx); n != 0 {
		t.Fatalf("%d entries left", n)
	}
}

func TestQueue_retry_succeeds(t *testing.T) {
	srv := redistest.Start(t)
	s := newStore(t, srv)
	ctx := t.Context()
	var n atomic.Int32
	var gotAttempt atomic.Int32
	q, _ := writebehind.New(s, func(_ context.Context, op writebehind.Op[int]) error {
		if n.Add(1) < 3 {
			return errors.New("transient")
		}
		gotAttempt.Store(int32(op.Attempt))
		return nil
	}, writebehind.Options[int]{Backoff: func(int) time.Duration { return time.Millisecond }})
	_, _ = q.Write(ctx, "k", 1)
	if err := q.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if gotAttempt.Load() != 3 {
		t.Fatalf("applied on attempt %d, want 3", gotAttempt.Load())
	}
}

func TestQueue_WriteWithID_refuses_duplicate(t *testing.T) {
	srv := redistest.Start(t)
	s := newStore(t, srv)
	d := newDB()
	q, _ := writebehind.New(s, d.apply, writebehind.Options[int]{})
	if err := q.WriteWithID(t.Context(), "k", "req-1", 1); err != nil {
		t.Fatal(err)
	}
	if err := q.WriteWithID(t.Context(), "k", "req-1", 2); !errors.Is(err, writebehind.ErrDuplicate) {
		t.Fatalf("second WriteWithID = %v, want ErrDuplicate", err)
	}
	_ = q.Close(t.Context())
	if rows, _ := d.snapshot(); rows["k"] != 1 {
		t.Fatalf("rows %v", rows)
	}
}

// TestQueue_crashed_worker_loses_no_write kills a worker in the middle of a
// batch, right after a database write and before its acknowledgement, and
// checks that a second worker reclaims and applies everything.
func TestQueue_crashed_worker_loses_no_write(t *testing.T) {
	srv := redistest.Start(t)
	ctx := t.Context()
	const n = 50
	d := newDB()
	opts := writebehind.Options[int]{Batch: 20, ClaimIdle: 150 * time.Millisecond, ClaimInterval: 50 * time.Millisecond}

	crashCtx, crash := context.WithCancel(ctx)
	var calls atomic.Int32
	o1 := opts
	o1.Consumer = "w1"
	w1, _ := writebehind.New(newStore(t, srv), func(ctx context.Context, op writebehind.Op[int]) error {
		err := d.apply(ctx, op)
		if calls.Add(1) == 7 {
			crash() // dies after the database write, before the ack
		}
		return err
	}, o1)
	for i := range n {
		if _, err := w1.Write(ctx, fmt.Sprint("k", i), i); err != nil {
			t.Fatal(err)
		}
	}
	if err := w1.Run(crashCtx); !errors.Is(err, context.Canceled) {
		t.Fatalf("crashed worker Run = %v", err)
	}
	if rows, _ := d.snapshot(); len(rows) >= n {
		t.Fatal("the first worker finished everything: no crash mid-batch")
	}

	o2 := opts
	o2.Consumer = "w2"
	var claimed atomic.Int32
	o2.Hook = func(e writebehind.Event) {
		if e.Kind == writebehind.Claimed {
			claimed.Add(1)
		}
	}
	w2, _ := writebehind.New(newStore(t, srv), d.apply, o2)
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- w2.Run(runCtx) }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		rows, _ := d.snapshot()
		if len(rows) == n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d writes applied", len(rows), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := w2.Close(ctx); err != nil {
		t.Fatal(err)
	}
	stop()
	<-done
	rows, _ := d.snapshot()
	for i := range n {
		if v, ok := rows[fmt.Sprint("k", i)]; !ok || v != i {
			t.Fatalf("k%d = %v %v", i, v, ok)
		}
	}
	if claimed.Load() == 0 {
		t.Fatal("second worker reclaimed nothing")
	}
	d.mu.Lock()
	dupes := d.dupes
	d.mu.Unlock()
	if dupes != 1 {
		t.Fatalf("%d duplicate deliveries, want exactly 1 (the write applied but not acked)", dupes)
	}
	if n, _ := w2.Pending(ctx); n != 0 {
		t.Fatalf("%d entries left", n)
	}
}

func TestQueue_Close_drains_while_worker_runs(t *testing.T) {
	srv := redistest.Start(t)
	s := newStore(t, srv)
	ctx := t.Context()
	d := newDB()
	q, _ := writebehind.New(s, func(ctx context.Context, op writebehind.Op[int]) error {
		time.Sleep(time.Millisecond)
		return d.apply(ctx, op)
	}, writebehind.Options[int]{Batch: 5})
	done := make(chan error, 1)
	go func() { done <- q.Run(ctx) }()
	for i := range 30 {
		_, _ = q.Write(ctx, fmt.Sprint("k", i), i)
	}
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := q.Close(cctx); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("Run after drain = %v, want nil", err)
	}
	if rows, _ := d.snapshot(); len(rows) != 30 {
		t.Fatalf("%d of 30 applied when Close returned", len(rows))
	}
}

func TestQueue_redis_down_Write_fails(t *testing.T) {
	srv := redistest.Start(t)
	s := newStore(t, srv)
	q, _ := writebehind.New(s, newDB().apply, writebehind.Options[int]{})
	srv.Kill()
	if _, err := q.Write(t.Context(), "k", 1); err == nil {
		t.Fatal("Write with Redis down reported no error")
	}
}

func TestQueue_Write_through_tiered_cache_drops_local_copies(t *testing.T) {
	srv := redistest.Start(t)
	ctx := t.Context()
	s := newStore(t, srv)
	tc := tiered.New(cache.New(s, cache.Options[int]{}), tiered.Options[int]{})
	defer tc.Close()
	<-tc.Ready()
	_ = tc.Set(ctx, "k", 1, time.Minute)
	if v, _, _ := tc.Get(ctx, "k"); v != 1 || tc.LocalLen() != 1 {
		t.Fatal("not cached locally")
	}
	q, _ := writebehind.New(s, newDB().apply, writebehind.Options[int]{Cache: tc})
	if _, err := q.Write(ctx, "k", 2); err != nil {
		t.Fatal(err)
	}
	if v, _, _ := tc.Get(ctx, "k"); v != 2 {
		t.Fatalf("tiered cache serves %d after a queued write of 2", v)
	}
	_ = q.Close(ctx)
}

func TestQueue_Apply_panic_is_a_failed_attempt(t *testing.T) {
	srv := redistest.Start(t)
	s := newStore(t, srv)
	ctx := t.Context()
	q, _ := writebehind.New(s, func(context.Context, writebehind.Op[int]) error { panic("boom") },
		writebehind.Options[int]{MaxAttempts: 2, Backoff: func(int) time.Duration { return time.Millisecond }})
	_, _ = q.Write(ctx, "k", 1)
	if err := q.Close(ctx); err != nil {
		t.Fatal(err)
	}
	msgs, _ := s.Client().XRange(ctx, q.DeadLetters(), "-", "+").Result()
	if len(msgs) != 1 || msgs[0].Values["err"] != "writebehind: Apply panicked: boom" {
		t.Fatalf("dead letters %v", msgs)
	}
}

func TestQueue_concurrent_writes_leave_the_newest_in_cache(t *testing.T) {
	srv := redistest.Start(t)
	s := newStore(t, srv)
	ctx := t.Context()
	c := cache.New(s, cache.Options[int]{})
	q, _ := writebehind.New(s, newDB().apply, writebehind.Options[int]{Cache: c})
	for round := range 20 {
		var wg sync.WaitGroup
		for i := range 8 {
			wg.Go(func() { _, _ = q.Write(ctx, "k", round*100+i) })
		}
		wg.Wait()
		r, _ := s.Client().HGet(ctx, "{wb:default}:latest", "k").Result()
		var seq, newest int
		fmt.Sscanf(r, "%d|%d", &seq, &newest)
		if v, _, _ := c.Get(ctx, "k"); v != newest {
			t.Fatalf("round %d: cache holds %d, newest queued write is %d", round, v, newest)
		}
	}
	_ = q.Close(ctx)
}

// TestQueue_worker_recreates_group_after_redis_restart restarts Redis with
// its data gone (stream and consumer group included) under a running
// worker: XREADGROUP then fails with NOGROUP, and the worker must recreate
// the group and go on applying new writes.
func TestQueue_worker_recreates_group_after_redis_restart(t *testing.T) {
	srv := redistest.Start(t)
	s := newStore(t, srv)
	ctx := t.Context()
	d := newDB()
	q, _ := writebehind.New(s, d.apply, writebehind.Options[int]{Block: 50 * time.Millisecond})
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- q.Run(runCtx) }()
	waitRow := func(key string, want int) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			if rows, _ := d.snapshot(); rows[key] == want {
				return
			}
			if time.Now().After(deadline) {
				rows, _ := d.snapshot()
				t.Fatalf("%s never applied: rows %v", key, rows)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	if _, err := q.Write(ctx, "before", 1); err != nil {
		t.Fatal(err)
	}
	waitRow("before", 1)
	srv.Restart()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := q.Write(ctx, "after", 2); err == nil {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("Write after restart: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	waitRow("after", 2)
	stop()
	<-done
}

// TestQueue_Close_returns_at_ctx_when_redis_hangs pauses Redis (it accepts
// connections and never answers) under a client with no read timeout, so
// only ctx can bound the drain: Close must return ctx's error when ctx
// ends, with or without a running worker, instead of hanging.
func TestQueue_Close_returns_at_ctx_when_redis_hangs(t *testing.T) {
	for _, worker := range []bool{false, true} {
		t.Run(fmt.Sprint("worker=", worker), func(t *testing.T) {
			srv := redistest.Start(t)
			c := redis.NewClient(&redis.Options{Addr: srv.Addr(), MaxRetries: -1, ReadTimeout: -1, WriteTimeout: -1})
			t.Cleanup(func() { c.Close() })
			s := goredis.New(c)
			ctx := t.Context()
			q, _ := writebehind.New(s, newDB().apply, writebehind.Options[int]{Block: 20 * time.Millisecond})
			if _, err := q.Write(ctx, "k", 1); err != nil {
				t.Fatal(err)
			}
			if worker {
				runCtx, stop := context.WithCancel(ctx)
				defer stop()
				go func() { _ = q.Run(runCtx) }()
			}
			srv.Pause()
			defer srv.Resume()
			cctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
			defer cancel()
			done := make(chan error, 1)
			go func() { done <- q.Close(cctx) }()
			select {
			case err := <-done:
				if err == nil {
					t.Fatal("Close reported a drained queue while Redis hangs")
				}
				if !errors.Is(err, context.DeadlineExceeded) {
					t.Logf("Close = %v", err)
				}
			case <-time.After(20 * time.Second):
				t.Fatal("Close hung past its context")
			}
		})
	}
}

// gatedCache is a cache whose Set of one value waits for a signal, to hold
// a Write between its enqueue and its cache update.
type gatedCache struct {
	*cache.Cache[int]
	gateValue int
	reached   chan struct{}
	release   chan struct{}
}

func (g *gatedCache) Set(ctx context.Context, key string, v int, ttl time.Duration, tags ...string) error {
	if v == g.gateValue {
		close(g.reached)
		<-g.release
	}
	return g.Cache.Set(ctx, key, v, ttl, tags...)
}

// newGatedCache returns a cache over s whose Set of gateValue waits.
func newGatedCache(s *goredis.Store, gateValue int) *gatedCache {
	return &gatedCache{Cache: cache.New(s, cache.Options[int]{}), gateValue: gateValue, reached: make(chan struct{}), release: make(chan struct{})}
}

// drain runs a worker for q until the test ends, and waits until q has no
// write pending.
func drain(t *testing.T, q *writebehind.Queue[int]) {
	t.Helper()
	runCtx, stop := context.WithCancel(t.Context())
	t.Cleanup(stop)
	go func() { _ = q.Run(runCtx) }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if n, _ := q.Pending(t.Context()); n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("queue not drained")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestQueue_late_cache_update_of_older_write_does_not_win holds a Write of
// 1 between its enqueue and its cache Set while a Write of 2 completes and
// the worker applies it: the older write's late Set must not leave 1 in
// the cache while the database holds 2.
func TestQueue_late_cache_update_of_older_write_does_not_win(t *testing.T) {
	srv := redistest.Start(t)
	s := newStore(t, srv)
	ctx := t.Context()
	g := newGatedCache(s, 1)
	d := newDB()
	q, _ := writebehind.New(s, d.apply, writebehind.Options[int]{Cache: g})
	first := make(chan error, 1)
	go func() { _, err := q.Write(ctx, "k", 1); first <- err }()
	<-g.reached // 1 is enqueued; its cache Set waits
	if _, err := q.Write(ctx, "k", 2); err != nil {
		t.Fatal(err)
	}
	drain(t, q) // a worker applies 2 (1 is coalesced) before 1's cache Set runs
	if rows, _ := d.snapshot(); rows["k"] != 2 {
		t.Fatalf("database %v, want k=2", rows)
	}
	close(g.release)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if v, ok, _ := g.Get(ctx, "k"); ok && v != 2 {
		t.Fatalf("cache holds %d after the database was written with 2", v)
	}
}

// fragile's UnmarshalBinary panics on a short buffer, as hand-written
// decoders often do.
type fragile struct{ N uint64 }

func (f *fragile) MarshalBinary() ([]byte, error) {
	return binary.BigEndian.AppendUint64(nil, f.N), nil
}

func (f *fragile) UnmarshalBinary(b []byte) error {
	f.N = binary.BigEndian.Uint64(b)
	return nil
}

func TestQueue_codec_panic_dead_letters_the_entry(t *testing.T) {
	srv := redistest.Start(t)
	s := newStore(t, srv)
	ctx := t.Context()
	var applied atomic.Int32
	q, _ := writebehind.New(s, func(context.Context, writebehind.Op[fragile]) error { applied.Add(1); return nil },
		writebehind.Options[fragile]{Codec: cache.Binary[fragile]()})
	if _, err := q.Write(ctx, "k", fragile{1}); err != nil {
		t.Fatal(err)
	}
	// Corrupt the queued value (a writer with another codec, say).
	r, _ := s.Client().HGet(ctx, "{wb:default}:latest", "k").Result()
	seq, _, _ := strings.Cut(r, "|")
	if err := s.Client().HSet(ctx, "{wb:default}:latest", "k", seq+"|\x01\x02").Err(); err != nil {
		t.Fatal(err)
	}
	if err := q.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if applied.Load() != 0 {
		t.Fatal("an undecodable value was applied")
	}
	msgs, _ := s.Client().XRange(ctx, q.DeadLetters(), "-", "+").Result()
	if len(msgs) != 1 || !strings.Contains(fmt.Sprint(msgs[0].Values["err"]), "decode") {
		t.Fatalf("dead letters %v", msgs)
	}
}
