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
	lk      *Locker
	key     string
	keys    [2]string // the owner key and the fence key in Redis
	args    [3]any    // value, TTL in ms, fence TTL in ms: boxed once for every call
	token   string
	value   string // token + metadata, the owner key's value
	fence   int64
	ttl     time.Duration
	maxHold time.Duration
	acquire *round // Redlock: the acquire round, which orders each store's later calls

	obtained time.Time

	mu         sync.Mutex
	parent     context.Context // Obtain's context, until ctx is made
	ctx        context.Context
	cancel     context.CancelCauseFunc
	lost       error // why the lock is lost, once it is
	validUntil time.Time
	expiry     *time.Timer // nil until ctx is made
	released   bool
	capped     bool // the watchdog stopped at MaxHold
}

// start records the acquisition and starts the watchdog. The context and
// its expiry timer are made lazily, on the first call to Context, so that
// a lock nobody watches costs no timer.
func (l *Lock) start(ctx context.Context, watchdog bool) {
	l.obtained = time.Now()
	l.parent = ctx
	if watchdog {
		l.mu.Lock()
		l.armLocked()
		l.mu.Unlock()
		go l.watch()
	}
}

// armLocked makes the lock's context and expiry timer. l.mu must be held.
func (l *Lock) armLocked() {
	if l.ctx != nil {
		return
	}
	l.ctx, l.cancel = context.WithCancelCause(context.WithoutCancel(l.parent))
	l.parent = nil
	if l.lost != nil {
		l.cancel(l.lost)
		return
	}
	l.expiry = time.AfterFunc(time.Until(l.validUntil), l.expired)
}

// lose records that the lock is lost and cancels its context.
func (l *Lock) lose(cause error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.lost == nil {
		l.lost = cause
	}
	if l.expiry != nil {
		l.expiry.Stop()
	}
	if l.cancel != nil {
		l.cancel(l.lost)
	}
}

