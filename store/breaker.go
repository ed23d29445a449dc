package store

import (
	"errors"
	"sync"
	"time"
)

// ErrCircuitOpen is returned by Breaker.Do while the circuit is open: Redis
// failed recently, and calls fail at once instead of each waiting for a
// timeout. It wraps ErrUnavailable, so errors.Is(err, ErrUnavailable) holds.
var ErrCircuitOpen = &circuitOpenError{}

type circuitOpenError struct{}

func (*circuitOpenError) Error() string { return "store: circuit open: redis recently unavailable" }
func (*circuitOpenError) Unwrap() error { return ErrUnavailable }

// Breaker is a circuit breaker for calls to Redis. After Failures
// consecutive ErrUnavailable errors it opens for Cooldown: Allow reports
// false and Do fails with ErrCircuitOpen without calling Redis. After the
// cooldown it lets one trial call through (half-open); success closes it,
// failure opens it again. Only ErrUnavailable counts as a failure: a Redis
// error reply or a caller's error means Redis is up.
//
// The zero value is ready to use with the defaults. A Breaker is safe for
// concurrent use and must not be copied after first use.
type Breaker struct {
	// Failures is how many consecutive failures open the circuit.
	// Default: 5.
	Failures int
	// Cooldown is how long the circuit stays open before a trial call.
	// Default: 1s.
	Cooldown time.Duration

	// now is replaced in tests.
	now func() time.Time

	mu       sync.Mutex
	failures int
	openedAt time.Time
	open     bool
	trial    bool // a half-open trial call is in flight
}

// BreakerState is the state of a Breaker.
type BreakerState uint8

// Breaker states.
const (
	BreakerClosed BreakerState = iota
	BreakerOpen
	BreakerHalfOpen
)

func (b *Breaker) clock() time.Time {
	if b.now != nil {
		return b.now()
	}
	return time.Now()
}

func (b *Breaker) cooldown() time.Duration {
	if b.Cooldown > 0 {
		return b.Cooldown
	}
	return time.Second
}

// Allow reports whether a call may go to Redis now. When it returns true
// the caller must report the outcome with Record.
func (b *Breaker) Allow() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.open {
		return true
	}
	if b.trial || b.clock().Sub(b.openedAt) < b.cooldown() {
		return false
	}
	b.trial = true
	return true
}

// Record reports the outcome of a call that Allow let through.
func (b *Breaker) Record(err error) {
	failed := errors.Is(err, ErrUnavailable)
	b.mu.Lock()
	defer b.mu.Unlock()
	b.trial = false
	if !failed {
		b.failures, b.open = 0, false
		return
	}
	b.failures++
	max := b.Failures
	if max <= 0 {
		max = 5
	}
	if b.open || b.failures >= max {
		b.open, b.openedAt = true, b.clock()
	}
}

// Do runs fn if the circuit allows it and records the outcome; otherwise it
// returns ErrCircuitOpen.
func (b *Breaker) Do(fn func() error) error {
	if !b.Allow() {
		return ErrCircuitOpen
	}
	err := fn()
	b.Record(err)
	return err
}

// State returns the current state.
func (b *Breaker) State() BreakerState {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case !b.open:
		return BreakerClosed
	case b.trial || b.clock().Sub(b.openedAt) >= b.cooldown():
		return BreakerHalfOpen
	default:
		return BreakerOpen
	}
}
