package ratelimit_test

import (
	"errors"
	"testing"
	"time"

	"github.com/rediware/rediware/ratelimit"
)

// TestLimit_burst_refill_beyond_MaxPeriod_is_invalid: GCRA and TokenBucket
// take Burst/Rate periods to refill a full burst, and report that time in
// ResetAfter and RetryAfter. Beyond MaxPeriod it overflows a time.Duration
// (a negative ResetAfter) and, further still, the PX of the key; such a
// limit must be refused at construction, and one just within must report
// valid times.
func TestLimit_burst_refill_beyond_MaxPeriod_is_invalid(t *testing.T) {
	_, s := newRedis(t)
	for _, alg := range []ratelimit.Algorithm{ratelimit.GCRA, ratelimit.TokenBucket} {
		t.Run(alg.String(), func(t *testing.T) {
			for _, lim := range []ratelimit.Limit{
				ratelimit.Per(1, ratelimit.MaxPeriod).WithBurst(3),
				ratelimit.Per(1, time.Hour).WithBurst(1 << 40),
				ratelimit.Per(1, ratelimit.MaxPeriod/2).WithBurst(ratelimit.MaxRate),
			} {
				if _, err := ratelimit.NewWithOptions(s, ratelimit.Options{Limits: []ratelimit.Limit{lim.WithAlgorithm(alg)}}); !errors.Is(err, ratelimit.ErrInvalidLimit) {
					t.Errorf("%v: err %v, want ErrInvalidLimit", lim.WithAlgorithm(alg), err)
				}
			}
			l, err := ratelimit.NewWithOptions(s, ratelimit.Options{Name: "refill-" + alg.String(),
				Limits: []ratelimit.Limit{ratelimit.Per(2, ratelimit.MaxPeriod/2).WithBurst(4).WithAlgorithm(alg)}})
			if err != nil {
				t.Fatal(err)
			}
			for i := range 5 {
				res, err := l.Allow(t.Context(), "k")
				if err != nil {
					t.Fatal(err)
				}
				if res.Allowed != (i < 4) || res.ResetAfter <= 0 || res.ResetAfter > ratelimit.MaxPeriod ||
					res.RetryAfter < 0 || res.RetryAfter > ratelimit.MaxPeriod {
					t.Fatalf("request %d: %+v; want allowed for the first 4, times within (0, MaxPeriod]", i, res)
				}
			}
		})
	}
}

// TestAllowN_cost_0_is_admitted_after_the_rate_was_lowered: a window
// algorithm's count can exceed Rate when a policy keeps its name and gets a
// lower Rate (a config change, or a rolling deploy of one). A request of
// cost 0 must still be admitted, as MiddlewareOptions.Cost documents and
// GCRA and TokenBucket do, reporting 0 remaining; a request of cost 1 is
// denied.
func TestAllowN_cost_0_is_admitted_after_the_rate_was_lowered(t *testing.T) {
	_, s := newRedis(t)
	for _, alg := range []ratelimit.Algorithm{ratelimit.FixedWindow, ratelimit.SlidingWindowLog, ratelimit.SlidingWindowCounter} {
		t.Run(alg.String(), func(t *testing.T) {
			opts := func(rate int) ratelimit.Options {
				return ratelimit.Options{Name: "lowered-" + alg.String(),
					Limits: []ratelimit.Limit{ratelimit.PerHour(rate).WithAlgorithm(alg).WithName("p")}}
			}
			before, c := newLimiter(t, s, opts(5))
			if res, err := before.AllowN(t.Context(), "k", 5); err != nil || !res.Allowed {
				t.Fatalf("filling the old limit: %+v %v", res, err)
			}
			after, c2 := newLimiter(t, s, opts(2))
			c.set(base.Add(time.Second))
			c2.set(base.Add(time.Second))
			res, err := after.AllowN(t.Context(), "k", 0)
			if err != nil || !res.Allowed || res.Remaining != 0 || res.RetryAfter != 0 {
				t.Errorf("cost 0 over the lowered rate: %+v %v; want allowed, 0 remaining", res, err)
			}
			res, err = after.AllowN(t.Context(), "k", 1)
			if err != nil || res.Allowed || res.RetryAfter <= 0 {
				t.Errorf("cost 1 over the lowered rate: %+v %v; want denied with a wait", res, err)
			}
		})
	}
}
