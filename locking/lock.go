package locking

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/rediware/rediware/store"
)

// Lock is a held lock. Its methods are safe for concurrent use.
type Lock struct {
	lk       *Locker
	key      string
	owner    string // owner key in Redis
	fenceKey string
	token    string
	value    string // token + metadata, the owner key's value
	fence    int64
	ttl      time.Duration
	maxHold  time.Duration
	pending  *sync.WaitGroup // Redlock acquires still in flight

	obtained time.Time
	ctx      context.Context
	cancel   context.CancelCauseFunc

	mu         sync.Mutex
	validUntil time.Time
	expiry     *time.Timer
	released   bool
	capped     bool // the watchdog stopped at MaxHold
}

// start arms the lock's context, its expiry timer and the watchdog.
func (l *Lock) start(ctx context.Context, watchdog bool) {
	l.obtained = time.Now()
	l.ctx, l.cancel = context.WithCancelCause(context.WithoutCancel(ctx))
	l.mu.Lock()
	l.expiry = time.AfterFunc(time.Until(l.validUntil), l.expired)
	l.mu.Unlock()
	if watchdog {
		go l.watch()
	}
}

func (l *Lock) expired() {
	l.mu.Lock()
	// A successful Extend may have moved validUntil after the timer fired.
	if d := time.Until(l.validUntil); d > 0 && !l.released {
		l.expiry.Reset(d)
		l.mu.Unlock()
		return
	}
	cause := errExpired
	if l.capped {
		cause = errMaxHold
	}
	l.mu.Unlock()
	l.cancel(cause)
}

// Key returns the lock's name, as passed to Obtain.
func (l *Lock) Key() string { return l.key }

// Token returns the random token (128 bits from crypto/rand) that proves
// ownership of the lock.
func (l *Lock) Token() string { return l.token }

// Metadata returns the metadata passed to Obtain.
func (l *Lock) Metadata() string { return l.value[len(l.token):] }

// Fence returns the lock's fencing token: a number that is larger for every
// later acquisition of the same key, issued in the same script as the
// acquisition. Pass it along with every write the lock protects, and have
// the resource reject writes carrying a smaller fence than one it has
// seen (see FencedSet). For Redlock it is the largest of the quorum's
// per-store fences: see the package documentation for its limits.
func (l *Lock) Fence() int64 { return l.fence }

// ValidUntil returns the time until which the lock is known to be held,
// allowing for clock drift; Extend and the watchdog move it forward.
func (l *Lock) ValidUntil() time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.validUntil
}

// Context returns a context that is cancelled as soon as the lock is known
// to be lost: when it is released, when its validity elapses without a
// successful extension, or when the watchdog finds it taken or deleted.
// context.Cause then returns an error wrapping ErrLockNotHeld. It carries
// the values of the context passed to Obtain but not its cancellation.
// Do the lock-protected work under it.
func (l *Lock) Context() context.Context { return l.ctx }

// TTL returns the lock's remaining time to live as Redis sees it, or
// ErrLockNotHeld. For Redlock it is the TTL that a quorum of stores still
// grant.
func (l *Lock) TTL(ctx context.Context) (time.Duration, error) {
	if l.isReleased() {
		return 0, ErrLockNotHeld
	}
	ttls := make([]time.Duration, 0, len(l.lk.nodes))
	ctx, cancel := l.nodeCtx(ctx)
	defer cancel()
	var mu sync.Mutex
	held, errs := l.lk.each(ctx, func(ctx context.Context, s store.Store) (bool, error) {
		v, err := s.Eval(ctx, pttlScript, []string{l.owner}, l.value)
		if err != nil {
			return false, err
		}
		ms, err := store.Int64(v)
		if err != nil || ms < 0 {
			return false, err
		}
		mu.Lock()
		ttls = append(ttls, time.Duration(ms)*time.Millisecond)
		mu.Unlock()
		return true, nil
	})
	if held < l.lk.quorum {
		if err := l.quorumErr("ttl", held, errs); err != nil {
			return 0, err
		}
		return 0, ErrLockNotHeld
	}
	slices.Sort(ttls)
	slices.Reverse(ttls)
	return ttls[l.lk.quorum-1], nil
}

// Extend resets the lock's TTL to ttl, if it is still held. It returns
// ErrLockNotHeld if the lock was lost; the lock's Context is then
// cancelled. A lock cannot be revived once lost.
func (l *Lock) Extend(ctx context.Context, ttl time.Duration) error {
	if ttl < time.Millisecond {
		return fmt.Errorf("locking: %w: ttl %v is shorter than 1ms", store.ErrInvalidTTL, ttl)
	}
	if l.isReleased() {
		return ErrLockNotHeld
	}
	begin := time.Now()
	ms := ttl.Milliseconds()
	ctx, cancel := l.nodeCtx(ctx)
	defer cancel()
	held, errs := l.lk.each(ctx, func(ctx context.Context, s store.Store) (bool, error) {
		v, err := s.Eval(ctx, extendScript, []string{l.owner}, l.value, ms)
		return err == nil && v == int64(1), err
	})
	if held < l.lk.quorum {
		if err := l.quorumErr("extend", held, errs); err != nil {
			return err
		}
		l.cancel(errLost)
		return ErrLockNotHeld
	}
	validity := ttl - time.Since(begin) - l.lk.drift(ttl)
	if validity <= 0 {
		return fmt.Errorf("%w: extension of %v took too long to be valid", ErrLockNotHeld, ttl)
	}
	l.mu.Lock()
	if !l.released {
		l.validUntil = begin.Add(validity)
		l.expiry.Reset(validity)
	}
	l.mu.Unlock()
	return nil
}

// Release releases the lock. It returns ErrLockNotHeld if the lock had
// already expired or been released. The Lock's Context is cancelled either
// way. Release uses ctx as given: when releasing in a defer after a
// request, pass context.WithoutCancel(ctx) with a short timeout so that a
// cancelled request still releases.
func (l *Lock) Release(ctx context.Context) error {
	l.mu.Lock()
	if l.released {
		l.mu.Unlock()
		return ErrLockNotHeld
	}
	l.released = true
	l.expiry.Stop()
	l.mu.Unlock()
	l.cancel(errReleased)
	if l.pending != nil {
		l.pending.Wait() // so that no straggling acquire lands after the release
	}
	ctx, cancel := l.nodeCtx(ctx)
	defer cancel()
	held, errs := l.lk.each(ctx, func(ctx context.Context, s store.Store) (bool, error) {
		v, err := s.Eval(ctx, releaseScript, []string{l.owner}, l.value)
		return err == nil && v == int64(1), err
	})
	if held < l.lk.quorum {
		if err := l.quorumErr("release", held, errs); err != nil {
			return err
		}
		return ErrLockNotHeld
	}
	return nil
}

func (l *Lock) isReleased() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.released
}

// nodeCtx bounds a Redlock round by the node timeout; a single store uses
// ctx as it is.
func (l *Lock) nodeCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	if len(l.lk.nodes) == 1 {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, l.lk.nodeTimeout(l.ttl))
}

// quorumErr returns an error when store failures, rather than answers,
// kept the quorum from being reached.
func (l *Lock) quorumErr(op string, ok int, errs []error) error {
	if len(errs) == 0 || len(l.lk.nodes)-len(errs) >= l.lk.quorum {
		return nil
	}
	if len(errs) == 1 {
		return fmt.Errorf("locking: %s %q: %w", op, l.key, errs[0])
	}
	return fmt.Errorf("locking: %s %q: %d of %d stores failed: %w", op, l.key, len(errs), len(l.lk.nodes), errors.Join(errs...))
}
