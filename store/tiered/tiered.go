package tiered

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rediware/rediware/store"
	"github.com/rediware/rediware/store/cache"
)

// Options configures a Cache. The zero value means all defaults.
type Options[V any] struct {
	// MaxEntries bounds the local tier. Default: 10000.
	MaxEntries int

	// MaxBytes, if positive, also bounds the local tier by the sum of the
	// entries' sizes (Size, or their size in Redis). Default: 0 (entries
	// only).
	MaxBytes int64

	// Size, if set, returns the size in bytes of a value, for MaxBytes.
	// Default: the size of the entry in Redis.
	Size func(V) int64

	// LocalTTL caps how long a value stays in the local tier. The local
	// tier never keeps a value longer than its Redis entry lives. It also
	// bounds how long a value may be served stale after an invalidation
	// was lost while the subscription was down but not yet known to be
	// (see the package doc). Default: 1 minute.
	LocalTTL time.Duration

	// Channel is the pub/sub channel for invalidations, shared by every
	// instance of one cache. Default: the Redis cache's prefix + "~inval".
	Channel string

	// Hook receives the local tier's events (TierLocal); the Redis
	// tier's events go to the Hook of the cache.Cache.
	Hook cache.Hook
}

// Cache is a coherent two-tier cache: an in-process LRU of decoded values
// over a cache.Cache in Redis. It is safe for concurrent use. Close it to
// release its subscription.
type Cache[V any] struct {
	rc      *cache.Cache[V]
	s       store.Store
	local   *lru[V]
	o       Options[V]
	channel string
	id      uint64 // this instance, to skip its own echoes

	live      atomic.Bool // the subscription is up: the local tier may be used
	cancel    context.CancelFunc
	done      chan struct{}
	ready     chan struct{}
	once      sync.Once
	closeOnce sync.Once
	unlisten  func() // stops hearing of rc's early refreshes
}

// New returns a two-tier cache over rc, and starts its invalidation
// subscription in the background. Until the subscription is confirmed
// (and whenever it is closed), the local tier is bypassed: every read goes
// to Redis. Use Ready to wait for it.
func New[V any](rc *cache.Cache[V], opts Options[V]) *Cache[V] {
	o := opts
	if o.MaxEntries <= 0 {
		o.MaxEntries = 10000
	}
	if o.LocalTTL <= 0 {
		o.LocalTTL = time.Minute
	}
	if o.Channel == "" {
		o.Channel = rc.Prefix() + "~inval"
	}
	ctx, cancel := context.WithCancel(context.Background())
	c := &Cache[V]{
		rc: rc, s: rc.Store(), local: newLRU[V](o.MaxEntries, o.MaxBytes), o: o, channel: o.Channel,
		cancel: cancel, done: make(chan struct{}), ready: make(chan struct{}), id: rand.Uint64(),
	}
	// An early refresh (XFetch) writes a newer value to Redis, as Set
	// does: drop the key from every local tier, as Set does, or the other
	// instances would serve the older value until their copies expire.
	c.unlisten = rc.OnRefresh(func(ctx context.Context, key string) {
		_ = c.broadcast(ctx, opKeys, []string{key}) // a failed publish is reported to the Hook
	})
	clockAcquire()
	go c.listen(ctx)
	return c
}

// Ready returns a channel closed once the invalidation subscription is
// first confirmed and the local tier is in use.
func (c *Cache[V]) Ready() <-chan struct{} { return c.ready }

// Close stops the subscription; the local tier is then bypassed. It waits
// for the listener to exit.
func (c *Cache[V]) Close() error {
	c.cancel()
	<-c.done
	c.closeOnce.Do(func() {
		c.unlisten()
		clockRelease()
	})
	return nil
}

// Redis returns the Redis tier.
func (c *Cache[V]) Redis() *cache.Cache[V] { return c.rc }

// LocalLen returns the number of entries in the local tier.
func (c *Cache[V]) LocalLen() int { return c.local.len() }

func (c *Cache[V]) emit(e cache.Event) {
	if c.o.Hook != nil {
		c.o.Hook(e)
	}
}

// listen keeps the subscription, applies invalidations, and flushes the
// local tier on every reconnect (pub/sub is at-most-once: messages sent
// while it was down are lost).
func (c *Cache[V]) listen(ctx context.Context) {
	defer close(c.done)
	defer c.live.Store(false)
	backoff := 50 * time.Millisecond
	for ctx.Err() == nil {
		sub, err := c.s.Subscribe(ctx, []string{c.channel}, nil)
		if err != nil {
			c.emit(cache.Event{Tier: cache.TierLocal, Kind: cache.Error, Op: "subscribe", Err: err})
			t := time.NewTimer(backoff)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			backoff = min(2*backoff, 5*time.Second)
			continue
		}
		backoff = 50 * time.Millisecond
		c.local.flush()
		c.live.Store(true)
		c.once.Do(func() { close(c.ready) })
		c.consume(ctx, sub)
		c.live.Store(false)
		c.local.flush()
		sub.Close()
	}
}

