package ratelimit

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Algorithm selects how a Limit counts requests. Every algorithm runs as one
// Lua script on Redis, reading the time with Redis TIME, and the same
// arithmetic runs in the in-process fallback.
type Algorithm uint8

// The algorithms. The zero value is GCRA.
const (
	// GCRA (the generic cell rate algorithm) spaces requests evenly at
	// Rate per Period and lets up to Burst through at once. It stores one
	// timestamp per key. Exact. This is the default.
	GCRA Algorithm = iota
	// TokenBucket holds up to Burst tokens, refilled continuously at Rate
	// per Period; a request takes Cost tokens. It stores two numbers per
	// key. Exact; it admits exactly what GCRA admits, and reports the same.
	TokenBucket
	// FixedWindow counts requests in windows of Period aligned to the Unix
	// epoch and admits Rate per window. Exact per window, but a client can
	// send 2×Rate across a window boundary. Burst is ignored.
	FixedWindow
	// SlidingWindowLog keeps the time of every admitted request in a sorted
	// set and admits Rate in any Period. Exact. The set never holds more
	// than Rate entries (denied requests are not logged), so memory per key
	// is bounded by Rate; prefer it for small rates. Burst is ignored.
	SlidingWindowLog
	// SlidingWindowCounter weighs the previous window's count by how much
	// of it still overlaps the sliding window (the two-window
	// approximation). Constant memory, smooth, approximate. Burst is
	// ignored.
	SlidingWindowCounter
)

// luaCode is the algorithm's number in allow.lua.
func (a Algorithm) luaCode() int {
	switch a {
	case FixedWindow:
		return 1
	case SlidingWindowLog:
		return 2
	case SlidingWindowCounter:
		return 3
	case TokenBucket:
		return 4
	default:
		return 5
	}
}

// String returns the algorithm's short name, used in keys: "gcra", "tb",
// "fw", "swl" or "swc".
func (a Algorithm) String() string {
	switch a {
	case GCRA:
		return "gcra"
	case TokenBucket:
		return "tb"
	case FixedWindow:
		return "fw"
	case SlidingWindowLog:
		return "swl"
	case SlidingWindowCounter:
		return "swc"
	default:
		return "Algorithm(" + strconv.Itoa(int(a)) + ")"
	}
}

// Limit is one rate-limit policy: Rate requests per Period, counted with
// Algorithm. Build it with PerSecond, PerMinute, PerHour or Per, and adjust it
// with the With methods; the struct can also be written out in full.
type Limit struct {
	// Name identifies the policy in the RateLimit headers and in Redis keys.
	// It must be unique within a Limiter, and should be unique among
	// limiters stacked on one route. Default: "<rate>-per-<period>", for
	// example "100-per-1m0s" (or "5-per-300us": "µ" is written "u").
	Name string
	// Rate is how many units (requests, unless a request costs more) the
	// policy admits per Period. It must be positive, and at most MaxRate.
	Rate int
	// Period is the window length, or the time over which Rate refills.
	// It must be at least one microsecond and at most MaxPeriod;
	// sub-second periods work.
	Period time.Duration
	// Burst is, for GCRA and TokenBucket, how many units may be taken at
	// once from a full bucket. Default: Rate. Other algorithms ignore it.
	// A full burst refills in Burst/Rate periods, which must be at most
	// MaxPeriod.
	Burst int
	// Algorithm counts the requests. Default: GCRA.
	Algorithm Algorithm
}

// Per returns a limit of rate per period, counted with GCRA.
func Per(rate int, period time.Duration) Limit { return Limit{Rate: rate, Period: period} }

// PerSecond returns a limit of rate per second.
func PerSecond(rate int) Limit { return Per(rate, time.Second) }

// PerMinute returns a limit of rate per minute.
func PerMinute(rate int) Limit { return Per(rate, time.Minute) }

// PerHour returns a limit of rate per hour.
func PerHour(rate int) Limit { return Per(rate, time.Hour) }

// WithBurst returns a copy of l with Burst set to burst.
func (l Limit) WithBurst(burst int) Limit { l.Burst = burst; return l }

// WithName returns a copy of l with Name set to name.
func (l Limit) WithName(name string) Limit { l.Name = name; return l }

// WithAlgorithm returns a copy of l counted with a.
func (l Limit) WithAlgorithm(a Algorithm) Limit { l.Algorithm = a; return l }

// MaxRate is the largest Rate and Burst: 2^53, up to which every integer is
// exact in a Lua number (a float64), so that counts and remaining units are
// exact.
const MaxRate = 1 << 53

