package ratelimit_test

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/rediware/rediware/internal/redistest"
	"github.com/rediware/rediware/ratelimit"
	"github.com/rediware/rediware/store"
)

// step is one request at base+at and the expected outcome, computed by hand
// for 3 requests per second (burst 3).
type step struct {
	at        time.Duration
	n         int
	allowed   bool
	remaining int
	retry     time.Duration // microsecond precision, rounded up
	reset     time.Duration
}

const us = time.Microsecond

var algorithmCases = []struct {
	alg   ratelimit.Algorithm
	steps []step
}{
	{ratelimit.FixedWindow, []step{
		{0, 1, true, 2, 0, time.Second},
		{100 * time.Millisecond, 1, true, 1, 0, 900 * time.Millisecond},
		{200 * time.Millisecond, 1, true, 0, 0, 800 * time.Millisecond},
		{300 * time.Millisecond, 1, false, 0, 700 * time.Millisecond, 700 * time.Millisecond},
		// The window boundary: a fresh window.
		{time.Second, 1, true, 2, 0, time.Second},
		{time.Second, 3, false, 2, time.Second, time.Second},
		{time.Second, 4, false, 2, ratelimit.Never, time.Second},
		{time.Second, 2, true, 0, 0, time.Second},
	}},
	{ratelimit.SlidingWindowLog, []step{
		{0, 1, true, 2, 0, time.Second},
		{100 * time.Millisecond, 1, true, 1, 0, time.Second},
		{200 * time.Millisecond, 1, true, 0, 0, time.Second},
		// The oldest entry (at 0) leaves the window at 1s; the newest at 1.2s.
		{300 * time.Millisecond, 1, false, 0, 700 * time.Millisecond, 900 * time.Millisecond},
		{time.Second, 1, true, 0, 0, time.Second},
		{1050 * time.Millisecond, 1, false, 0, 50 * time.Millisecond, time.Second - 50*time.Millisecond},
		// Two units need the two oldest (100ms, 200ms) gone: at 1.2s.
		{1150 * time.Millisecond, 2, false, 1, 50 * time.Millisecond, 850 * time.Millisecond},
		{1200 * time.Millisecond, 2, true, 0, 0, time.Second},
	}},
	{ratelimit.SlidingWindowCounter, []step{
		{0, 1, true, 2, 0, 2 * time.Second},
		{100 * time.Millisecond, 1, true, 1, 0, 1900 * time.Millisecond},
		{200 * time.Millisecond, 1, true, 0, 0, 1800 * time.Millisecond},
		// Next window: the 3 weigh 1/3 after 2/3 of it, (1s-700ms) + 1s/3.
		{300 * time.Millisecond, 1, false, 0, 700*time.Millisecond + 333334*us, 1700 * time.Millisecond},
		// At 1.5s the previous window weighs 3*0.5 = 1.5: 1.5+1 <= 3.
		{1500 * time.Millisecond, 1, true, 0, 0, 1500 * time.Millisecond},
		// At 1.6s: 3*0.4 + 1 = 2.2; 2.2+1 > 3 until 3*(1-e) <= 1: e = 2/3.
		{1600 * time.Millisecond, 1, false, 0, 66667 * us, 1400 * time.Millisecond},
		{1700 * time.Millisecond, 1, true, 0, 0, 1300 * time.Millisecond},
	}},
	{ratelimit.TokenBucket, []step{
		{0, 1, true, 2, 0, 333334 * us},
		{0, 1, true, 1, 0, 666667 * us},
		{0, 1, true, 0, 0, time.Second},
		{0, 1, false, 0, 333334 * us, time.Second},
		// Refill: 1.5 tokens after 500ms.
		{500 * time.Millisecond, 1, true, 0, 0, 833334 * us},
		{500 * time.Millisecond, 4, false, 0, ratelimit.Never, 833334 * us},
		{2 * time.Second, 3, true, 0, 0, time.Second},
	}},
	{ratelimit.GCRA, []step{
		{0, 1, true, 2, 0, 333334 * us},
		{0, 1, true, 1, 0, 666667 * us},
		{0, 1, true, 0, 0, time.Second},
		{0, 1, false, 0, 333334 * us, time.Second},
		{500 * time.Millisecond, 1, true, 0, 0, 833334 * us},
		{500 * time.Millisecond, 4, false, 0, ratelimit.Never, 833334 * us},
		{2 * time.Second, 3, true, 0, 0, time.Second},
	}},
}

