package locking

import (
	"errors"
	"fmt"
	"time"
)

var (
	// ErrNotObtained is returned by Obtain when the lock is held by someone
	// else and the retry strategy gave up (or the context ended while
	// waiting). The error is a [*NotObtainedError], which also says how long
	// the current holder still has.
	ErrNotObtained = errors.New("locking: not obtained")

	// ErrLockNotHeld is returned by Release, Extend and TTL when the lock is
	// no longer held by this Lock: it expired, was released, or was taken
	// by another holder after it expired. It is also the cause of a Lock's
	// Context once the lock is lost (see [Lock.Context]).
	ErrLockNotHeld = errors.New("locking: lock not held")

	// ErrStaleFence is returned by FencedSet when the stored value was
	// written with a newer fencing token than the caller's: the caller's
	// lock was lost and a later holder has already written.
	ErrStaleFence = errors.New("locking: stale fencing token")

	// ErrTooManyConflicts is returned by Optimistic when every attempt was
	// aborted because a watched key changed.
	ErrTooManyConflicts = errors.New("locking: too many conflicts")
)

// Causes of a Lock's Context cancellation; all wrap ErrLockNotHeld.
var (
	errReleased = fmt.Errorf("%w: released", ErrLockNotHeld)
	errExpired  = fmt.Errorf("%w: validity elapsed without a successful extension", ErrLockNotHeld)
	errLost     = fmt.Errorf("%w: lost (expired and taken, or deleted)", ErrLockNotHeld)
	errMaxHold  = fmt.Errorf("%w: MaxHold reached", ErrLockNotHeld)
)

// NotObtainedError is the error Obtain returns when the lock is held by
// someone else. errors.Is(err, ErrNotObtained) is true; when the wait was
// cut short by the context, errors.Is(err, context.DeadlineExceeded) (or
// context.Canceled) is true as well.
type NotObtainedError struct {
	// Key is the lock's name as passed to Obtain.
	Key string
	// HolderTTL is the current holder's remaining TTL as last seen, or 0
	// if unknown. It is a good Retry-After.
	HolderTTL time.Duration
	// Attempts is the number of acquire attempts made.
	Attempts int
	// Err is the context's error when the wait was cut short, else nil.
	Err error
}

func (e *NotObtainedError) Error() string {
	msg := fmt.Sprintf("locking: %q not obtained after %d attempt(s)", e.Key, e.Attempts)
	if e.HolderTTL > 0 {
		msg += fmt.Sprintf(", held for another %v", e.HolderTTL)
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap returns ErrNotObtained and, if set, the context's error.
func (e *NotObtainedError) Unwrap() []error {
	if e.Err != nil {
		return []error{ErrNotObtained, e.Err}
	}
	return []error{ErrNotObtained}
}
