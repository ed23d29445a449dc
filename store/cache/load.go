package cache

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/rediware/rediware/store"
)

// Loader loads the value of a key from the source of truth. It returns
// ErrNotFound (or an error wrapping it) when the value does not exist.
type Loader[V any] func(ctx context.Context) (V, error)

// GetOrLoad returns the value cached under key, or calls load, caches its
// result for ttl (0: Options.TTL) under the given tags, and returns it.
// An empty tag, or more than 1024, is an error wrapping store.ErrInvalidKey
// (before the loader runs: such an entry could not be read back), and so
// is a key or tag the store refuses (too long): those are the caller's
// errors, not a Redis failure to load around.
//
// What it protects against:
//   - stampedes: concurrent misses for one key in this process share one
//     load (singleflight); with Options.FillLock, misses on other instances
//     wait for that load too, up to Options.FillWait;
//   - repeated lookups of missing values: a loader's ErrNotFound is
//     cached for Options.NegativeTTL, and GetOrLoad returns ErrNotFound;
//   - synchronized expiry: TTLs get jitter, and a hit close to expiry
//     may refresh the value in the background first (XFetch, see
//     Options.Beta);
//   - lost invalidations: a fill never overwrites an entry written or
//     invalidated after the fill started (SET NX, or a compare-and-set on
//     the entry's stamp), and tagged entries are version-stamped before
//     the load (see InvalidateTags).
//
// When Redis fails, GetOrLoad reports the error to the Hook and falls
// through to the loader (still coalesced in-process), without writing the
// result: the caller gets the loader's answer, and the load is shared but
// nothing is cached. The loader runs under a context detached from ctx
// (it is shared with other callers) and bounded by Options.LoadTimeout; if
// ctx ends first, GetOrLoad returns ctx's error and the load goes on for
// the others. A lookup that fails because ctx has ended (rather than
// Redis) starts no load: GetOrLoad returns ctx's error.
func (c *Cache[V]) GetOrLoad(ctx context.Context, key string, load Loader[V], ttl time.Duration, tags ...string) (V, error) {
	e, err := c.GetOrLoadEntry(ctx, key, load, ttl, tags...)
	if err == nil && e.NotFound {
		err = ErrNotFound
	}
	return e.Value, err
}

// GetOrLoadEntry is GetOrLoad returning the entry: a "not found", cached or
// just loaded, is an Entry with NotFound set and a nil error.
func (c *Cache[V]) GetOrLoadEntry(ctx context.Context, key string, load Loader[V], ttl time.Duration, tags ...string) (Entry[V], error) {
	fk, err := c.fullKey(key)
	if err != nil {
		return Entry[V]{}, err
	}
	if ttl < 0 {
		return Entry[V]{}, fmt.Errorf("%w: %v", ErrInvalidTTL, ttl)
	}
	if err := checkTags(tags); err != nil {
		return Entry[V]{}, err
	}
	rctx, cancel := c.redisCtx(ctx)
	l, err := c.fetch(rctx, "get_or_load", key, fk)
	cancel()
	if err != nil {
		if ctx.Err() != nil {
			// The caller gave up, not Redis: a load started now would be
			// degraded (uncached, without the fill lock) for every caller
			// that joins it.
			return Entry[V]{}, ctx.Err()
		}
		if errors.Is(err, store.ErrInvalidKey) {
			return Entry[V]{}, err // the caller's key, not Redis, is at fault
		}
		return c.loadShared(ctx, key, fk, load, ttl, tags, lookup{}, true)
	}
	if l.state == stateHit {
		e, err := c.entry(&l.h)
		if err == nil {
			if e.NotFound {
				c.emit(Event{Tier: TierRedis, Kind: NegativeHit, Op: "get_or_load", Key: key})
			} else {
				c.emit(Event{Tier: TierRedis, Kind: Hit, Op: "get_or_load", Key: key})
				c.maybeRefresh(ctx, key, fk, load, ttl, tags, &l)
			}
			return e, nil
		}
		c.emit(Event{Tier: TierRedis, Kind: Error, Op: "get_or_load", Key: key, Err: err})
		l.state = stateCorrupt
	}
	c.emit(Event{Tier: TierRedis, Kind: Miss, Op: "get_or_load", Key: key})
	return c.loadShared(ctx, key, fk, load, ttl, tags, l, false)
}