// runSteps checks every step against l, which uses c as its clock.
//
// Redis expires the keys by its own clock, not the test's: a key written at
// one step lives at least 333 ms of real time (the shortest reset in the
// cases). A sequence that took longer than expiryGuard of real time may
// have lost a key to a stalled machine, so a mismatch then reruns the steps
// on a fresh key (up to three times); within expiryGuard no key can have
// expired and a mismatch fails at once.
func runSteps(t *testing.T, l *ratelimit.Limiter, c *clock, key string, steps []step, want ratelimit.Source) {
	t.Helper()
	const expiryGuard = 250 * time.Millisecond
	for attempt := 0; ; attempt++ {
		start := time.Now()
		var mismatches []string
		for i, s := range steps {
			c.set(base.Add(s.at))
			res, err := l.AllowN(t.Context(), key, s.n)
			if err != nil {
				t.Fatalf("step %d: %v", i, err)
			}
			if res.Source != want {
				t.Fatalf("step %d: source %v, want %v", i, res.Source, want)
			}
			if res.Allowed != s.allowed || res.Remaining != s.remaining || !near(res.RetryAfter, s.retry) || !near(res.ResetAfter, s.reset) {
				mismatches = append(mismatches, fmt.Sprintf("step %d (at %v, n=%d): got allowed=%v remaining=%d retry=%v reset=%v, want %v %d %v %v",
					i, s.at, s.n, res.Allowed, res.Remaining, res.RetryAfter, res.ResetAfter,
					s.allowed, s.remaining, s.retry, s.reset))
			}
		}
		if len(mismatches) == 0 {
			return
		}
		if took := time.Since(start); took > expiryGuard && attempt < 2 {
			t.Logf("the steps took %v of real time, so a key may have expired; again on a fresh key: %v", took, mismatches)
			key += "-again"
			continue
		}
		for _, m := range mismatches {
			t.Error(m)
		}
		return
	}
}

func TestAlgorithms_hand_computed_on_redis(t *testing.T) {
	_, s := newRedis(t)
	for _, tc := range algorithmCases {
		t.Run(tc.alg.String(), func(t *testing.T) {
			l, c := newLimiter(t, s, ratelimit.Options{Limits: []ratelimit.Limit{ratelimit.PerSecond(3).WithAlgorithm(tc.alg)}})
			runSteps(t, l, c, "client-"+tc.alg.String(), tc.steps, ratelimit.SourceRedis)
		})
	}
}

// deadStore returns a store whose server has been killed.
func deadStore(t *testing.T) store.Store {
	t.Helper()
	srv, s := newRedis(t)
	srv.Kill()
	return s
}

func TestAlgorithms_hand_computed_on_local_fallback(t *testing.T) {
	s := deadStore(t)
	for _, tc := range algorithmCases {
		t.Run(tc.alg.String(), func(t *testing.T) {
			l, c := newLimiter(t, s, ratelimit.Options{
				Limits:  []ratelimit.Limit{ratelimit.PerSecond(3).WithAlgorithm(tc.alg)},
				Breaker: &store.Breaker{Failures: 1, Cooldown: time.Hour},
			})
			runSteps(t, l, c, "client", tc.steps, ratelimit.SourceLocal)
		})
	}
}

