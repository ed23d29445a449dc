package ratelimit

import (
	"math"
	"slices"
	"sort"
	"sync"
	"time"
)

// localLimiter is the in-process fallback: the arithmetic of allow.lua over
// a map, per instance. It is used only while Redis is unavailable.
type localLimiter struct {
	mu      sync.Mutex
	max     int
	entries map[string]*localState
	ops     int // decisions since the last sweep
	sweeps  int // full sweeps so far (for tests)
}

type localState struct {
	a, b, c float64 // fw: window, count; swc: window, cur, prev; tb: tokens, ts; gcra: tat
	log     []float64
	expires float64 // microseconds
}

func newLocalLimiter(max int) *localLimiter {
	return &localLimiter{max: max, entries: make(map[string]*localState)}
}

const eps = 1e-6

// allow decides one request over all policies, all or nothing, and fills out.
func (ll *localLimiter) allow(t time.Time, keys []string, limits []Limit, n int, out []PolicyResult) {
	now := float64(t.UnixMicro())
	ll.mu.Lock()
	defer ll.mu.Unlock()
	ll.housekeep(now, keys)
	commits := make([]func() (float64, float64), len(limits))
	all := true
	for i, lim := range limits {
		st := ll.entries[keys[i]]
		if st != nil && st.expires <= now {
			st = nil
		}
		fresh := st == nil
		if fresh {
			st = &localState{}
		}
		ev := evaluate(lim, st, fresh, now, float64(n))
		if !ev.fits {
			all = false
		}
		key := keys[i]
		commit := ev.commit
		commits[i] = func() (float64, float64) {
			rem, reset, ttl := commit()
			st.expires = now + math.Max(math.Ceil(ttl/1000), 1)*1000
			ll.entries[key] = st
			return rem, reset
		}
		out[i] = localResult(lim, ev.fits, ev.rem, ev.retry, ev.reset)
	}
	if !all || n == 0 {
		return
	}
	for i, lim := range limits {
		rem, reset := commits[i]()
		out[i] = localResult(lim, true, rem, 0, reset)
	}
}

func localResult(lim Limit, fits bool, rem, retry, reset float64) PolicyResult {
	c := func(x float64) int64 {
		if x > 0 {
			return int64(math.Ceil(x - eps))
		}
		return int64(x)
	}
	return policyResult(lim, fits, c(rem), c(retry), c(reset))
}

// housekeep drops expired entries now and then, and makes room for the
// keys of the decision at hand. A full sweep visits every entry, so it runs
// only once per max(1024, entries/8) decisions: a fallback full of live
// entries (ever new clients while Redis is down) costs a few map visits per
// decision, not a scan of LocalMaxKeys entries under the lock. Beyond that,
// arbitrary entries other than the decision's own are evicted.
func (ll *localLimiter) housekeep(now float64, keys []string) {
	ll.ops++
	if ll.ops >= max(1024, len(ll.entries)/8) {
		ll.ops = 0
		ll.sweeps++
		for k, st := range ll.entries {
			if st.expires <= now {
				delete(ll.entries, k)
			}
		}
	}
	if len(ll.entries)+len(keys) <= ll.max {
		return
	}
	for k := range ll.entries {
		if len(ll.entries)+len(keys) <= ll.max {
			break
		}
		if !slices.Contains(keys, k) {
			delete(ll.entries, k)
		}
	}
}

type evaluation struct {
	fits              bool
	rem, retry, reset float64
	// commit writes the new state and returns remaining, reset and the TTL
	// in microseconds.
	commit func() (rem, reset, ttl float64)
}

func floor0(x float64) float64 { return math.Max(math.Floor(x+eps), 0) }