func (c *Cache[V]) consume(ctx context.Context, sub store.Subscription) {
	for {
		select {
		case <-ctx.Done():
			return
		case m, ok := <-sub.Messages():
			if !ok {
				return
			}
			if m.Kind == store.Reconnected {
				n := c.local.flush()
				c.emit(cache.Event{Tier: cache.TierLocal, Kind: cache.Invalidate, Op: "reconnected", Key: "*", Err: nil, Duration: time.Duration(n)})
				continue
			}
			c.apply(m.Payload, true)
		}
	}
}

// apply applies one invalidation message to the local tier. This
// instance's own messages were applied before they were published (see
// broadcast), so their echo is skipped.
func (c *Cache[V]) apply(payload []byte, remote bool) {
	op, origin, items, err := decodeMessage(payload)
	if remote && err == nil && origin == c.id {
		return
	}
	if err != nil {
		c.local.flush() // unknown change: assume anything changed
		c.emit(cache.Event{Tier: cache.TierLocal, Kind: cache.Error, Op: "invalidation", Err: err})
		return
	}
	switch op {
	case opKeys:
		c.local.drop(items)
		for _, k := range items {
			c.emit(cache.Event{Tier: cache.TierLocal, Kind: cache.Invalidate, Op: "delete", Key: k})
		}
	case opTags:
		c.local.dropTags(items)
		for _, t := range items {
			c.emit(cache.Event{Tier: cache.TierLocal, Kind: cache.Invalidate, Op: "invalidate_tag", Key: t})
		}
	case opPattern:
		for _, p := range items {
			c.local.dropPattern(p)
			c.emit(cache.Event{Tier: cache.TierLocal, Kind: cache.Invalidate, Op: "invalidate_pattern", Key: p})
		}
	default:
		c.local.flush()
		c.emit(cache.Event{Tier: cache.TierLocal, Kind: cache.Invalidate, Op: "flush", Key: "*"})
	}
}

// broadcast applies an invalidation here at once, then publishes it to
// every instance. The writer's own instance receives it too, and skips it:
// it was applied before the publish, so that this instance's next read
// already misses, and so that fills started before it are refused.
func (c *Cache[V]) broadcast(ctx context.Context, op byte, items []string) error {
	msg := encodeMessage(op, c.id, items)
	c.apply(msg, false)
	if _, err := c.s.Publish(ctx, c.channel, msg); err != nil {
		c.emit(cache.Event{Tier: cache.TierLocal, Kind: cache.Error, Op: "publish", Err: err})
		return err
	}
	return nil
}

// lookupLocal returns a live local value.
func (c *Cache[V]) lookupLocal(op, key string) (V, bool, bool) {
	if !c.live.Load() {
		var zero V
		return zero, false, false
	}
	n, ok := c.local.get(key, coarseNow())
	if !ok {
		if c.o.Hook != nil {
			c.o.Hook(cache.Event{Tier: cache.TierLocal, Kind: cache.Miss, Op: op, Key: key})
		}
		var zero V
		return zero, false, false
	}
	if c.o.Hook != nil {
		k := cache.Hit
		if n.notFound {
			k = cache.NegativeHit
		}
		c.o.Hook(cache.Event{Tier: cache.TierLocal, Kind: k, Op: op, Key: key})
	}
	return n.val, n.notFound, true
}

// fill installs e, read from Redis after epoch e0, for no longer than the
// Redis entry lives.
func (c *Cache[V]) fill(key string, e cache.Entry[V], e0 uint64) {
	if e.Expiry.IsZero() || !c.live.Load() {
		return // not in Redis (a degraded load), or no subscription
	}
	now := time.Now().UnixNano()
	exp := min(e.Expiry.UnixNano(), now+int64(c.o.LocalTTL)) - int64(clockMargin)
	if exp <= now {
		return
	}
	size := int64(e.Size)
	if c.o.Size != nil && !e.NotFound {
		size = c.o.Size(e.Value)
	}
	c.local.install(&node[V]{key: key, val: e.Value, notFound: e.NotFound, expires: exp, size: size, tags: e.Tags}, e0)
}

// Get returns the value of key from the local tier, or from Redis (then
// kept locally). A miss and a cached "not found" are (zero, false, nil).
// If Redis fails, Get returns its error (a local hit needs no Redis).
func (c *Cache[V]) Get(ctx context.Context, key string) (V, bool, error) {
	if v, notFound, ok := c.lookupLocal("get", key); ok {
		return v, !notFound, nil
	}
	e0 := c.local.snapshot()
	e, found, err := c.rc.GetEntry(ctx, key)
	if err != nil || !found {
		var zero V
		return zero, false, err
	}
	c.fill(key, e, e0)
	if e.NotFound {
		return e.Value, false, nil
	}
	return e.Value, true, nil
}

