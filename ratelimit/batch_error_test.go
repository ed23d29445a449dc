package ratelimit_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rediware/rediware/internal/redistest"
	"github.com/rediware/rediware/ratelimit"
	"github.com/rediware/rediware/store"
	"github.com/rediware/rediware/store/goredis"
)

// gateStore holds the first two script calls until release lets them go,
// one per call, so that the decisions arriving meanwhile queue up behind
// the batches in flight and go to Redis together.
type gateStore struct {
	store.Store
	calls atomic.Int32
	gate  chan struct{}
}

func (g *gateStore) Eval(ctx context.Context, sc *store.Script, keys []string, args ...any) (any, error) {
	if g.calls.Add(1) <= 2 {
		<-g.gate
	}
	return g.Store.Eval(ctx, sc, keys, args...)
}

func (g *gateStore) release() { g.gate <- struct{}{} }

// waitFor polls cond for up to 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// batchBehindTwo holds two unbatched calls in g (l's two batches in
// flight) and queues each of decide in turn behind them, then lets the
// held calls go and waits for every decision: decide[0] leads one batch of
// them all, which it requires.
func batchBehindTwo(t *testing.T, l *ratelimit.Limiter, g *gateStore, decide ...func()) {
	t.Helper()
	var held, queued sync.WaitGroup
	for i := range 2 {
		held.Go(func() {
			if _, err := l.Allow(context.Background(), "holder"+strconv.Itoa(i)); err != nil {
				t.Errorf("holder %d: %v", i, err)
			}
		})
	}
	waitFor(t, "two calls in flight", func() bool { return g.calls.Load() == 2 })
	for i, d := range decide {
		queued.Go(d)
		waitFor(t, fmt.Sprintf("decision %d queued", i), func() bool { return ratelimit.Pending(l) == i+1 })
	}
	g.release() // the first holder returns and hands the lead to decide[0]
	done := make(chan struct{})
	go func() { queued.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the decisions queued in one batch never returned")
	}
	g.release()
	held.Wait()
	if got := ratelimit.Batched(l); got != int64(len(decide)) {
		t.Fatalf("%d decisions went in shared batches, want the %d queued", got, len(decide))
	}
}

// TestBatch_foreign_value_fails_only_its_own_decision puts a hash where one
// client's state belongs and sends that client's decision in one batch with
// eight others. Unbatched, that decision fails with WRONGTYPE and nothing
// else is affected; batched, it must fail the same way, leave the foreign
// value alone, and the eight other clients must be decided as usual.
func TestBatch_foreign_value_fails_only_its_own_decision(t *testing.T) {
	_, s := newRedis(t)
	rc := s.Client()
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		lname  string
		limits []ratelimit.Limit
		badKey string
	}{
		{"gcra", "fg", []ratelimit.Limit{ratelimit.Per(5, time.Hour).WithName("p")}, "{rl:fg:bad}:p:gcra"},
		{"fw+swl", "fm", []ratelimit.Limit{
			ratelimit.Per(5, time.Hour).WithName("p").WithAlgorithm(ratelimit.FixedWindow),
			ratelimit.Per(5, time.Hour).WithName("q").WithAlgorithm(ratelimit.SlidingWindowLog),
		}, "{rl:fm:bad}:q:swl"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			name := tc.lname
			if err := rc.HSet(ctx, tc.badKey, "foreign", "1").Err(); err != nil {
				t.Fatal(err)
			}
			single, _ := newLimiter(t, s, ratelimit.Options{Name: name, Limits: tc.limits})
			if _, err := single.Allow(ctx, "bad"); !store.IsRedisError(err, "WRONGTYPE") {
				t.Fatalf("unbatched decision on a foreign value: err %v, want WRONGTYPE", err)
			}

			g := &gateStore{Store: s, gate: make(chan struct{})}
			l, _ := newLimiter(t, g, ratelimit.Options{Name: name, Limits: tc.limits, Batch: true})
			var badErr error
			results := make([]*ratelimit.Result, 8)
			errs := make([]error, 8)
			decide := []func(){func() { _, badErr = l.Allow(ctx, "bad") }}
			for i := range results {
				decide = append(decide, func() { results[i], errs[i] = l.Allow(ctx, "good"+strconv.Itoa(i)) })
			}
			batchBehindTwo(t, l, g, decide...)

			if !store.IsRedisError(badErr, "WRONGTYPE") {
				t.Errorf("batched decision on a foreign value: err %v, want WRONGTYPE as unbatched", badErr)
			}
			for i := range results {
				if errs[i] != nil || !results[i].Allowed || results[i].Source != ratelimit.SourceRedis || results[i].Remaining != 4 {
					t.Errorf("client good%d, batched with the foreign value: %+v, %v; want allowed by redis with 4 left", i, results[i], errs[i])
				}
			}
			if typ := rc.Type(ctx, tc.badKey).Val(); typ != "hash" {
				t.Errorf("the foreign value is now a %s, want the hash left alone", typ)
			}
		})
	}
}

// panicStore panics in Eval for a decision whose keys mention "boom",
// after holding the first two calls like gateStore.
type panicStore struct{ gateStore }

func (p *panicStore) Eval(ctx context.Context, sc *store.Script, keys []string, args ...any) (any, error) {
	for _, k := range keys {
		if strings.Contains(k, "boom") {
			panic("store bug")
		}
	}
	return p.gateStore.Eval(ctx, sc, keys, args...)
}

// allowRecover is l.Allow with a panic turned into an error.
func allowRecover(l *ratelimit.Limiter, key string) (res *ratelimit.Result, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v", p)
		}
	}()
	return l.Allow(context.Background(), key)
}