// loadShared runs fill once per key in this process and waits for it, or
// for ctx.
func (c *Cache[V]) loadShared(ctx context.Context, key, fk string, load Loader[V], ttl time.Duration, tags []string, l lookup, degraded bool) (Entry[V], error) {
	// A load that started before this call's lookup (it joins a flight
	// already running, such as an early refresh) may have read the
	// database, and written its entry, before a change that this call's
	// lookup already saw (a tombstone, say). Its value is still returned,
	// as singleflight does, but without an Expiry, so that nobody keeps it
	// (store/tiered installs only entries with one).
	joined := c.flights.Add(1)
	ch := c.sf.DoChan(fk, func() (any, error) {
		return c.runFlight(ctx, key, fk, load, ttl, tags, l, degraded)
	})
	select {
	case r := <-ch:
		if r.Err != nil {
			return Entry[V]{}, r.Err
		}
		f := r.Val.(flight[V])
		if f.start < joined {
			f.e.Expiry = time.Time{}
		}
		return f.e, nil
	case <-ctx.Done():
		return Entry[V]{}, ctx.Err()
	}
}

// runFlight is the body of a shared load (a miss's, or an early
// refresh's): fill under a context detached from ctx and bounded by
// Options.LoadTimeout, then tell the OnRefresh listeners of a refresh that
// wrote. It returns a flight.
func (c *Cache[V]) runFlight(ctx context.Context, key, fk string, load Loader[V], ttl time.Duration, tags []string, l lookup, degraded bool) (_ any, err error) {
	start := c.flights.Add(1)
	// singleflight re-panics a panic from DoChan's function on a new
	// goroutine, where no caller could recover it: turn it into an error
	// for every waiter instead.
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%w: %v", ErrLoaderPanic, p)
		}
	}()
	lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.o.LoadTimeout)
	defer cancel()
	e, written, err := c.fill(lctx, key, fk, load, ttl, tags, l, degraded)
	if written && l.state == stateHit { // an early refresh
		c.notifyRefreshed(lctx, key)
	}
	return flight[V]{e: e, start: start}, err
}

// fill loads the value and writes it, and reports whether it wrote the
// entry to Redis (rather than finding another instance's fill, or losing
// to a newer write). It runs once per key at a time.
func (c *Cache[V]) fill(ctx context.Context, key, fk string, load Loader[V], ttl time.Duration, tags []string, l lookup, degraded bool) (_ Entry[V], written bool, _ error) {
	// An early refresh (l.state == stateHit) finds the entry it refreshes
	// in Redis: only an entry with another stamp is someone else's fill.
	var skip uint64
	if l.state == stateHit {
		skip = l.h.stamp
	}
	if !degraded && c.o.FillLock {
		e, filled, release := c.acquireFill(ctx, key, fk, skip)
		if filled {
			return e, false, nil
		}
		defer release()
	} else if !degraded && l.state != stateHit {
		// A caller that missed just before the previous load of this key
		// finished starts a new flight: read once more before loading
		// again. A round trip is cheaper than a second load.
		if e, ok := c.readFilled(ctx, key, fk, 0); ok {
			c.emit(Event{Tier: TierRedis, Kind: Hit, Op: "fill", Key: key})
			return e, false, nil
		}
	}
	var stamps []tagStamp
	if !degraded && len(tags) > 0 {
		// Read the versions before the load: an invalidation that lands
		// during the load then makes this entry stale.
		var err error
		rctx, cancel := c.redisCtx(ctx)
		stamps, err = c.tagVersions(rctx, tags)
		cancel()
		if errors.Is(err, store.ErrInvalidKey) {
			return Entry[V]{}, false, err // a tag the store refuses
		}
		if err != nil {
			c.emit(Event{Tier: TierRedis, Kind: Error, Op: "load", Key: key, Err: err})
			degraded = true
		}
	}
	start := time.Now()
	v, err := runLoader(ctx, load)
	delta := time.Since(start)
	c.emit(Event{Tier: TierLoader, Kind: Load, Op: "load", Key: key, Duration: delta, Err: err})
	notFound := errors.Is(err, ErrNotFound)
	if err != nil && !notFound {
		return Entry[V]{}, false, err
	}
	if notFound {
		var zero V
		e := Entry[V]{NotFound: true, Tags: tags}
		if !degraded && c.o.NegativeTTL > 0 {
			e.Expiry, e.Size = c.write(ctx, key, fk, zero, true, c.o.NegativeTTL, delta, stamps, tags, l)
		}
		return e, !e.Expiry.IsZero(), nil
	}
	e := Entry[V]{Value: v, Tags: tags}
	if degraded {
		return e, false, nil
	}
	rttl, err := c.ttl(ttl)
	if err != nil {
		return e, false, err
	}
	e.Expiry, e.Size = c.write(ctx, key, fk, v, false, rttl, delta, stamps, tags, l)
	return e, !e.Expiry.IsZero(), nil
}