// GetOrLoad returns the value of key from the local tier, else from Redis,
// else from load, as cache.Cache.GetOrLoad does (stampede protection,
// negative caching, early refresh, tags), and keeps it locally. An early
// refresh that writes a new value drops the key from every instance's
// local tier, as Set does.
func (c *Cache[V]) GetOrLoad(ctx context.Context, key string, load cache.Loader[V], ttl time.Duration, tags ...string) (V, error) {
	if v, notFound, ok := c.lookupLocal("get_or_load", key); ok {
		if notFound {
			return v, cache.ErrNotFound
		}
		return v, nil
	}
	e0 := c.local.snapshot()
	e, err := c.rc.GetOrLoadEntry(ctx, key, load, ttl, tags...)
	if err != nil {
		return e.Value, err
	}
	c.fill(key, e, e0)
	if e.NotFound {
		return e.Value, cache.ErrNotFound
	}
	return e.Value, nil
}

// Set writes v to Redis, then drops key from every instance's local tier,
// this one's first. If Redis fails, Set returns the error; the local
// entry is dropped here anyway.
func (c *Cache[V]) Set(ctx context.Context, key string, v V, ttl time.Duration, tags ...string) error {
	err := c.rc.Set(ctx, key, v, ttl, tags...)
	if berr := c.broadcast(ctx, opKeys, []string{key}); err == nil {
		err = berr
	}
	return err
}

// Delete deletes keys from Redis and from every instance's local tier.
func (c *Cache[V]) Delete(ctx context.Context, keys ...string) error {
	err := c.rc.Delete(ctx, keys...)
	if berr := c.broadcast(ctx, opKeys, keys); err == nil {
		err = berr
	}
	return err
}

// Invalidate is cache.Cache.Invalidate (tombstones) on Redis, and drops
// keys from every instance's local tier.
func (c *Cache[V]) Invalidate(ctx context.Context, keys ...string) error {
	err := c.rc.Invalidate(ctx, keys...)
	if berr := c.broadcast(ctx, opKeys, keys); err == nil {
		err = berr
	}
	return err
}

// InvalidateTags invalidates tags in Redis (see cache.Cache.InvalidateTags)
// and drops their entries from every instance's local tier.
func (c *Cache[V]) InvalidateTags(ctx context.Context, tags ...string) (int64, error) {
	n, err := c.rc.InvalidateTags(ctx, tags...)
	if berr := c.broadcast(ctx, opTags, tags); err == nil {
		err = berr
	}
	return n, err
}

// InvalidatePattern deletes the matching entries from Redis (SCAN +
// UNLINK) and from every instance's local tier.
func (c *Cache[V]) InvalidatePattern(ctx context.Context, pattern string) (int64, error) {
	n, err := c.rc.InvalidatePattern(ctx, pattern)
	if berr := c.broadcast(ctx, opPattern, []string{pattern}); err == nil {
		err = berr
	}
	return n, err
}

// FlushLocal empties the local tier of every instance.
func (c *Cache[V]) FlushLocal(ctx context.Context) error {
	return c.broadcast(ctx, opFlush, nil)
}

// WriteThrough is cache.Cache.WriteThrough, then drops key from every
// instance's local tier. If the database was written but the drop could
// not be published (the other instances may serve the old value for up to
// LocalTTL), the error wraps cache.ErrCacheNotUpdated.
func (c *Cache[V]) WriteThrough(ctx context.Context, key string, v V, write func(context.Context, V) error, ttl time.Duration, tags ...string) error {
	err := c.rc.WriteThrough(ctx, key, v, write, ttl, tags...)
	return c.afterWrite(ctx, key, err)
}

// WriteAround is cache.Cache.WriteAround, then drops key from every
// instance's local tier. If the database was written but the drop could
// not be published, the error wraps cache.ErrCacheNotUpdated.
func (c *Cache[V]) WriteAround(ctx context.Context, key string, write func(context.Context) error) error {
	err := c.rc.WriteAround(ctx, key, write)
	return c.afterWrite(ctx, key, err)
}

// afterWrite broadcasts the drop of key after a database write that ended
// with err, and reports a failed broadcast if err does not already say
// something.
func (c *Cache[V]) afterWrite(ctx context.Context, key string, err error) error {
	if berr := c.broadcast(ctx, opKeys, []string{key}); berr != nil && err == nil {
		return fmt.Errorf("%w: %w", cache.ErrCacheNotUpdated, berr)
	}
	return err
}