// evaluate mirrors the evaluators in allow.lua; see there.
func evaluate(lim Limit, st *localState, fresh bool, now, n float64) evaluation {
	R, P, B := float64(lim.Rate), float64(lim.Period.Microseconds()), float64(lim.Burst)
	switch lim.Algorithm {
	case FixedWindow:
		win := math.Floor(now / P)
		wend := (win + 1) * P
		c := 0.0
		if !fresh && st.a == win {
			c = st.b
		}
		ev := evaluation{fits: n == 0 || c+n <= R, rem: R - c}
		if !ev.fits {
			ev.retry = wend - now
			if n > R {
				ev.retry = -1
			}
		}
		if c > 0 {
			ev.reset = wend - now
		}
		ev.commit = func() (float64, float64, float64) {
			st.a, st.b = win, c+n
			return R - c - n, wend - now, wend - now
		}
		return ev
	case SlidingWindowLog:
		cut := now - P
		i := sort.Search(len(st.log), func(i int) bool { return st.log[i] > cut })
		st.log = st.log[i:]
		count := float64(len(st.log))
		newest := now
		if len(st.log) > 0 {
			newest = st.log[len(st.log)-1]
		}
		ev := evaluation{fits: n == 0 || count+n <= R, rem: R - count}
		if !ev.fits {
			if n > R {
				ev.retry = -1
			} else {
				ev.retry = st.log[int(count+n-R-1)] + P - now
			}
		}
		if count > 0 {
			ev.reset = newest + P - now
		}
		ev.commit = func() (float64, float64, float64) {
			t := math.Max(now, newest)
			for j := 0; j < int(n); j++ {
				st.log = append(st.log, t)
			}
			return R - count - n, t + P - now, t + P - now
		}
		return ev
	case SlidingWindowCounter:
		win := math.Floor(now / P)
		ws := win * P
		e := now - ws
		cur, prev := 0.0, 0.0
		if !fresh {
			if st.a == win {
				cur, prev = st.b, st.c
			} else if st.a == win-1 {
				prev = st.b
			}
		}
		estP := prev*(P-e) + cur*P
		ev := evaluation{fits: n == 0 || estP+n*P <= R*P, rem: math.Floor(R - estP/P + eps)}
		if !ev.fits {
			switch {
			case n > R:
				ev.retry = -1
			case cur+n > R:
				ev.retry = (ws + P - now) + math.Ceil(P*(cur+n-R)/cur)
			default:
				ev.retry = math.Ceil(P - (R-cur-n)*P/prev - e)
			}
		}
		if cur > 0 {
			ev.reset = ws + 2*P - now
		} else if prev > 0 {
			ev.reset = ws + P - now
		}
		ev.commit = func() (float64, float64, float64) {
			st.a, st.b, st.c = win, cur+n, prev
			return math.Floor(R - (estP+n*P)/P + eps), ws + 2*P - now, ws + 2*P - now
		}
		return ev
	case TokenBucket:
		tokens := B
		if !fresh {
			el := math.Max(now-st.b, 0)
			tokens = math.Min(st.a+el*R/P, B)
		}
		ev := evaluation{fits: tokens+eps >= n, rem: floor0(tokens), reset: (B - tokens) * P / R}
		if !ev.fits {
			ev.retry = (n - tokens) * P / R
			if n > B {
				ev.retry = -1
			}
		}
		ev.commit = func() (float64, float64, float64) {
			left := math.Max(tokens-n, 0)
			reset := (B - left) * P / R
			st.a, st.b = left, now
			return floor0(left), reset, reset
		}
		return ev
	default: // GCRA
		T := P / R
		tau := B * T
		tat := now
		if !fresh && st.a > now {
			tat = st.a
		}
		newTAT := tat + n*T
		allowAt := newTAT - tau
		ev := evaluation{fits: allowAt <= now+eps, rem: math.Min(floor0((now-tat+tau)/T), B), reset: tat - now}
		if !ev.fits {
			ev.retry = allowAt - now
			if n > B {
				ev.retry = -1
			}
		}
		ev.commit = func() (float64, float64, float64) {
			st.a = newTAT
			return floor0((now - allowAt) / T), newTAT - now, newTAT - now
		}
		return ev
	}
}