func (l *Lock) expired() {
	l.mu.Lock()
	// A successful Extend may have moved validUntil after the timer fired.
	if d := time.Until(l.validUntil); d > 0 && l.lost == nil {
		l.expiry.Reset(d)
		l.mu.Unlock()
		return
	}
	cause := errExpired
	if l.capped {
		cause = errMaxHold
	}
	l.mu.Unlock()
	l.lose(cause)
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
// per-store fences, which is not guaranteed to grow from one holder to the
// next: do not fence with it (see the package documentation).
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
func (l *Lock) Context() context.Context {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.armLocked()
	return l.ctx
}

// TTL returns the lock's remaining time to live as Redis sees it, or
// ErrLockNotHeld. For Redlock it is the TTL that a quorum of stores still
// grant.
func (l *Lock) TTL(ctx context.Context) (time.Duration, error) {
	if l.isReleased() {
		return 0, ErrLockNotHeld
	}
	t := l.lk.each(ctx, eachOpts{after: l.acquire, timeout: l.lk.nodeTimeout(l.ttl), values: true}, func(ctx context.Context, _ int, s store.Store) answer {
		v, err := s.Eval(ctx, pttlScript, l.ownerKey(), l.valueArg()...)
		if err != nil {
			return answer{err: err}
		}
		ms, err := store.Int64(v)
		if err != nil {
			return answer{err: err}
		}
		return answer{won: ms >= 0, value: ms}
	})
	if t.won < l.lk.quorum {
		if err := l.quorumErr("ttl", t.won, t.errs); err != nil {
			return 0, err
		}
		return 0, ErrLockNotHeld
	}
	// The quorum-th largest TTL: the time for which a quorum still holds it.
	slices.Sort(t.values)
	return time.Duration(t.values[len(t.values)-l.lk.quorum]) * time.Millisecond, nil
}

// Extend resets the lock's TTL to ttl, if it is still held. It returns
// ErrLockNotHeld if the lock was lost, released, or its validity elapsed
// (its Context is then cancelled). A lock cannot be revived once lost.
func (l *Lock) Extend(ctx context.Context, ttl time.Duration) error {
	if ttl < time.Millisecond {
		return fmt.Errorf("locking: %w: ttl %v is shorter than 1ms", store.ErrInvalidTTL, ttl)
	}
	l.mu.Lock()
	gone := l.released || l.lost != nil
	l.mu.Unlock()
	if gone {
		// Its Context is cancelled for good: even if the key is still in
		// Redis (the validity allows for drift), the holder was told to
		// stop, so extending it would only keep others out.
		return ErrLockNotHeld
	}
	begin := time.Now()
	ms := ttl.Milliseconds()
	// Each store may answer until the current validity ends, and at least
	// within the node timeout. The node timeout keeps a slow node from
	// eating an acquire's validity, but an extension that answers late,
	// while the lock is still held there (the script checks), still
	// extends it; cutting it off at ttl/10 would lose a lock merely
	// because Redis or the machine is loaded.
	timeout := max(l.lk.nodeTimeout(l.ttl), time.Until(l.ValidUntil()))
	t := l.lk.each(ctx, eachOpts{after: l.acquire, timeout: timeout}, func(ctx context.Context, _ int, s store.Store) answer {
		return scriptDone(s.Eval(ctx, extendScript, l.ownerKey(), l.value, ms))
	})
	if t.won < l.lk.quorum {
		if err := l.quorumErr("extend", t.won, t.errs); err != nil {
			return err
		}
		l.lose(errLost)
		return ErrLockNotHeld
	}
	validity := ttl - time.Since(begin) - l.lk.drift(ttl)
	if validity <= 0 {
		return fmt.Errorf("%w: extension of %v took too long to be valid", ErrLockNotHeld, ttl)
	}
	l.mu.Lock()
	if !l.released && l.lost == nil {
		l.validUntil = begin.Add(validity)
		if l.expiry != nil {
			l.expiry.Reset(validity)
		}
	}
	l.mu.Unlock()
	return nil
}

// Release releases the lock. It returns ErrLockNotHeld if the lock had
// already expired or been released, or if l is nil. The Lock's Context is cancelled either
// way. Release uses ctx as given: when releasing in a defer after a
// request, pass context.WithoutCancel(ctx) with a short timeout so that a
// cancelled request still releases.
//
// Redlock: the stores are asked in parallel and Release returns as soon as
// a quorum of them confirmed the release. The other stores' releases go on
// in the background, each bounded by the node timeout on a context that
// ctx's cancellation does not cut short; a store whose acquire was still
// on its way is released after that acquire has answered. Until they
// have answered, those stores (a minority) may still hold the key: another
// process's Obtain needs only a quorum and is not refused by them alone,
// and an Obtain of the same key in this process that finds the key held
// waits for them and tries once more.
func (l *Lock) Release(ctx context.Context) error {
	if l == nil {
		return ErrLockNotHeld
	}
	l.mu.Lock()
	if l.released {
		l.mu.Unlock()
		return ErrLockNotHeld
	}
	l.released = true
	l.mu.Unlock()
	l.lose(errReleased)
	// Redlock: return as soon as the outcome is decided, a quorum of
	// stores having confirmed the release (or so many having answered "not
	// held" that no quorum holds it). The other stores' releases finish in
	// the background, each bounded by the node timeout on a context that
	// ctx's cancellation does not cut short, and are recorded in inflight
	// until they have answered (see Obtain).
	if len(l.lk.nodes) == 1 {
		v, err := l.lk.nodes[0].Eval(ctx, releaseScript, l.ownerKey(), l.valueArg()...)
		switch {
		case err != nil:
			return fmt.Errorf("locking: release %q: %w", l.key, err)
		case v != int64(1):
			return ErrLockNotHeld
		}
		return nil
	}
	owner := l.keys[0]
	p := inflight.add(owner, len(l.lk.nodes))
	// A straggling acquire must not land after its store's release: each
	// orders a store's release after its acquire (l.acquire).
	t := l.lk.each(ctx, eachOpts{after: l.acquire, timeout: l.lk.nodeTimeout(l.ttl)}, func(ctx context.Context, _ int, s store.Store) answer {
		defer inflight.finish(owner, p)
		return scriptDone(s.Eval(ctx, releaseScript, l.ownerKey(), l.valueArg()...))
	})
	if t.won < l.lk.quorum {
		if err := l.quorumErr("release", t.won, t.errs); err != nil {
			return err
		}
		return ErrLockNotHeld
	}
	return nil
}

// ownerKey returns the keys of the release, extend and TTL scripts. The
// slice's capacity is its length, so that a Store that appends to it
// cannot write into the Lock.
func (l *Lock) ownerKey() []string { return l.keys[:1:1] }

// valueArg returns the arguments of the release and TTL scripts, the
// value boxed once (see ownerKey for the capacity).
func (l *Lock) valueArg() []any { return l.args[:1:1] }

func (l *Lock) isReleased() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.released
}

// quorumErr is called when fewer than a quorum of stores reported the lock
// held. It returns nil when the lock is known to be lost: so many stores
// answered "not held" that no quorum can hold it, whatever the stores that
// failed to answer would have said. Otherwise (the failed stores could
// have made up the quorum) it returns an error wrapping theirs: the lock
// may still be held.
func (l *Lock) quorumErr(op string, ok int, errs []error) error {
	n := len(l.lk.nodes)
	if notHeld := n - ok - len(errs); len(errs) == 0 || notHeld > n-l.lk.quorum {
		return nil
	}
	if len(errs) == 1 {
		return fmt.Errorf("locking: %s %q: %w", op, l.key, errs[0])
	}
	return fmt.Errorf("locking: %s %q: %d of %d stores failed: %w", op, l.key, len(errs), len(l.lk.nodes), errors.Join(errs...))
}
