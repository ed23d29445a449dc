package ratelimit_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rediware/rediware/internal/redistest"
	"github.com/rediware/rediware/ratelimit"
	"github.com/rediware/rediware/store"
	"github.com/rediware/rediware/store/goredis"
)

// TestBatch_decides_each_request_as_if_alone checks that batched decisions
// are sequential: 64 concurrent requests against a limit of 50 see exactly
// 50 admissions, and the remaining counts they report are 49..0, each once.
func TestBatch_decides_each_request_as_if_alone(t *testing.T) {
	_, s := newRedis(t)
	for _, limits := range [][]ratelimit.Limit{
		{ratelimit.Per(50, 24*time.Hour)}, // GCRA fast path
		{ratelimit.Per(50, 24*time.Hour).WithAlgorithm(ratelimit.FixedWindow).WithName("fw"),
			ratelimit.Per(80, 24*time.Hour).WithAlgorithm(ratelimit.SlidingWindowLog).WithName("swl")},
	} {
		t.Run(limits[0].Algorithm.String(), func(t *testing.T) {
			l, err := ratelimit.NewWithOptions(s, ratelimit.Options{Name: "batch-" + limits[0].Algorithm.String(), Limits: limits, Batch: true})
			if err != nil {
				t.Fatal(err)
			}
			// At least 3 rounds; more (up to 30) until some decisions
			// have shared a batch, which depends on scheduling: on a
			// loaded machine the goroutines may happen not to overlap.
			rounds := 0
			for ; rounds < 3 || (ratelimit.Batched(l) == 0 && rounds < 30); rounds++ {
				key := "k" + strconv.Itoa(rounds)
				var mu sync.Mutex
				var remaining []int
				var wg sync.WaitGroup
				start := make(chan struct{})
				for range 64 {
					wg.Add(1)
					go func() {
						defer wg.Done()
						<-start
						res, err := l.Allow(context.Background(), key)
						if err != nil || res.Source != ratelimit.SourceRedis {
							t.Errorf("%+v %v", res, err)
							return
						}
						if res.Allowed {
							mu.Lock()
							remaining = append(remaining, res.Policies[0].Remaining)
							mu.Unlock()
						}
					}()
				}
				close(start)
				wg.Wait()
				slices.Sort(remaining)
				if len(remaining) != 50 {
					t.Fatalf("admitted %d, want 50", len(remaining))
				}
				for i, r := range remaining {
					if r != i {
						t.Fatalf("remaining counts %v, want 0..49 each once", remaining)
					}
				}
			}
			if ratelimit.Batched(l) == 0 {
				t.Fatal("no decision was batched; the test proves nothing")
			}
			t.Logf("%d of %d decisions went in shared batches", ratelimit.Batched(l), 64*rounds)
		})
	}
}

func TestBatch_instances_never_exceed_the_limit(t *testing.T) {
	srv := redistest.Start(t)
	var stores []store.Store
	for range 3 {
		c := redis.NewClient(&redis.Options{Addr: srv.Addr()})
		t.Cleanup(func() { _ = c.Close() })
		s, err := goredis.NewWithOptions(c, goredis.Options{AutoPipelineInFlight: 1})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		stores = append(stores, s)
	}
	for _, alg := range []ratelimit.Algorithm{ratelimit.GCRA, ratelimit.TokenBucket, ratelimit.SlidingWindowLog} {
		got := hammer(t, stores, ratelimit.Options{Batch: true, BatchSize: 16,
			Limits: []ratelimit.Limit{ratelimit.Per(100, 24*time.Hour).WithAlgorithm(alg)}}, "hot-"+alg.String(), 24, 20)
		if got != 100 {
			t.Fatalf("%v: admitted %d, want 100", alg, got)
		}
	}
}