// MaxPeriod is the longest Period, and the longest time a full Burst may
// take to refill: a hundred years (of 365 days). Times in a Result reach up
// to two periods, or the refill time, and must fit a time.Duration.
const MaxPeriod = 100 * 365 * 24 * time.Hour

// ErrInvalidLimit is wrapped by the error returned for a Limit that cannot be
// enforced (non-positive rate or period, negative burst, duplicate or
// malformed name, unknown algorithm, a rate or burst beyond MaxRate, a period
// beyond MaxPeriod, a burst that takes longer than MaxPeriod to refill).
var ErrInvalidLimit = errors.New("ratelimit: invalid limit")

// maxNameLen bounds policy and limiter names, which appear in every key and
// header.
const maxNameLen = 64

// normalise returns l with defaults filled in, or an error.
func (l Limit) normalise() (Limit, error) {
	if l.Rate <= 0 {
		return l, fmt.Errorf("%w: rate %d must be positive", ErrInvalidLimit, l.Rate)
	}
	if int64(l.Rate) > MaxRate || int64(l.Burst) > MaxRate { // int64: MaxRate overflows a 32-bit int
		return l, fmt.Errorf("%w: rate %d and burst %d must be at most MaxRate (2^53)", ErrInvalidLimit, l.Rate, l.Burst)
	}
	if l.Period < time.Microsecond {
		return l, fmt.Errorf("%w: period %v must be at least 1µs", ErrInvalidLimit, l.Period)
	}
	if l.Period > MaxPeriod {
		return l, fmt.Errorf("%w: period %v must be at most MaxPeriod (100 years)", ErrInvalidLimit, l.Period)
	}
	if l.Burst < 0 {
		return l, fmt.Errorf("%w: burst %d must not be negative", ErrInvalidLimit, l.Burst)
	}
	if l.Algorithm > SlidingWindowCounter {
		return l, fmt.Errorf("%w: unknown algorithm %d", ErrInvalidLimit, l.Algorithm)
	}
	if l.Algorithm == GCRA && l.Period/time.Duration(l.Rate) < time.Microsecond {
		// The script keeps GCRA's theoretical arrival time in float64
		// microseconds since the epoch, exact to a quarter microsecond.
		return l, fmt.Errorf("%w: GCRA needs Period/Rate of at least 1µs (at most 1e6 per second); use TokenBucket", ErrInvalidLimit)
	}
	if l.Burst == 0 || (l.Algorithm != GCRA && l.Algorithm != TokenBucket) {
		l.Burst = l.Rate
	}
	if float64(l.Burst)/float64(l.Rate)*float64(l.Period) > float64(MaxPeriod) {
		// A full burst takes Burst/Rate periods to refill, and that time
		// is reported (ResetAfter, RetryAfter) and set as the key's TTL.
		return l, fmt.Errorf("%w: burst %d at %d per %v takes more than MaxPeriod (100 years) to refill", ErrInvalidLimit, l.Burst, l.Rate, l.Period)
	}
	if l.Name == "" {
		// Duration.String writes "µs" below a millisecond; names are ASCII.
		l.Name = strconv.Itoa(l.Rate) + "-per-" + strings.ReplaceAll(l.Period.String(), "µ", "u")
	}
	if err := checkName(l.Name); err != nil {
		return l, fmt.Errorf("%w: %w", ErrInvalidLimit, err)
	}
	return l, nil
}

// checkName accepts names made of visible ASCII without braces, so they can
// go into a key after the hash tag and into a header as an sf-string.
func checkName(name string) error {
	if name == "" || len(name) > maxNameLen {
		return fmt.Errorf("name %q must have 1 to %d bytes", name, maxNameLen)
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; c <= ' ' || c >= 0x7f || c == '{' || c == '}' {
			return fmt.Errorf("name %q: only visible ASCII other than braces is allowed", name)
		}
	}
	return nil
}

// capacity is the most units the policy can ever grant to one request.
func (l Limit) capacity() int { return l.Burst }

// String describes the limit, for example "100 per 1m0s (gcra, burst 100)".
func (l Limit) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d per %v (%v", l.Rate, l.Period, l.Algorithm)
	if l.Algorithm == GCRA || l.Algorithm == TokenBucket {
		burst := l.Burst
		if burst == 0 {
			burst = l.Rate
		}
		fmt.Fprintf(&b, ", burst %d", burst)
	}
	b.WriteByte(')')
	return b.String()
}