// TestLocalFallback_matches_redis drives the script and the fallback with
// the same random requests at the same times and requires identical results.
func TestLocalFallback_matches_redis(t *testing.T) {
	_, live := newRedis(t)
	dead := deadStore(t)
	rng := rand.New(rand.NewPCG(1, 2))
	for _, alg := range []ratelimit.Algorithm{ratelimit.FixedWindow, ratelimit.SlidingWindowLog,
		ratelimit.SlidingWindowCounter, ratelimit.TokenBucket, ratelimit.GCRA} {
		t.Run(alg.String(), func(t *testing.T) {
			compareWithFallback(t, live, dead, rng, ratelimit.Options{
				Limits: []ratelimit.Limit{
					ratelimit.Per(7, 700*time.Millisecond).WithAlgorithm(alg).WithBurst(4).WithName("short"),
					ratelimit.Per(20, 3*time.Second).WithAlgorithm(alg).WithName("long"),
				},
				Breaker: &store.Breaker{Failures: 1, Cooldown: time.Hour},
			})
			// One policy: GCRA takes the script's fast path (gcra.lua).
			compareWithFallback(t, live, dead, rng, ratelimit.Options{
				Name:    "single",
				Limits:  []ratelimit.Limit{ratelimit.Per(5, 900*time.Millisecond).WithAlgorithm(alg).WithBurst(3)},
				Breaker: &store.Breaker{Failures: 1, Cooldown: time.Hour},
			})
		})
	}
}

// compareWithFallback drives the script (on live) and the fallback (on dead)
// with the same random requests and requires identical results.
func compareWithFallback(t *testing.T, live, dead store.Store, rng *rand.Rand, opts ratelimit.Options) {
	t.Helper()
	rl, rc := newLimiter(t, live, opts)
	ll, lc := newLimiter(t, dead, opts)
	// Open the breaker first: the failed dial takes real time, and the keys'
	// TTLs in Redis run in real time.
	if _, err := ll.AllowN(t.Context(), "warm-up", 0); err != nil {
		t.Fatal(err)
	}
	// Redis expires a key by its own clock: a key written with a TTL of
	// ResetAfter (rounded up to a millisecond) may be gone once that much
	// real time has passed, while in test time it should still be there.
	// A mismatch after such a gap is not the arithmetic's fault: both
	// limiters move to a fresh key and the comparison goes on. Without such
	// a gap a mismatch fails at once.
	np := len(opts.Limits)
	written := make([]time.Time, np) // real time of the last write, per policy
	ttl := make([]time.Duration, np) // its ResetAfter
	key, restarts := "k", 0
	now := base
	for i := range 400 {
		now = now.Add(time.Duration(rng.IntN(120_000)) * us)
		rc.set(now)
		lc.set(now)
		n := rng.IntN(3)
		start := time.Now() // no later than the script runs
		a, err := rl.AllowN(t.Context(), key, n)
		if err != nil {
			t.Fatal(err)
		}
		mayHaveExpired := false // measured after the script ran: an upper bound
		for j := range written {
			if !written[j].IsZero() && time.Since(written[j]) > ttl[j] {
				mayHaveExpired = true
			}
		}
		b, err := ll.AllowN(t.Context(), key, n)
		if err != nil {
			t.Fatal(err)
		}
		if b.Source != ratelimit.SourceLocal {
			t.Fatalf("fallback source %v", b.Source)
		}
		var mismatch string
		for j := range a.Policies {
			pa, pb := a.Policies[j], b.Policies[j]
			if pa.Allowed != pb.Allowed || pa.Remaining != pb.Remaining ||
				absDiff(pa.RetryAfter, pb.RetryAfter) > us || absDiff(pa.ResetAfter, pb.ResetAfter) > us {
				mismatch = fmt.Sprintf("request %d (n=%d) policy %s: redis %+v, local %+v", i, n, pa.Limit.Name, pa, pb)
				break
			}
		}
		if mismatch == "" && a.Allowed != b.Allowed {
			mismatch = fmt.Sprintf("request %d: redis allowed=%v, local %v", i, a.Allowed, b.Allowed)
		}
		if mismatch != "" {
			if !mayHaveExpired || restarts == 5 {
				t.Fatal(mismatch)
			}
			restarts++
			t.Logf("a key may have expired in real time; a fresh key from here: %s", mismatch)
			key = "k" + strconv.Itoa(restarts)
			clear(written)
			continue
		}
		if a.Allowed && n > 0 {
			for j, p := range a.Policies {
				written[j], ttl[j] = start, p.ResetAfter
			}
		}
	}
}

