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
