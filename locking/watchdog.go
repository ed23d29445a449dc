package locking

import (
	"context"
	"errors"
	"time"
)

// watch extends the lock every ttl/3 until it is released, lost, or
// MaxHold is reached. Each extension may take until the lock's current
// validity ends (not just one tick): an answer that arrives late but while
// the lock is still valid is a good extension, and a loaded Redis or
// machine must not cost the lock. A failed extension that is not a
// definitive loss (Redis briefly down) is retried on the next tick; if none
// succeeds before the validity elapses, the expiry timer cancels the
// context.
func (l *Lock) watch() {
	interval := max(l.ttl/3, time.Millisecond)
	t := time.NewTicker(interval)
	defer t.Stop()
	deadline := l.obtained.Add(l.maxHold)
	done := l.Context()
	for {
		select {
		case <-done.Done():
			return
		case <-t.C:
		}
		ttl := l.ttl
		if left := time.Until(deadline); left < ttl {
			if left < time.Millisecond {
				l.mu.Lock()
				l.capped = true
				l.mu.Unlock()
				return // let it expire at the end of its validity
			}
			ttl = left
		}
		ctx, cancel := context.WithDeadline(done, l.ValidUntil())
		err := l.Extend(ctx, ttl)
		cancel()
		if errors.Is(err, ErrLockNotHeld) && done.Err() == nil {
			if time.Until(deadline) < time.Millisecond {
				l.lose(errMaxHold)
			} else {
				l.lose(errLost)
			}
			return
		}
	}
}
