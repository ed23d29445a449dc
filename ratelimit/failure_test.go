package ratelimit_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rediware/rediware/ratelimit"
	"github.com/rediware/rediware/store"
)

func TestFailurePolicy_kill_and_restart_under_load(t *testing.T) {
	for _, tc := range []struct {
		policy ratelimit.FailurePolicy
		batch  bool
	}{{ratelimit.FailureLocal, false}, {ratelimit.FailOpen, false}, {ratelimit.FailClosed, false}, {ratelimit.FailureLocal, true}} {
		policy := tc.policy
		name := policy.String()
		if tc.batch {
			name += "-batch"
		}
		t.Run(name, func(t *testing.T) {
			srv, s := newRedis(t)
			const limit = 50
			l, err := ratelimit.NewWithOptions(s, ratelimit.Options{
				Limits:  []ratelimit.Limit{ratelimit.Per(limit, 24*time.Hour)},
				Failure: policy,
				Breaker: &store.Breaker{Failures: 3, Cooldown: 100 * time.Millisecond},
				Batch:   tc.batch,
			})
			if err != nil {
				t.Fatal(err)
			}
			var (
				stop                           atomic.Bool
				redisAfterRestart, restarted   atomic.Bool
				bySource                       [4]atomic.Int64
				localAdmitted, circuitOpenSeen atomic.Int64
				wg                             sync.WaitGroup
			)
			for w := range 16 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for !stop.Load() {
						res, err := l.Allow(context.Background(), "hot")
						if err != nil {
							t.Errorf("worker %d: %v", w, err)
							return
						}
						bySource[res.Source].Add(1)
						switch res.Source {
						case ratelimit.SourceRedis:
							if restarted.Load() {
								redisAfterRestart.Store(true)
							}
							continue
						case ratelimit.SourceLocal:
							if policy != ratelimit.FailureLocal {
								t.Errorf("local decision under %v", policy)
							}
							if res.Allowed {
								localAdmitted.Add(1)
							}
						case ratelimit.SourceFailOpen:
							if policy != ratelimit.FailOpen || !res.Allowed {
								t.Errorf("fail-open decision %+v under %v", res, policy)
							}
						case ratelimit.SourceFailClosed:
							if policy != ratelimit.FailClosed || res.Allowed {
								t.Errorf("fail-closed decision %+v under %v", res, policy)
							}
						}
						if !errors.Is(res.Err, store.ErrUnavailable) {
							t.Errorf("fallback decision with error %v", res.Err)
						}
						if errors.Is(res.Err, store.ErrCircuitOpen) {
							circuitOpenSeen.Add(1)
						}
					}
				}()
			}
			time.Sleep(100 * time.Millisecond)
			srv.Kill()
			time.Sleep(400 * time.Millisecond)
			srv.Restart()
			restarted.Store(true)
			deadline := time.Now().Add(15 * time.Second)
			for !redisAfterRestart.Load() && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			stop.Store(true)
			wg.Wait()
			t.Logf("decisions by source: redis %d, local %d, fail-open %d, fail-closed %d; circuit open %d",
				bySource[0].Load(), bySource[1].Load(), bySource[2].Load(), bySource[3].Load(), circuitOpenSeen.Load())
			if !redisAfterRestart.Load() {
				t.Fatal("no decision by Redis after the restart")
			}
			if bySource[policy+1].Load() == 0 { // FailureLocal+1 is SourceLocal, and so on
				t.Fatalf("the failure policy never decided")
			}
			if circuitOpenSeen.Load() == 0 {
				t.Fatal("the breaker never opened")
			}
			if n := localAdmitted.Load(); n > limit {
				t.Fatalf("the local fallback admitted %d, more than the limit %d", n, limit)
			}

			// Limiting resumes on the restarted (empty) server, scripts reloaded.
			admitted := 0
			for range limit + 5 {
				res, err := l.Allow(t.Context(), "after-restart")
				if err != nil {
					t.Fatal(err)
				}
				if res.Source != ratelimit.SourceRedis {
					t.Fatalf("source %v after restart: %v", res.Source, res.Err)
				}
				if res.Allowed {
					admitted++
				}
			}
			if admitted != limit {
				t.Fatalf("after restart admitted %d, want %d", admitted, limit)
			}
		})
	}
}

