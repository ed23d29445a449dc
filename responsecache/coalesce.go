package responsecache

import (
	"context"
	"net/http"
	"sync"
	"time"
)

// flight is one origin fetch that concurrent misses for the same key wait
// for.
type flight struct {
	done    chan struct{}
	ent     *entry // the stored, shareable result, or nil
	waiters int    // requests that joined the leader, guarded by the group's mutex
}

type flightGroup struct {
	mu sync.Mutex
	m  map[string]*flight
	// done holds when the last flight of each key finished, for about a
	// second: a request that looked the key up before then and only joins
	// afterwards reads the cache again instead of leading a new fetch.
	done map[string]time.Time
}

// maxRecentFlights bounds done; past it, entries older than a second are
// swept, and if that is not enough the map is cleared (it only saves
// origin requests, it is never needed for correctness).
const maxRecentFlights = 4096

// join returns the flight for key, and whether the caller leads it.
func (g *flightGroup) join(key string) (*flight, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if f, ok := g.m[key]; ok {
		f.waiters++
		return f, false
	}
	f := &flight{done: make(chan struct{})}
	g.m[key] = f
	return f, true
}

func (g *flightGroup) finish(key string, f *flight, e *entry) {
	now := time.Now()
	g.mu.Lock()
	delete(g.m, key)
	if g.done == nil {
		g.done = make(map[string]time.Time)
	}
	if len(g.done) >= maxRecentFlights {
		for k, t := range g.done {
			if now.Sub(t) > time.Second {
				delete(g.done, k)
			}
		}
		if len(g.done) >= maxRecentFlights {
			clear(g.done)
		}
	}
	g.done[key] = now
	g.mu.Unlock()
	f.ent = e
	close(f.done)
}

// finishedSince reports whether a flight for key finished at or after t.
func (g *flightGroup) finishedSince(key string, t time.Time) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	d, ok := g.done[key]
	return ok && !d.Before(t)
}

// waitForOtherInstance takes the cross-instance fill lock for pk. If
// another instance holds it, it polls for that instance's entry up to
// CoalesceWait and returns it; nil means "fetch it yourself".
func (h *handler) waitForOtherInstance(r *http.Request, pk string) *entry {
	c := h.c
	ctx := r.Context()
	lockKey := c.headKey(pk) + ":lock"
	ttl := c.opts.LockTTL
	if ttl <= 0 {
		ttl = 5 * time.Second
	}
	var got bool
	err := c.call(ctx, func(ctx context.Context) error {
		var err error
		got, err = c.s.SetNX(ctx, lockKey, []byte("1"), ttl)
		return err
	})
	if err != nil {
		return nil
	}
	if got {
		// We fill; release the lock once done (the TTL covers a crash).
		context.AfterFunc(ctx, func() {
			_ = c.call(context.Background(), func(ctx context.Context) error {
				_, err := c.s.Delete(ctx, lockKey)
				return err
			})
		})
		return nil
	}
	wait := c.opts.CoalesceWait
	if wait <= 0 || wait > ttl {
		wait = ttl
	}
	deadline := time.Now().Add(wait)
	for time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(25 * time.Millisecond):
		}
		// The lock is read before the entry: the holder stores first and
		// releases after, so a released lock and still no usable entry
		// means it stored nothing this request may use (a private
		// response, another variant...): stop waiting and fetch.
		_, held, err := c.get(ctx, lockKey)
		if err != nil {
			return nil
		}
		lr, err := c.lookup(ctx, r, pk, time.Now())
		if err != nil {
			return nil
		}
		if lr.ent != nil && h.usableFor(r, lr.ent, r.Header.Get("Authorization") != "") {
			return lr.ent
		}
		if !held {
			return nil
		}
	}
	return nil
}
