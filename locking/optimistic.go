package locking

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rediware/rediware/store"
)

// OptimisticOptions configure Optimistic. A nil pointer means all defaults.
type OptimisticOptions struct {
	// MaxRetries is how many times a transaction aborted by a conflict is
	// run again. Default: 10. Negative: no retry.
	MaxRetries int

	// Backoff is the wait before each retry. Retries stop early, with
	// ErrTooManyConflicts, when it returns false. Default:
	// ExponentialBackoff(1ms, 50ms), jittered so that contenders spread.
	Backoff RetryStrategy
}

// Optimistic runs fn in an optimistic transaction on keys (WATCH, then fn,
// whose Tx.Exec runs MULTI/EXEC) and runs it again, with backoff, while
// Exec reports that a watched key changed (store.ErrTxConflict). It
// returns fn's error, ErrTooManyConflicts (which also wraps
// store.ErrTxConflict) when the retries run out, or the context's error.
//
// fn must read what it needs through tx.Do, compute, and finish with one
// tx.Exec; it may run several times, so it must not have other side
// effects. On Redis Cluster all keys must share a hash slot.
//
// s must implement store.Watcher; otherwise Optimistic returns an error
// wrapping errors.ErrUnsupported.
func Optimistic(ctx context.Context, s store.Store, keys []string, fn func(tx store.Tx) error, opts *OptimisticOptions) error {
	w, ok := s.(store.Watcher)
	if !ok {
		return fmt.Errorf("locking: optimistic: %T does not implement store.Watcher: %w", s, errors.ErrUnsupported)
	}
	if len(keys) == 0 {
		return errors.New("locking: optimistic: no keys to watch")
	}
	var o OptimisticOptions
	if opts != nil {
		o = *opts
	}
	if o.MaxRetries == 0 {
		o.MaxRetries = 10
	}
	if o.Backoff == nil {
		o.Backoff = ExponentialBackoff(time.Millisecond, 50*time.Millisecond)
	}
	var timer *time.Timer
	for retry := 0; ; retry++ {
		err := w.Watch(ctx, fn, keys...)
		if !errors.Is(err, store.ErrTxConflict) {
			return err
		}
		if retry >= o.MaxRetries {
			return fmt.Errorf("%w: %d attempts on %q: %w", ErrTooManyConflicts, retry+1, keys, err)
		}
		wait, ok := o.Backoff.Backoff(retry + 1)
		if !ok {
			return fmt.Errorf("%w: %d attempts on %q: %w", ErrTooManyConflicts, retry+1, keys, err)
		}
		if timer == nil {
			timer = time.NewTimer(wait)
			defer timer.Stop()
		} else {
			timer.Reset(wait)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("locking: optimistic: %w", ctx.Err())
		case <-timer.C:
		}
	}
}