// TestBatch_store_panic_releases_the_batch: a store whose Eval panics (a
// bug in a custom store) panics the request that sent the batch, as it
// would unbatched, but must not leave the other decisions of that batch
// waiting forever, nor keep the batch's in-flight slot: after more panics
// than there are slots, decisions still complete.
func TestBatch_store_panic_releases_the_batch(t *testing.T) {
	_, s := newRedis(t)
	g := &panicStore{gateStore{Store: s, gate: make(chan struct{})}}
	l, _ := newLimiter(t, g, ratelimit.Options{Name: "panics", Limits: []ratelimit.Limit{ratelimit.PerHour(5)}, Batch: true})
	var boomErr, okErr error
	batchBehindTwo(t, l, &g.gateStore,
		func() { _, boomErr = allowRecover(l, "boom") },
		func() { _, okErr = allowRecover(l, "ok") })
	if boomErr == nil || !strings.Contains(boomErr.Error(), "panic") {
		t.Errorf("the batch's sender: err %v, want its panic", boomErr)
	}
	if okErr == nil {
		t.Errorf("a decision batched with a panicking store call: no error")
	}
	for i := range 3 {
		res := make(chan error, 1)
		go func() { _, err := allowRecover(l, "boom"); res <- err }()
		select {
		case <-res:
		case <-time.After(10 * time.Second):
			t.Fatalf("decision %d after panics never returned: the batch's in-flight slots leaked", i)
		}
	}
	done2 := make(chan error, 1)
	go func() {
		res, err := allowRecover(l, "fine")
		if err == nil && !res.Allowed {
			err = fmt.Errorf("denied %+v", res)
		}
		done2 <- err
	}()
	select {
	case err := <-done2:
		if err != nil {
			t.Fatalf("a decision after the panics: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a decision after the panics never returned: the batch's in-flight slots leaked")
	}
}

// TestBatch_script_error_in_one_decision_is_an_ERR_reply_as_unbatched: a
// foreign value the script cannot read as a number (a fixed window whose
// count is "abc") makes Lua raise a runtime error, which Redis sends as an
// ERR reply. Batched with others, that decision must get the same kind of
// error (a *store.RedisError with code ERR), and the others be decided.
func TestBatch_script_error_in_one_decision_is_an_ERR_reply_as_unbatched(t *testing.T) {
	_, s := newRedis(t)
	rc := s.Client()
	ctx := context.Background()
	lim := ratelimit.PerHour(5).WithName("p").WithAlgorithm(ratelimit.FixedWindow)
	win := base.UnixMicro() / time.Hour.Microseconds()
	if err := rc.HSet(ctx, "{rl:fe:bad}:p:fw", "w", win, "c", "abc").Err(); err != nil {
		t.Fatal(err)
	}
	single, _ := newLimiter(t, s, ratelimit.Options{Name: "fe", Limits: []ratelimit.Limit{lim}})
	if _, err := single.Allow(ctx, "bad"); !store.IsRedisError(err, "ERR") {
		t.Fatalf("unbatched: err %v, want an ERR reply", err)
	}
	g := &gateStore{Store: s, gate: make(chan struct{})}
	l, _ := newLimiter(t, g, ratelimit.Options{Name: "fe", Limits: []ratelimit.Limit{lim}, Batch: true})
	var badErr, goodErr error
	var good *ratelimit.Result
	batchBehindTwo(t, l, g,
		func() { _, badErr = l.Allow(ctx, "bad") },
		func() { good, goodErr = l.Allow(ctx, "good") })
	if !store.IsRedisError(badErr, "ERR") {
		t.Errorf("batched: err %v, want an ERR reply as unbatched", badErr)
	}
	if goodErr != nil || !good.Allowed {
		t.Errorf("the other decision of the batch: %+v %v", good, goodErr)
	}
}

// TestBatch_key_over_the_store_limit_fails_only_its_own_decision: a store
// refuses a key longer than its MaxKeyLen before sending anything
// (store.ErrInvalidKey). A client key that makes one decision's Redis key
// too long must fail that decision alone, as unbatched, not the batch it
// was sent in.
func TestBatch_key_over_the_store_limit_fails_only_its_own_decision(t *testing.T) {
	srv := redistest.Start(t)
	c := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	t.Cleanup(func() { _ = c.Close() })
	s, err := goredis.NewWithOptions(c, goredis.Options{MaxKeyLen: 200})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	lim := ratelimit.PerHour(5).WithName("p")
	long := strings.Repeat("a", ratelimit.MaxKeyLen) // used as it is: its Redis key is over 200 bytes
	single, _ := newLimiter(t, s, ratelimit.Options{Name: "kl", Limits: []ratelimit.Limit{lim}})
	if _, err := single.Allow(ctx, long); !errors.Is(err, store.ErrInvalidKey) {
		t.Fatalf("unbatched: err %v, want store.ErrInvalidKey", err)
	}
	g := &gateStore{Store: s, gate: make(chan struct{})}
	l, _ := newLimiter(t, g, ratelimit.Options{Name: "kl", Limits: []ratelimit.Limit{lim}, Batch: true})
	var badErr, goodErr error
	var good *ratelimit.Result
	batchBehindTwo(t, l, g,
		func() { _, badErr = l.Allow(ctx, long) },
		func() { good, goodErr = l.Allow(ctx, "good") })
	if !errors.Is(badErr, store.ErrInvalidKey) {
		t.Errorf("batched: err %v, want store.ErrInvalidKey as unbatched", badErr)
	}
	if goodErr != nil || !good.Allowed || good.Source != ratelimit.SourceRedis {
		t.Errorf("the other decision of the batch: %+v %v; want allowed by redis", good, goodErr)
	}
}
