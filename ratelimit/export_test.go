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

// LocalKeys returns how many keys l's fallback limiter holds.
func LocalKeys(l *Limiter) int {
	l.local.mu.Lock()
	defer l.local.mu.Unlock()
	return len(l.local.entries)
}

// LocalSweeps returns how many times l's fallback limiter has scanned all
// its keys for expired ones.
func LocalSweeps(l *Limiter) int {
	l.local.mu.Lock()
	defer l.local.mu.Unlock()
	return l.local.sweeps
}

// Pending returns how many decisions wait in l's batch queue.
func Pending(l *Limiter) int {
	if l.batch == nil {
		return 0
	}
	l.batch.mu.Lock()
	defer l.batch.mu.Unlock()
	return len(l.batch.pending)
}