// near allows the quarter-microsecond rounding of float64 timestamps near
// 2^50 µs, which can move a rounded-up duration by one microsecond.
func near(a, b time.Duration) bool {
	if a == ratelimit.Never || b == ratelimit.Never {
		return a == b
	}
	return absDiff(a, b) <= us
}

func absDiff(a, b time.Duration) time.Duration {
	if a > b {
		return a - b
	}
	return b - a
}

var _ = redistest.Start

// Times in a Result are time.Durations: a period so long that the time to
// reset overflows one must be refused, and the longest accepted one must
// still report times that are positive and within two periods.
func TestAlgorithms_longest_period_reports_valid_times(t *testing.T) {
	_, s := newRedis(t)
	const century = 100 * 365 * 24 * time.Hour
	for _, alg := range []ratelimit.Algorithm{ratelimit.GCRA, ratelimit.TokenBucket, ratelimit.FixedWindow, ratelimit.SlidingWindowLog, ratelimit.SlidingWindowCounter} {
		t.Run(alg.String(), func(t *testing.T) {
			if _, err := ratelimit.NewWithOptions(s, ratelimit.Options{
				Limits: []ratelimit.Limit{ratelimit.Per(3, 2*century).WithAlgorithm(alg)},
			}); !errors.Is(err, ratelimit.ErrInvalidLimit) {
				t.Fatalf("a period of two centuries: err %v, want ErrInvalidLimit", err)
			}
			l, err := ratelimit.NewWithOptions(s, ratelimit.Options{
				Name:   "century-" + alg.String(),
				Limits: []ratelimit.Limit{ratelimit.Per(3, century).WithAlgorithm(alg)},
			})
			if err != nil {
				t.Fatal(err)
			}
			for i := range 4 {
				res, err := l.Allow(t.Context(), "k")
				if err != nil {
					t.Fatal(err)
				}
				if res.Allowed != (i < 3) {
					t.Fatalf("request %d: allowed=%v", i, res.Allowed)
				}
				if res.ResetAfter <= 0 || res.ResetAfter > 2*century || res.RetryAfter < 0 || res.RetryAfter > 2*century {
					t.Fatalf("request %d: ResetAfter %v, RetryAfter %v; want within (0, two periods]", i, res.ResetAfter, res.RetryAfter)
				}
			}
		})
	}
}

// AllowN's edges, every algorithm: an empty key and a negative cost are
// errors; a cost of 0 inspects without consuming; a cost beyond the
// capacity, however large, is denied with Never and consumes nothing.
func TestAllowN_edge_keys_and_costs(t *testing.T) {
	_, s := newRedis(t)
	for _, alg := range []ratelimit.Algorithm{ratelimit.GCRA, ratelimit.TokenBucket, ratelimit.FixedWindow, ratelimit.SlidingWindowLog, ratelimit.SlidingWindowCounter} {
		t.Run(alg.String(), func(t *testing.T) {
			l, _ := newLimiter(t, s, ratelimit.Options{
				Name:   "edges-" + alg.String(),
				Limits: []ratelimit.Limit{ratelimit.PerHour(3).WithAlgorithm(alg)},
			})
			if _, err := l.AllowN(t.Context(), "", 1); !errors.Is(err, ratelimit.ErrInvalidKey) {
				t.Errorf("empty key: err %v, want ErrInvalidKey", err)
			}
			if _, err := l.AllowN(t.Context(), "k", -1); !errors.Is(err, ratelimit.ErrInvalidCost) {
				t.Errorf("cost -1: err %v, want ErrInvalidCost", err)
			}
			for _, n := range []int{0, 4, 1 << 40, math.MaxInt} {
				res, err := l.AllowN(t.Context(), "k", n)
				if err != nil {
					t.Fatalf("cost %d: %v", n, err)
				}
				if n == 0 && (!res.Allowed || res.Remaining != 3) {
					t.Fatalf("cost 0: %+v, want allowed with 3 remaining", res)
				}
				if n > 0 && (res.Allowed || res.RetryAfter != ratelimit.Never || res.Remaining != 3) {
					t.Fatalf("cost %d: %+v, want denied with Never and 3 remaining", n, res)
				}
			}
			for i := range 4 {
				res, err := l.Allow(t.Context(), "k")
				if err != nil {
					t.Fatal(err)
				}
				if res.Allowed != (i < 3) {
					t.Fatalf("request %d after the edge cases: allowed=%v; they must not have consumed", i, res.Allowed)
				}
			}
		})
	}
}

