package tiered

import (
	"testing"
	"time"
)

// TestLRU_get_does_not_trust_a_stalled_coarse_clock: the shared coarse
// clock is only as fresh as its goroutine's last tick, which a loaded
// machine or a GC pause can delay far beyond clockMargin. An entry already
// past its expiry by the real clock must not be served because the coarse
// clock lags.
func TestLRU_get_does_not_trust_a_stalled_coarse_clock(t *testing.T) {
	l := newLRU[string](10, 0)
	now := time.Now().UnixNano()
	if !l.install(&node[string]{key: "k", val: "v", expires: now - 1}, 0) {
		t.Fatal("not installed")
	}
	stale := now - int64(200*time.Millisecond) // a tick 200ms late
	if _, ok := l.get("k", stale); ok {
		t.Fatal("served an expired entry on a stalled coarse clock")
	}
}

func TestLRU_get_serves_live_entry(t *testing.T) {
	l := newLRU[string](10, 0)
	now := time.Now().UnixNano()
	l.install(&node[string]{key: "k", val: "v", expires: now + int64(time.Hour)}, 0)
	if n, ok := l.get("k", now); !ok || n.val != "v" {
		t.Fatal("live entry not served")
	}
}
