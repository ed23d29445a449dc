package ratelimit_test

import (
	"context"
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

// hammer runs instances limiters (each over its own client, as separate
// app servers would be) with workers goroutines each, every goroutine
// trying attempts requests for key, and returns how many were admitted.
func hammer(t *testing.T, stores []store.Store, opts ratelimit.Options, key string, workers, attempts int) int64 {
	t.Helper()
	var admitted atomic.Int64
	var wg sync.WaitGroup
	for _, s := range stores {
		l, err := ratelimit.NewWithOptions(s, opts)
		if err != nil {
			t.Fatal(err)
		}
		for range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range attempts {
					res, err := l.Allow(context.Background(), key)
					if err != nil {
						t.Error(err)
						return
					}
					if res.Source != ratelimit.SourceRedis {
						t.Errorf("source %v: %v", res.Source, res.Err)
						return
					}
					if res.Allowed {
						admitted.Add(1)
					}
				}
			}()
		}
	}
	wg.Wait()
	return admitted.Load()
}

func instances(t *testing.T, addr string, n int) []store.Store {
	out := make([]store.Store, n)
	for i := range out {
		out[i] = newStore(t, addr)
	}
	return out
}

func TestConcurrent_instances_never_exceed_the_limit(t *testing.T) {
	srv := redistest.Start(t)
	stores := instances(t, srv.Addr(), 4)
	for _, alg := range []ratelimit.Algorithm{ratelimit.GCRA, ratelimit.TokenBucket,
		ratelimit.FixedWindow, ratelimit.SlidingWindowLog} {
		t.Run(alg.String(), func(t *testing.T) {
			// 50 per day: nothing refills during the test. A fixed window
			// could still restart at midnight UTC; detect that instead of
			// flaking.
			day0 := time.Now().UTC().YearDay()
			got := hammer(t, stores, ratelimit.Options{
				Limits: []ratelimit.Limit{ratelimit.Per(50, 24*time.Hour).WithAlgorithm(alg)},
			}, "hot", 8, 40)
			if alg == ratelimit.FixedWindow && time.Now().UTC().YearDay() != day0 {
				t.Skip("crossed a window boundary")
			}
			if got != 50 {
				t.Fatalf("admitted %d of 1280 attempts, want exactly 50", got)
			}
		})
	}
}

func TestConcurrent_policies_consume_all_or_nothing(t *testing.T) {
	srv := redistest.Start(t)
	stores := instances(t, srv.Addr(), 3)
	opts := ratelimit.Options{Limits: []ratelimit.Limit{
		ratelimit.Per(30, 24*time.Hour).WithName("day"),
		ratelimit.Per(50, 48*time.Hour).WithName("twodays").WithAlgorithm(ratelimit.SlidingWindowLog),
	}}
	got := hammer(t, stores, opts, "hot", 8, 20)
	if got != 30 {
		t.Fatalf("admitted %d, want 30", got)
	}
	l, err := ratelimit.NewWithOptions(stores[0], opts)
	if err != nil {
		t.Fatal(err)
	}
	res, err := l.AllowN(t.Context(), "hot", 0)
	if err != nil {
		t.Fatal(err)
	}
	if r := res.Policies[1].Remaining; r != 20 {
		t.Fatalf("second policy has %d left, want 20: denied requests consumed it", r)
	}
}

func TestConcurrent_autopipeline_never_exceeds_the_limit(t *testing.T) {
	srv := redistest.Start(t)
	var stores []store.Store
	for range 2 {
		c := redis.NewClient(&redis.Options{Addr: srv.Addr()})
		t.Cleanup(func() { _ = c.Close() })
		s, err := goredis.NewWithOptions(c, goredis.Options{AutoPipelineInFlight: 1})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		stores = append(stores, s)
	}
	got := hammer(t, stores, ratelimit.Options{Limits: []ratelimit.Limit{ratelimit.Per(100, 24*time.Hour)}}, "hot", 32, 20)
	if got != 100 {
		t.Fatalf("admitted %d, want 100", got)
	}
}

func TestCluster_limits_keys_in_every_slot(t *testing.T) {
	cl := redistest.SharedCluster(t)
	c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: cl.Addrs()})
	t.Cleanup(func() { _ = c.Close() })
	var stores []store.Store
	for range 2 {
		stores = append(stores, goredis.New(c))
	}
	opts := ratelimit.Options{Limits: []ratelimit.Limit{
		ratelimit.Per(20, 24*time.Hour).WithName("day"),
		ratelimit.Per(40, 24*time.Hour).WithName("log").WithAlgorithm(ratelimit.SlidingWindowLog),
	}}
	slots := map[int]bool{}
	for _, key := range []string{"alice", "bob", "carol", "dave", "erin", "frank"} {
		if got := hammer(t, stores, opts, key, 4, 10); got != 20 {
			t.Fatalf("key %s: admitted %d, want 20", key, got)
		}
		slots[store.Slot(store.Keyspace{Prefix: "rl"}.Key("default:"+key))] = true
	}
	if len(slots) < 2 {
		t.Fatalf("keys landed in %d slot(s); the test needs several", len(slots))
	}
}

func TestScriptFlush_recovers_without_double_counting(t *testing.T) {
	srv, s := newRedis(t)
	admin := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	t.Cleanup(func() { _ = admin.Close() })
	for _, alg := range []ratelimit.Algorithm{ratelimit.GCRA, ratelimit.FixedWindow, ratelimit.SlidingWindowLog,
		ratelimit.TokenBucket, ratelimit.SlidingWindowCounter} {
		t.Run(alg.String(), func(t *testing.T) {
			l := ratelimit.New(s, ratelimit.Per(10, 24*time.Hour).WithAlgorithm(alg))
			for i := range 10 {
				if i%3 == 0 {
					if err := admin.ScriptFlush(t.Context()).Err(); err != nil {
						t.Fatal(err)
					}
				}
				res, err := l.Allow(t.Context(), "k")
				if err != nil {
					t.Fatal(err)
				}
				if !res.Allowed || res.Remaining != 9-i {
					t.Fatalf("request %d: allowed=%v remaining=%d, want true %d", i, res.Allowed, res.Remaining, 9-i)
				}
			}
			if err := admin.ScriptFlush(t.Context()).Err(); err != nil {
				t.Fatal(err)
			}
			res, err := l.Allow(t.Context(), "k")
			if err != nil {
				t.Fatal(err)
			}
			if res.Allowed {
				t.Fatal("11th request admitted")
			}
		})
	}
}