// A denied request always has a positive RetryAfter, even when the wait is
// a fraction of the script's microsecond resolution: a token bucket
// refilling 9.999999 tokens per µs is 2e-6 tokens short of 20 after 2 µs.
// The burst is large so that the emptied bucket's key lives for 10 s of
// real time: Redis expires it by its own clock, not the test's.
func TestAlgorithms_denial_never_has_a_zero_retry_after(t *testing.T) {
	const burst = 100_000_000
	lim := ratelimit.Per(9_999_999, time.Second).WithAlgorithm(ratelimit.TokenBucket).WithBurst(burst)
	for _, src := range []ratelimit.Source{ratelimit.SourceRedis, ratelimit.SourceLocal} {
		t.Run(src.String(), func(t *testing.T) {
			var s store.Store
			if src == ratelimit.SourceRedis {
				_, s = newRedis(t)
			} else {
				s = deadStore(t)
			}
			l, c := newLimiter(t, s, ratelimit.Options{
				Limits:  []ratelimit.Limit{lim},
				Breaker: &store.Breaker{Failures: 1, Cooldown: time.Hour},
			})
			if res, err := l.AllowN(t.Context(), "k", burst); err != nil || !res.Allowed || res.Source != src {
				t.Fatalf("first: %+v %v", res, err)
			}
			c.set(base.Add(2 * time.Microsecond))
			res, err := l.AllowN(t.Context(), "k", 20)
			if err != nil || res.Source != src {
				t.Fatalf("second: %+v %v", res, err)
			}
			if res.Allowed {
				t.Fatalf("second: admitted %+v, want denied (2e-6 tokens short)", res)
			}
			if res.RetryAfter <= 0 {
				t.Fatalf("denied with RetryAfter %v, want at least 1µs", res.RetryAfter)
			}
		})
	}
}

// Rates and bursts are exact up to MaxRate (2^53, the largest range of
// integers a Lua number holds exactly) and refused beyond, where Redis
// would report a remaining count of 0 for an admitted request.
func TestAlgorithms_rates_up_to_MaxRate_count_exactly(t *testing.T) {
	_, s := newRedis(t)
	for _, alg := range []ratelimit.Algorithm{ratelimit.TokenBucket, ratelimit.FixedWindow, ratelimit.SlidingWindowLog, ratelimit.SlidingWindowCounter} {
		t.Run(alg.String(), func(t *testing.T) {
			for _, lim := range []ratelimit.Limit{
				ratelimit.Per(ratelimit.MaxRate+1, time.Hour).WithAlgorithm(alg),
				ratelimit.Per(math.MaxInt, time.Hour).WithAlgorithm(alg),
				ratelimit.Per(10, time.Hour).WithAlgorithm(alg).WithBurst(ratelimit.MaxRate + 1),
			} {
				if _, err := ratelimit.NewWithOptions(s, ratelimit.Options{Limits: []ratelimit.Limit{lim}}); !errors.Is(err, ratelimit.ErrInvalidLimit) {
					t.Errorf("%v: err %v, want ErrInvalidLimit", lim, err)
				}
			}
			l, _ := newLimiter(t, s, ratelimit.Options{
				Name:   "maxrate-" + alg.String(),
				Limits: []ratelimit.Limit{ratelimit.Per(ratelimit.MaxRate, time.Hour).WithAlgorithm(alg)},
			})
			for i := range 3 {
				res, err := l.AllowN(t.Context(), "k", 1000)
				if err != nil {
					t.Fatal(err)
				}
				if want := ratelimit.MaxRate - 1000*(i+1); !res.Allowed || res.Remaining != want {
					t.Fatalf("request %d: allowed=%v remaining=%d, want true %d", i, res.Allowed, res.Remaining, want)
				}
			}
		})
	}
}
