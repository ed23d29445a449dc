package locking

import "sync"

// inflight tracks, per owner key, the Redlock releases this process still
// has on their way: Release returns once a quorum of stores confirmed, and
// the other stores' releases finish in the background. An Obtain of the
// same key that finds it held waits for them and tries once more, so that
// a process is never refused a lock by its own release still in flight.
var inflight = releases{m: make(map[string]*pendingRelease)}

type releases struct {
	mu sync.Mutex
	m  map[string]*pendingRelease
}

// pendingRelease counts one key's store releases not yet answered.
type pendingRelease struct {
	left int
	done chan struct{} // closed when left reaches 0
}

// add records n store releases of key on their way.
func (r *releases) add(key string, n int) *pendingRelease {
	r.mu.Lock()
	defer r.mu.Unlock()
	p := r.m[key]
	if p == nil {
		p = &pendingRelease{done: make(chan struct{})}
		r.m[key] = p
	}
	p.left += n
	return p
}

// finish records that one of p's store releases has answered (or failed).
func (r *releases) finish(key string, p *pendingRelease) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if p.left--; p.left == 0 {
		close(p.done)
		delete(r.m, key)
	}
}

// pending returns a channel closed once key's releases in flight have all
// answered, or nil if there are none.
func (r *releases) pending(key string) <-chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	if p := r.m[key]; p != nil {
		return p.done
	}
	return nil
}