func TestFailurePolicy_paused_redis_costs_one_timeout_then_the_breaker_answers(t *testing.T) {
	srv, s := newRedis(t)
	// The timeout is generous so that a loaded -race machine never times
	// out a healthy call; the cooldown is longer than the paused loop can
	// take, so that no half-open trial adds a timeout of its own. What is
	// proved is counted by error kind, not by wall-clock time.
	const failures = 2
	l, err := ratelimit.NewWithOptions(s, ratelimit.Options{
		Limits:  []ratelimit.Limit{ratelimit.PerHour(3)},
		Timeout: 300 * time.Millisecond,
		Breaker: &store.Breaker{Failures: failures, Cooldown: 2 * time.Second},
	})
	if err != nil {
		t.Fatal(err)
	}
	if res, err := l.Allow(t.Context(), "k"); err != nil || res.Source != ratelimit.SourceRedis {
		t.Fatalf("before pause: %+v %v", res, err)
	}
	srv.Pause()
	var timedOut, circuitOpen int
	for i := range 20 {
		res, err := l.Allow(t.Context(), "k")
		if err != nil || res.Source != ratelimit.SourceLocal {
			t.Fatalf("paused, request %d: %+v %v", i, res, err)
		}
		if !errors.Is(res.Err, store.ErrUnavailable) {
			t.Fatalf("paused, request %d: fallback with error %v", i, res.Err)
		}
		if errors.Is(res.Err, store.ErrCircuitOpen) {
			circuitOpen++
		} else {
			timedOut++ // this request went to Redis and waited for the timeout
		}
		if res.Allowed != (i < 3) {
			t.Fatalf("paused, request %d: allowed=%v; the local fallback must admit exactly 3", i, res.Allowed)
		}
	}
	if timedOut != failures || circuitOpen != 20-failures {
		t.Fatalf("%d of 20 requests waited for the timeout and %d were answered by the open breaker; want %d and %d",
			timedOut, circuitOpen, failures, 20-failures)
	}
	srv.Resume()
	deadline := time.Now().Add(10 * time.Second)
	admitted := 0
	for {
		res, err := l.Allow(t.Context(), "k")
		if err != nil {
			t.Fatal(err)
		}
		if res.Source == ratelimit.SourceRedis {
			if res.Allowed {
				admitted++
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("Redis never decided again after Resume")
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Redis kept its state, and may also have applied the requests that
	// timed out (their EVALSHA was already sent): either way the limit
	// holds, counted conservatively.
	for {
		res, err := l.Allow(t.Context(), "k")
		if err != nil || res.Source != ratelimit.SourceRedis {
			t.Fatalf("after resume: %+v %v", res, err)
		}
		if !res.Allowed {
			break
		}
		if admitted++; admitted > 2 {
			t.Fatal("Redis admitted more than the limit of 3 after resume")
		}
	}
}

// A caller that cancels its request learns nothing about Redis: its
// decision must neither close an open breaker nor reset the count of
// failures that will open a closed one.
func TestFailurePolicy_canceled_caller_leaves_the_breaker_as_it_was(t *testing.T) {
	canceled := func() context.Context {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		return ctx
	}
	for _, batch := range []bool{false, true} {
		name := "single"
		if batch {
			name = "batch"
		}
		t.Run(name+"/half-open trial", func(t *testing.T) {
			srv, s := newRedis(t)
			br := &store.Breaker{Failures: 1, Cooldown: 50 * time.Millisecond}
			l, err := ratelimit.NewWithOptions(s, ratelimit.Options{
				Limits: []ratelimit.Limit{ratelimit.PerHour(3)}, Breaker: br, Batch: batch,
			})
			if err != nil {
				t.Fatal(err)
			}
			srv.Kill()
			if res, err := l.Allow(t.Context(), "k"); err != nil || res.Source != ratelimit.SourceLocal {
				t.Fatalf("Redis killed: %+v %v", res, err)
			}
			deadline := time.Now().Add(10 * time.Second)
			for br.State() != store.BreakerHalfOpen {
				if time.Now().After(deadline) {
					t.Fatalf("breaker state %v, never half-open", br.State())
				}
				time.Sleep(10 * time.Millisecond)
			}
			_, _ = l.Allow(canceled(), "k") // takes the half-open trial
			if st := br.State(); st == store.BreakerClosed {
				t.Fatal("a canceled trial closed the breaker while Redis is still down")
			}
		})
		t.Run(name+"/closed", func(t *testing.T) {
			srv, s := newRedis(t)
			br := &store.Breaker{Failures: 2, Cooldown: time.Hour}
			l, err := ratelimit.NewWithOptions(s, ratelimit.Options{
				Limits: []ratelimit.Limit{ratelimit.PerHour(3)}, Breaker: br, Batch: batch,
			})
			if err != nil {
				t.Fatal(err)
			}
			srv.Kill()
			if res, err := l.Allow(t.Context(), "k"); err != nil || res.Source != ratelimit.SourceLocal {
				t.Fatalf("Redis killed: %+v %v", res, err)
			}
			_, _ = l.Allow(canceled(), "k")
			if res, err := l.Allow(t.Context(), "k"); err != nil || res.Source != ratelimit.SourceLocal {
				t.Fatalf("Redis killed: %+v %v", res, err)
			}
			if st := br.State(); st != store.BreakerOpen {
				t.Fatalf("breaker %v after two failures and a canceled call; want open", st)
			}
		})
	}
}

// While Redis is down, clients with ever new keys must not grow the local
// fallback beyond LocalMaxKeys, nor make every decision scan all of it.
func TestLocalFallback_is_bounded_by_LocalMaxKeys_and_sweeps_rarely(t *testing.T) {
	srv, s := newRedis(t)
	const maxKeys = 16
	l, err := ratelimit.NewWithOptions(s, ratelimit.Options{
		Limits:       []ratelimit.Limit{ratelimit.PerHour(3).WithName("h"), ratelimit.PerSecond(2).WithName("s")},
		Breaker:      &store.Breaker{Failures: 1, Cooldown: time.Hour},
		LocalMaxKeys: maxKeys,
	})
	if err != nil {
		t.Fatal(err)
	}
	srv.Kill()
	const decisions = 5000
	for i := range decisions {
		res, err := l.Allow(t.Context(), "client-"+strconv.Itoa(i))
		if err != nil || res.Source != ratelimit.SourceLocal || !res.Allowed {
			t.Fatalf("decision %d: %+v %v", i, res, err)
		}
		if n := ratelimit.LocalKeys(l); n > maxKeys {
			t.Fatalf("decision %d: the fallback holds %d keys, more than LocalMaxKeys %d", i, n, maxKeys)
		}
	}
	if n := ratelimit.LocalSweeps(l); n > decisions/1024+1 {
		t.Fatalf("%d full sweeps for %d decisions: a full fallback must not scan all its keys on every decision", n, decisions)
	}
}

// flakyStore fails calls whose keys mention "down" with ErrUnavailable and
// panics on those that mention "boom" (a bug in a custom store).
type flakyStore struct{ store.Store }

func (f flakyStore) Eval(ctx context.Context, sc *store.Script, keys []string, args ...any) (any, error) {
	for _, k := range keys {
		switch {
		case strings.Contains(k, "down"):
			return nil, store.ErrUnavailable
		case strings.Contains(k, "boom"):
			panic("store bug")
		}
	}
	return f.Store.Eval(ctx, sc, keys, args...)
}

// TestFailurePolicy_store_panic_in_the_half_open_trial_does_not_wedge_the_breaker:
// the call the breaker lets through to test a recovered Redis panics (a
// store bug). The panic reaches the caller, but the breaker must count the
// trial as failed: left pending, it would refuse every later call, and the
// limiter would stay on its failure policy for good.
func TestFailurePolicy_store_panic_in_the_half_open_trial_does_not_wedge_the_breaker(t *testing.T) {
	_, s := newRedis(t)
	l, err := ratelimit.NewWithOptions(flakyStore{s}, ratelimit.Options{Name: "wedge",
		Limits: []ratelimit.Limit{ratelimit.PerHour(5)}, Breaker: &store.Breaker{Failures: 1, Cooldown: 20 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	if res, err := l.Allow(t.Context(), "down"); err != nil || res.Source != ratelimit.SourceLocal {
		t.Fatalf("opening the breaker: %+v %v", res, err)
	}
	time.Sleep(40 * time.Millisecond)
	func() {
		defer func() {
			if recover() == nil {
				t.Fatal("the store's panic did not reach the caller")
			}
		}()
		_, _ = l.Allow(t.Context(), "boom")
	}()
	deadline := time.Now().Add(5 * time.Second)
	for {
		res, err := l.Allow(t.Context(), "fine")
		if err != nil {
			t.Fatal(err)
		}
		if res.Source == ratelimit.SourceRedis {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("5 s after the panicking trial, decisions still come from %v: the breaker waits for a trial that never reports", res.Source)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