// runLoader calls load on a goroutine of its own and turns a panic, or a
// runtime.Goexit (t.FailNow in a loader calls it), into ErrLoaderPanic. A
// Goexit on singleflight's goroutine would end it without a result, and
// every caller of the key would wait for one until its context ended.
func runLoader[V any](ctx context.Context, load Loader[V]) (V, error) {
	type result struct {
		v   V
		err error
	}
	ch := make(chan result, 1)
	go func() {
		var r result
		returned := false
		defer func() {
			if p := recover(); p != nil {
				r = result{err: fmt.Errorf("%w: %v", ErrLoaderPanic, p)}
			} else if !returned {
				r = result{err: fmt.Errorf("%w: the loader called runtime.Goexit", ErrLoaderPanic)}
			}
			ch <- r
		}()
		r.v, r.err = load(ctx)
		returned = true
	}()
	r := <-ch
	return r.v, r.err
}

// write stores a loaded value unless a newer write won meanwhile: SET NX
// when there was no entry, compare-and-set on the stamp when there was a
// stale one. It reports failures to the Hook only: the caller has its
// value. It returns the expiry and size written (zero if nothing was,
// including when a newer entry won).
func (c *Cache[V]) write(ctx context.Context, key, fk string, v V, negative bool, ttl, delta time.Duration, stamps []tagStamp, tags []string, l lookup) (time.Time, int) {
	ctx, cancel := c.redisCtx(ctx)
	defer cancel()
	b, _, expiry, err := c.encode(v, negative, ttl, delta, stamps)
	if err != nil {
		c.emit(Event{Tier: TierRedis, Kind: Error, Op: "fill", Key: key, Err: err})
		return time.Time{}, 0
	}
	written := false
	switch l.state {
	case stateCorrupt, stateStale, stateHit:
		// Replace the entry that was read, and only it: an invalidation
		// (or a newer write) that landed during the load stays. An
		// unreadable entry is matched by the bytes where a readable one
		// has its stamp.
		var st [8]byte
		binary.BigEndian.PutUint64(st[:], l.h.stamp)
		cas := string(st[:])
		if l.state == stateCorrupt && l.h.size == 0 {
			cas = l.raw
		}
		var r any
		if r, err = c.s.Eval(ctx, replaceScript, []string{fk}, cas, b, ttl.Milliseconds()); err == nil {
			n, _ := r.(int64)
			written = n == 1
		}
	default:
		written, err = c.s.SetNX(ctx, fk, b, ttl)
	}
	if err != nil {
		c.emit(Event{Tier: TierRedis, Kind: Error, Op: "fill", Key: key, Err: err})
		return time.Time{}, 0
	}
	if !written {
		// A newer write or an invalidation won: keep it. The caller still
		// gets the value it loaded, but nobody may cache it further.
		return time.Time{}, 0
	}
	if len(tags) > 0 {
		_ = c.addMembers(ctx, key, fk, tags, expiry, ttl) // reported by addMembers
	}
	return expiry, len(b)
}

// maybeRefresh applies XFetch: refresh early, in the background, when
// -delta * beta * ln(rand) >= time to expiry.
func (c *Cache[V]) maybeRefresh(ctx context.Context, key, fk string, load Loader[V], ttl time.Duration, tags []string, l *lookup) {
	if c.o.Beta <= 0 || l.h.delta <= 0 {
		return
	}
	rem, ok := l.h.remaining(time.Now())
	if !ok {
		return
	}
	x := -float64(l.h.delta) * c.o.Beta * math.Log(1-rand.Float64()) // 1-Float64 is in (0, 1]
	if x < float64(rem) {
		return
	}
	c.emit(Event{Tier: TierRedis, Kind: EarlyRefresh, Op: "get_or_load", Key: key})
	c.refresh(ctx, key, fk, load, ttl, tags, *l)
}

// refresh starts a background fill. It is a function of its own so that
// only a refresh, not every hit, pays for the closure's captured variables.
//
//go:noinline
func (c *Cache[V]) refresh(ctx context.Context, key, fk string, load Loader[V], ttl time.Duration, tags []string, l lookup) {
	// Shares the key with misses: if a fill is already running, this joins
	// it. The result channel is buffered, so nobody needs to read it.
	c.sf.DoChan(fk, func() (any, error) {
		return c.runFlight(ctx, key, fk, load, ttl, tags, l, false)
	})
}

// flight is the result of a shared load: its entry, and when it started
// (in c.flights order).
type flight[V any] struct {
	e     Entry[V]
	start uint64
}

