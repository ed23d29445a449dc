package locking

import (
	"math/rand/v2"
	"time"
)

// RetryStrategy decides whether, and after how long, Obtain tries again
// when the lock is held by someone else.
//
// Strategies are stateless: the retry number is passed in, so one strategy
// value can be shared by every caller and goroutine, and a limit never runs
// out across requests (as a shared counter would).
type RetryStrategy interface {
	// Backoff returns the wait before retry number n (n = 1 is the first
	// retry, after the first attempt failed) and false to give up.
	Backoff(n int) (time.Duration, bool)
}

// RetryFunc adapts a function to a RetryStrategy.
type RetryFunc func(n int) (time.Duration, bool)

// Backoff calls f.
func (f RetryFunc) Backoff(n int) (time.Duration, bool) { return f(n) }

type noRetry struct{}

func (noRetry) Backoff(int) (time.Duration, bool) { return 0, false }

// NoRetry tries once. It is the default.
func NoRetry() RetryStrategy { return noRetry{} }

type linear time.Duration

func (d linear) Backoff(int) (time.Duration, bool) { return time.Duration(d), true }

// LinearBackoff retries every d until the context ends. Combine it with
// LimitRetry or a context deadline to bound the wait.
func LinearBackoff(d time.Duration) RetryStrategy { return linear(d) }

type exponential struct{ min, max time.Duration }

func (e exponential) Backoff(n int) (time.Duration, bool) {
	ceil := e.max
	if n < 1 {
		n = 1
	}
	if n < 62 {
		if d := e.min << (n - 1); d > 0 && d < ceil {
			ceil = d
		}
	}
	if ceil <= e.min {
		return e.min, true
	}
	// Full jitter (AWS architecture blog, "Exponential Backoff And
	// Jitter"), floored at min so that contenders never spin.
	return e.min + rand.N(ceil-e.min+1), true
}

// ExponentialBackoff retries until the context ends, waiting a random time
// between min and min*2^(n-1) (capped at max) before retry n: exponential
// backoff with full jitter, which spreads contenders out instead of waking
// them together. min defaults to 1ms; max is raised to min if smaller.
func ExponentialBackoff(min, max time.Duration) RetryStrategy {
	if min <= 0 {
		min = time.Millisecond
	}
	if max < min {
		max = min
	}
	return exponential{min: min, max: max}
}

type limited struct {
	s   RetryStrategy
	max int
}

func (l limited) Backoff(n int) (time.Duration, bool) {
	if n > l.max {
		return 0, false
	}
	return l.s.Backoff(n)
}

// LimitRetry allows at most max retries (max+1 attempts in all) of s. The
// count is per Obtain call.
func LimitRetry(s RetryStrategy, max int) RetryStrategy {
	if s == nil {
		s = NoRetry()
	}
	return limited{s: s, max: max}
}
