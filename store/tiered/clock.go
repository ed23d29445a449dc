package tiered

import (
	"sync"
	"sync/atomic"
	"time"
)

// Reading the clock costs 20 to 200 ns depending on the machine (more than
// the rest of a local hit), so hits read a coarse clock instead: one
// goroutine, shared by every Cache of the process and running only while
// one is open, stores the time every clockTick. That goroutine can be
// descheduled far longer than a tick on a loaded machine, so a hit on an
// entry within clockSlack of its expiry (by the coarse clock) reads the
// real clock: only a coarse clock more than clockSlack late could serve an
// expired entry. Entries are also installed to expire clockMargin early.
const (
	clockTick   = time.Millisecond
	clockMargin = 5 * time.Millisecond
	clockSlack  = time.Second
)

var clock struct {
	now  atomic.Int64 // unix nanoseconds, updated every clockTick
	mu   sync.Mutex
	refs int
	stop chan struct{}
}

// clockAcquire starts the shared clock if needed.
func clockAcquire() {
	clock.mu.Lock()
	defer clock.mu.Unlock()
	clock.refs++
	if clock.refs > 1 {
		return
	}
	clock.now.Store(time.Now().UnixNano())
	stop := make(chan struct{})
	clock.stop = stop
	go func() {
		t := time.NewTicker(clockTick)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				clock.now.Store(time.Now().UnixNano())
			}
		}
	}()
}

// clockRelease stops the shared clock when its last user leaves.
func clockRelease() {
	clock.mu.Lock()
	defer clock.mu.Unlock()
	clock.refs--
	if clock.refs == 0 {
		close(clock.stop)
	}
}

// coarseNow returns the shared clock's time.
func coarseNow() int64 { return clock.now.Load() }
