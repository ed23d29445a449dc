package ratelimit_test

import (
	"testing"
	"time"

	"github.com/rediware/rediware/ratelimit"
)

// TestHeaders_hand_computed_per_algorithm checks the RateLimit and
// Retry-After values for 3 requests per 10 s, worked out by hand for each
// algorithm, across a window boundary (10 s) and a refill.
func TestHeaders_hand_computed_per_algorithm(t *testing.T) {
	type step struct {
		at         time.Duration
		status     int
		rateLimit  string
		retryAfter string
	}
	s := func(at time.Duration, status int, rl, ra string) step { return step{at, status, rl, ra} }
	const sec = time.Second
	cases := []struct {
		alg   ratelimit.Algorithm
		steps []step
	}{
		{ratelimit.FixedWindow, []step{
			s(0, 200, `"p";r=2;t=10`, ""),
			s(1*sec, 200, `"p";r=1;t=9`, ""),
			s(2*sec, 200, `"p";r=0;t=8`, ""),
			s(3*sec, 429, `"p";r=0;t=7`, "7"),  // the window ends at 10 s
			s(10*sec, 200, `"p";r=2;t=10`, ""), // boundary: a new window
			s(10500*time.Millisecond, 200, `"p";r=1;t=10`, ""),
		}},
		{ratelimit.SlidingWindowLog, []step{
			s(0, 200, `"p";r=2;t=10`, ""),
			s(1*sec, 200, `"p";r=1;t=10`, ""),
			s(2*sec, 200, `"p";r=0;t=10`, ""),
			s(3*sec, 429, `"p";r=0;t=7`, "7"),                  // the entry at 0 leaves at 10 s
			s(10*sec, 200, `"p";r=0;t=10`, ""),                 // it has: one slot
			s(10500*time.Millisecond, 429, `"p";r=0;t=1`, "1"), // the entry at 1 s leaves at 11 s
		}},
		{ratelimit.SlidingWindowCounter, []step{
			s(0, 200, `"p";r=2;t=20`, ""),
			s(1*sec, 200, `"p";r=1;t=19`, ""),
			s(2*sec, 200, `"p";r=0;t=18`, ""),
			// Next window, once the 3 weigh at most 2: 7 s + 10 s/3.
			s(3*sec, 429, `"p";r=0;t=11`, "11"),
			s(10*sec, 429, `"p";r=0;t=4`, "4"),
			// At 13.5 s the 3 weigh 3*0.65 = 1.95; 1.95+1 <= 3.
			s(13500*time.Millisecond, 200, `"p";r=0;t=17`, ""),
		}},
		{ratelimit.TokenBucket, []step{
			s(0, 200, `"p";r=2;t=4`, ""),      // one token back in 3.33 s
			s(1*sec, 200, `"p";r=1;t=6`, ""),  // 2 + 0.3 - 1 = 1.3 left
			s(2*sec, 200, `"p";r=0;t=8`, ""),  // 0.6 left
			s(3*sec, 429, `"p";r=0;t=1`, "1"), // 0.9: one token in 0.33 s
			s(10*sec, 200, `"p";r=2;t=4`, ""), // refilled to 3
			s(10500*time.Millisecond, 200, `"p";r=1;t=7`, ""),
		}},
		{ratelimit.GCRA, []step{ // admits and reports what the token bucket does
			s(0, 200, `"p";r=2;t=4`, ""),
			s(1*sec, 200, `"p";r=1;t=6`, ""),
			s(2*sec, 200, `"p";r=0;t=8`, ""),
			s(3*sec, 429, `"p";r=0;t=1`, "1"),
			s(10*sec, 200, `"p";r=2;t=4`, ""),
			s(10500*time.Millisecond, 200, `"p";r=1;t=7`, ""),
		}},
	}
	_, st := newRedis(t)
	for _, tc := range cases {
		t.Run(tc.alg.String(), func(t *testing.T) {
			l, c := newLimiter(t, st, ratelimit.Options{Name: "h-" + tc.alg.String(),
				Limits: []ratelimit.Limit{ratelimit.Per(3, 10*time.Second).WithName("p").WithAlgorithm(tc.alg)}})
			h := l.Handler(ok)
			for i, step := range tc.steps {
				c.set(base.Add(step.at))
				w := get(h, "/", "192.0.2.1:1")
				if w.Code != step.status || w.Header().Get("RateLimit") != step.rateLimit ||
					w.Header().Get("Retry-After") != step.retryAfter {
					t.Errorf("step %d at %v: %d %q Retry-After=%q, want %d %q %q", i, step.at,
						w.Code, w.Header().Get("RateLimit"), w.Header().Get("Retry-After"),
						step.status, step.rateLimit, step.retryAfter)
				}
				if got := w.Header().Get("RateLimit-Policy"); got != `"p";q=3;w=10` {
					t.Errorf("RateLimit-Policy %q", got)
				}
			}
		})
	}
}