func TestBatch_on_cluster_falls_back_to_single_decisions(t *testing.T) {
	cl := redistest.SharedCluster(t)
	c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: cl.Addrs()})
	t.Cleanup(func() { _ = c.Close() })
	l, err := ratelimit.NewWithOptions(goredis.New(c), ratelimit.Options{Batch: true,
		Limits: []ratelimit.Limit{ratelimit.Per(5, 24*time.Hour)}})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	admitted := map[string]int{}
	for w := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 10 {
				key := "user-" + string(rune('a'+(w+i)%8))
				res, err := l.Allow(context.Background(), key)
				if err != nil || res.Source != ratelimit.SourceRedis {
					t.Errorf("%+v %v", res, err)
					return
				}
				if res.Allowed {
					mu.Lock()
					admitted[key]++
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	for k, n := range admitted {
		if n != 5 {
			t.Errorf("key %s: admitted %d, want 5", k, n)
		}
	}
	if len(admitted) != 8 {
		t.Fatalf("keys %v", admitted)
	}
	t.Logf("batching turned off after CROSSSLOT: %v; decisions sent in shared batches: %d",
		ratelimit.BatchingOff(l), ratelimit.Batched(l))
}

// TestBatch_GCRA_matches_single_decisions runs rounds of concurrent
// decisions on distinct keys (so that their order within a round does not
// matter) through a batched single-GCRA limiter, which uses its own batch
// script, and the same decisions one by one through an unbatched limiter
// with the same clock, and requires the same result for each: random costs
// including 0 (inspect) and more than the burst (never), with the clock
// moving between rounds.
func TestBatch_GCRA_matches_single_decisions(t *testing.T) {
	_, s := newRedis(t)
	lim := ratelimit.Per(10, time.Second).WithBurst(4)
	batched, bc := newLimiter(t, s, ratelimit.Options{Name: "gb", Limits: []ratelimit.Limit{lim}, Batch: true})
	single, sc := newLimiter(t, s, ratelimit.Options{Name: "gs", Limits: []ratelimit.Limit{lim}})
	rng := rand.New(rand.NewPCG(3, 9))
	now := base
	for round := range 40 {
		now = now.Add(time.Duration(rng.IntN(300_000)) * time.Microsecond)
		bc.set(now)
		sc.set(now)
		costs := make([]int, 48)
		for i := range costs {
			costs[i] = []int{0, 1, 1, 1, 2, 3, 4, 5}[rng.IntN(8)]
		}
		got := make([]*ratelimit.Result, len(costs))
		var wg sync.WaitGroup
		for i, n := range costs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				res, err := batched.AllowN(context.Background(), "c"+strconv.Itoa(i), n)
				if err != nil || res.Source != ratelimit.SourceRedis {
					t.Errorf("%+v %v", res, err)
					return
				}
				got[i] = res
			}()
		}
		wg.Wait()
		if t.Failed() {
			return
		}
		for i, n := range costs {
			want, err := single.AllowN(context.Background(), "c"+strconv.Itoa(i), n)
			if err != nil {
				t.Fatal(err)
			}
			g := got[i]
			if g.Allowed != want.Allowed || g.Remaining != want.Remaining ||
				g.RetryAfter != want.RetryAfter || g.ResetAfter != want.ResetAfter {
				t.Fatalf("round %d, client %d, cost %d: batched %+v, single %+v", round, i, n, g, want)
			}
		}
	}
	if ratelimit.Batched(batched) == 0 {
		t.Fatal("no decision was batched; the test proves nothing")
	}
	t.Logf("%d of %d decisions went in shared batches", ratelimit.Batched(batched), 40*48)
}

// TestBatch_GCRA_reads_fresh_keys_without_a_GET_each: the GCRA batch
// script reads its keys with one MGET. A key MGET finds empty (a client's
// first request, or its first since its state expired: the usual case for
// a client within its limit) must cost no GET of its own; only a value of
// another type (TestBatch_foreign_value_fails_only_its_own_decision) does.
func TestBatch_GCRA_reads_fresh_keys_without_a_GET_each(t *testing.T) {
	_, s := newRedis(t)
	rc := s.Client()
	g := &gateStore{Store: s, gate: make(chan struct{})}
	l, _ := newLimiter(t, g, ratelimit.Options{Name: "fresh", Limits: []ratelimit.Limit{ratelimit.PerHour(5)}, Batch: true})
	errs := make([]error, 8)
	decide := make([]func(), len(errs))
	for i := range decide {
		decide[i] = func() { _, errs[i] = l.Allow(t.Context(), "c"+strconv.Itoa(i)) }
	}
	batchBehindTwo(t, l, g, decide...)
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	stats := rc.Info(t.Context(), "commandstats").Val()
	calls := func(cmd string) string {
		_, after, _ := strings.Cut(stats, "cmdstat_"+cmd+":calls=")
		n, _, _ := strings.Cut(after, ",")
		return n
	}
	// The two held calls, decided alone by gcra.lua, GET once each.
	if get, mget := calls("get"), calls("mget"); get != "2" || mget != "1" {
		t.Errorf("GET called %q times, MGET %q, for 8 fresh keys in one batch and 2 alone; want 2 and 1", get, mget)
	}
}