// OnRefresh registers f to be called after an early refresh (XFetch, see
// Options.Beta) has written a new entry for key to Redis, on the
// refreshing goroutine, under the refresh's context. It is not called for
// fills after a miss (no instance can hold a live copy of an entry that is
// missing from Redis), nor when the refresh lost to a newer write or found
// another instance's fill. store/tiered uses it to drop the refreshed key
// from every instance's local tier, as a write does. It returns a function
// that removes f.
func (c *Cache[V]) OnRefresh(f func(ctx context.Context, key string)) (remove func()) {
	c.refreshMu.Lock()
	defer c.refreshMu.Unlock()
	if c.refreshed == nil {
		c.refreshed = make(map[uint64]func(context.Context, string))
	}
	c.nextID++
	id := c.nextID
	c.refreshed[id] = f
	return func() {
		c.refreshMu.Lock()
		delete(c.refreshed, id)
		c.refreshMu.Unlock()
	}
}

func (c *Cache[V]) notifyRefreshed(ctx context.Context, key string) {
	c.refreshMu.Lock()
	fs := make([]func(context.Context, string), 0, len(c.refreshed))
	for _, f := range c.refreshed {
		fs = append(fs, f)
	}
	c.refreshMu.Unlock()
	for _, f := range fs {
		f(ctx, key)
	}
}

// acquireFill takes the cross-instance fill lock for key, or waits for the
// instance that holds it to fill the entry. filled reports that the entry
// was filled by another instance meanwhile (e holds it); an entry stamped
// skip (the one an early refresh replaces) does not count. Otherwise the
// caller loads, and calls release when done. If Redis fails or the wait
// exceeds Options.FillWait, the caller loads without the lock.
func (c *Cache[V]) acquireFill(ctx context.Context, key, fk string, skip uint64) (e Entry[V], filled bool, release func()) {
	noop := func() {}
	lk := c.o.Prefix + "~fill:" + key
	var tb [16]byte
	binary.BigEndian.PutUint64(tb[:], rand.Uint64())
	binary.BigEndian.PutUint64(tb[8:], rand.Uint64())
	token := []byte(hex.EncodeToString(tb[:]))
	start := time.Now()
	deadline := start.Add(c.o.FillWait)
	backoff := 2 * time.Millisecond
	for {
		rctx, cancel := c.redisCtx(ctx)
		ok, err := c.s.SetNX(rctx, lk, token, c.o.FillLockTTL)
		cancel()
		if err != nil {
			c.emit(Event{Tier: TierRedis, Kind: Error, Op: "fill_lock", Key: key, Err: err})
			return e, false, noop
		}
		if ok {
			release = func() {
				rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
				defer cancel()
				if _, err := c.s.Eval(rctx, unlockScript, []string{lk}, token); err != nil {
					c.emit(Event{Tier: TierRedis, Kind: Error, Op: "fill_unlock", Key: key, Err: err})
				}
			}
			// Another instance may have filled and released just before.
			if e, ok := c.readFilled(ctx, key, fk, skip); ok {
				release()
				c.emit(Event{Tier: TierRedis, Kind: Hit, Op: "fill_lock", Key: key})
				return e, true, noop
			}
			return e, false, release
		}
		now := time.Now()
		if !now.Before(deadline) {
			c.emit(Event{Tier: TierRedis, Kind: LockWait, Op: "fill_lock", Key: key, Duration: now.Sub(start), Err: context.DeadlineExceeded})
			return e, false, noop
		}
		t := time.NewTimer(min(backoff, deadline.Sub(now)))
		select {
		case <-ctx.Done():
			t.Stop()
			return e, false, noop
		case <-t.C:
		}
		backoff = min(2*backoff, 50*time.Millisecond)
		if e, ok := c.readFilled(ctx, key, fk, skip); ok {
			c.emit(Event{Tier: TierRedis, Kind: LockWait, Op: "fill_lock", Key: key, Duration: time.Since(start)})
			return e, true, noop
		}
	}
}

// readFilled reads a valid entry not stamped skip (0: any), quietly.
func (c *Cache[V]) readFilled(ctx context.Context, key, fk string, skip uint64) (Entry[V], bool) {
	ctx, cancel := c.redisCtx(ctx)
	defer cancel()
	l, err := c.fetch(ctx, "fill_lock", key, fk)
	if err != nil || l.state != stateHit || (skip != 0 && l.h.stamp == skip) {
		return Entry[V]{}, false
	}
	e, err := c.entry(&l.h)
	if err != nil {
		return Entry[V]{}, false
	}
	return e, true
}
