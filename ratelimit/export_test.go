package ratelimit

import "time"

// SetClock makes l use now instead of Redis TIME (passed to the script as
// its optional time argument) and instead of time.Now in the fallback.
// Tests only: production always reads the Redis clock.
func SetClock(l *Limiter, now func() time.Time) { l.nowHook = now }

// Batched returns how many decisions of l went to Redis in shared batches.
func Batched(l *Limiter) int64 {
	if l.batch == nil {
		return 0
	}
	return l.batch.shared.Load()
}

// BatchingOff reports whether l turned batching off after CROSSSLOT.
func BatchingOff(l *Limiter) bool { return l.batch != nil && l.batch.disabled.Load() }
