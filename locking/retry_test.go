package locking_test

import (
	"testing"
	"time"

	"github.com/rediware/rediware/locking"
)

func TestLimitRetry_counts_per_call_not_per_strategy(t *testing.T) {
	s := locking.LimitRetry(locking.LinearBackoff(time.Millisecond), 2)
	for call := range 3 { // a shared counter would run out on the second call
		for n := 1; n <= 2; n++ {
			if d, ok := s.Backoff(n); !ok || d != time.Millisecond {
				t.Fatalf("call %d retry %d: %v %v", call, n, d, ok)
			}
		}
		if _, ok := s.Backoff(3); ok {
			t.Fatalf("call %d: retry 3 allowed", call)
		}
	}
}

func TestNoRetry_gives_up(t *testing.T) {
	if _, ok := locking.NoRetry().Backoff(1); ok {
		t.Fatal("NoRetry retried")
	}
}

func TestExponentialBackoff_stays_within_bounds(t *testing.T) {
	min, max := 2*time.Millisecond, 40*time.Millisecond
	s := locking.ExponentialBackoff(min, max)
	for n := 1; n <= 100; n++ {
		ceil := max
		if n < 10 && min<<(n-1) < max {
			ceil = min << (n - 1)
		}
		for range 20 {
			d, ok := s.Backoff(n)
			if !ok || d < min || d > ceil {
				t.Fatalf("retry %d: %v (want %v..%v)", n, d, min, ceil)
			}
		}
	}
}

func TestExponentialBackoff_is_jittered(t *testing.T) {
	s := locking.ExponentialBackoff(time.Millisecond, time.Second)
	seen := map[time.Duration]bool{}
	for range 50 {
		d, _ := s.Backoff(8)
		seen[d] = true
	}
	if len(seen) < 10 {
		t.Fatalf("only %d distinct waits in 50", len(seen))
	}
}
