package cache

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/rediware/rediware/store"
)

var (
	// ErrNotFound is returned by a loader to say that the value does not
	// exist. With Options.NegativeTTL set, the cache remembers the answer
	// for that long, and GetOrLoad returns ErrNotFound without calling the
	// loader again.
	ErrNotFound = errors.New("cache: not found")

	// ErrInvalidTTL is returned for a negative TTL.
	ErrInvalidTTL = errors.New("cache: invalid ttl")

	// ErrLoaderPanic is returned by GetOrLoad, to every caller waiting for
	// the load, when the loader panicked or called runtime.Goexit (as
	// t.FailNow does). The panic does not crash the process (the load runs
	// on a shared goroutine that no caller could recover), and a Goexit
	// does not leave the callers waiting.
	ErrLoaderPanic = errors.New("cache: loader panicked")

	// ErrReservedKey is returned for a key that starts with '~', which the
	// cache reserves for its own bookkeeping (fill locks, tag versions).
	ErrReservedKey = errors.New("cache: key starts with the reserved '~'")
)

// Options configures a Cache. The zero value means all defaults.
type Options[V any] struct {
	// Codec encodes values. Default: JSON.
	Codec Codec[V]

	// Prefix is prepended to every key. Keys under Prefix+"~" are the
	// cache's own (fill locks, tag versions and members). Default: "cache:".
	Prefix string

	// TTL is used when an operation is given a ttl of 0. Every entry
	// expires: there is no "forever". Default: 1 hour.
	TTL time.Duration

	// Jitter shortens each TTL by a random fraction of up to Jitter, so
	// that keys written together do not expire together. Default: 0.1
	// (a 1 h TTL becomes 54 to 60 min). Negative: no jitter.
	Jitter float64

	// NegativeTTL is how long a loader's ErrNotFound is remembered. Zero
	// disables negative caching: every GetOrLoad of a missing value calls
	// the loader (coalesced by singleflight).
	NegativeTTL time.Duration

	// CompressAbove is the encoded size, in bytes, above which a value is
	// compressed with DEFLATE (kept only when it is smaller). Default:
	// 1024. Negative: never compress.
	CompressAbove int

	// Beta is XFetch's β (Vattani et al., 2015): GetOrLoad refreshes a hit
	// early, in the background, with a probability that grows as expiry
	// nears and with how long the last load took. 1 is the paper's
	// optimum; larger refreshes earlier. Default: 1. Negative: never
	// refresh early.
	Beta float64

	// FillLock enables the cross-instance fill lock: on a miss, GetOrLoad
	// takes a short Redis lock (SET NX PX) before it calls the loader, and
	// other instances that miss meanwhile wait for the fill and read it,
	// instead of all calling the loader. Within one process, concurrent
	// misses are always coalesced (singleflight), lock or not.
	FillLock bool

	// FillLockTTL is the lease of the fill lock: if its holder dies, others
	// take over after this long. Default: 10s.
	FillLockTTL time.Duration

	// FillWait bounds how long GetOrLoad waits for another instance's fill
	// before it calls the loader itself. Default: 5s.
	FillWait time.Duration

	// LoadTimeout bounds a loader call. A load is shared by every caller
	// waiting for the key, so it does not run under any one caller's
	// context (a caller that gives up just stops waiting); it runs under a
	// context detached from the first caller's, with this timeout.
	// Default: 30s.
	LoadTimeout time.Duration

	// TagVersionTTL is the least time a tag's version outlives an
	// invalidation of the tag (see InvalidateTags). Versions are also kept
	// as long as the tag's member set, which lives as long as its longest
	// entry; but an entry whose membership could not be recorded (a Redis
	// error right after its SET, reported to the Hook) is covered only for
	// TagVersionTTL, after which an outdated entry stamped with the expired
	// version could read as current again. Keep it above the longest TTL of
	// tagged entries. Default: 24h.
	TagVersionTTL time.Duration

	// RedisTimeout, if positive, bounds each Redis call GetOrLoad makes
	// (the lookup, the fill lock, the write) with a context timeout, so
	// that a slow Redis leaves the caller time to fall through to the
	// loader. It costs a timer per call (measured: about 20% of a
	// loopback hit), so the default is 0: bound calls with the client's
	// own read and write timeouts instead (go-redis ReadTimeout, e.g.
	// 250ms), which cost nothing extra, and add a Breaker.
	RedisTimeout time.Duration

	// Breaker, if set, is a circuit breaker for every Redis call of the
	// cache: after repeated store.ErrUnavailable failures it fails calls at
	// once (store.ErrCircuitOpen) for its cooldown, so that with Redis
	// down each GetOrLoad goes straight to the loader instead of waiting
	// for a timeout first. Share one Breaker between the caches of one
	// Redis.
	Breaker *store.Breaker

	// Hook, if set, receives an Event for every hit, miss, load, early
	// refresh, lock wait and error.
	Hook Hook
}

// Cache is a typed cache over a store.Store. It is safe for concurrent use.
type Cache[V any] struct {
	s     store.Store // raw, or guarded by Options.Breaker
	raw   store.Store
	codec Codec[V]
	o     Options[V] // with defaults applied
	ks    store.Keyspace
	sf    singleflight.Group
	// flights orders the starts of shared loads against the callers that
	// join them (see loadShared).
	flights atomic.Uint64

	refreshMu sync.Mutex
	refreshed map[uint64]func(ctx context.Context, key string) // OnRefresh listeners
	nextID    uint64
}

// New returns a Cache over s. It does not contact Redis.
func New[V any](s store.Store, opts Options[V]) *Cache[V] {
	o := opts
	if o.Codec == nil {
		o.Codec = JSON[V]()
	}
	if o.Prefix == "" {
		o.Prefix = "cache:"
	}
	if o.TTL <= 0 {
		o.TTL = time.Hour
	}
	if o.Jitter == 0 {
		o.Jitter = 0.1
	}
	if o.Jitter < 0 {
		o.Jitter = 0
	}
	if o.Jitter > 1 {
		o.Jitter = 1
	}
	if o.CompressAbove == 0 {
		o.CompressAbove = 1024
	}
	if o.Beta == 0 {
		o.Beta = 1
	}
	if o.FillLockTTL <= 0 {
		o.FillLockTTL = 10 * time.Second
	}
	if o.FillWait <= 0 {
		o.FillWait = 5 * time.Second
	}
	if o.LoadTimeout <= 0 {
		o.LoadTimeout = 30 * time.Second
	}
	if o.TagVersionTTL <= 0 {
		o.TagVersionTTL = 24 * time.Hour
	}
	c := &Cache[V]{s: s, raw: s, codec: o.Codec, o: o, ks: store.Keyspace{Prefix: o.Prefix + "~tag"}}
	if o.Breaker != nil {
		c.s = guarded{Store: s, b: o.Breaker}
	}
	return c
}

// Store returns the store the cache runs on (through Options.Breaker, if
// set).
func (c *Cache[V]) Store() store.Store { return c.s }

// Prefix returns the prefix of the cache's keys.
func (c *Cache[V]) Prefix() string { return c.o.Prefix }

// Entry is a cached value with what the cache knows about it.
type Entry[V any] struct {
	Value V
	// Expiry is when the Redis entry expires (by the writer's clock). It
	// is zero when GetOrLoadEntry's value is not known to be current in
	// Redis: a load that reached Redis degraded, lost to a newer write, or
	// was already running before the call looked the key up (its value
	// may predate a change the call saw). Do not keep such a value.
	Expiry time.Time
	// NotFound reports a cached "not found" (negative entry); Value is
	// then the zero value.
	NotFound bool
	// Tags are the entry's tags.
	Tags []string
	// Size is the size of the entry in Redis, in bytes (0 when it was not
	// read from or written to Redis).
	Size int
}

func (c *Cache[V]) emit(e Event) {
	if c.o.Hook != nil {
		c.o.Hook(e)
	}
}

func (c *Cache[V]) fullKey(key string) (string, error) {
	if strings.HasPrefix(key, "~") {
		return "", ErrReservedKey
	}
	if key == "" {
		return "", fmt.Errorf("%w: empty key", store.ErrInvalidKey)
	}
	return c.o.Prefix + key, nil
}

// ttl resolves a caller's ttl: 0 means the default; jitter applies.
func (c *Cache[V]) ttl(ttl time.Duration) (time.Duration, error) {
	if ttl < 0 {
		return 0, fmt.Errorf("%w: %v", ErrInvalidTTL, ttl)
	}
	if ttl == 0 {
		ttl = c.o.TTL
	}
	if c.o.Jitter > 0 {
		ttl -= time.Duration(rand.Float64() * c.o.Jitter * float64(ttl))
	}
	if ttl < time.Millisecond {
		ttl = time.Millisecond
	}
	return ttl, nil
}

// encode builds an entry's envelope.
func (c *Cache[V]) encode(v V, negative bool, ttl, delta time.Duration, tags []tagStamp) ([]byte, uint64, time.Time, error) {
	stamp := rand.Uint64() | 1 // never 0
	expiry := time.Now().Add(ttl)
	var flags byte
	if negative {
		flags = flagNegative
	}
	b := appendHeader(make([]byte, 0, 64), flags, stamp, expiry, delta, tags)
	if negative {
		return b, stamp, expiry, nil
	}
	n := len(b)
	b, err := c.codec.Append(b, v)
	if err != nil {
		return nil, 0, time.Time{}, fmt.Errorf("cache: encode: %w", err)
	}
	if c.o.CompressAbove > 0 && len(b)-n > c.o.CompressAbove {
		z := compress(append(make([]byte, 0, len(b)/2), b[:n]...), b[n:])
		if len(z) < len(b) {
			z[0] |= flagCompressed
			b = z
		}
	}
	return b, stamp, expiry, nil
}

// decode reads the value out of an envelope. A codec that panics on bytes
// it cannot read (hand-written binary decoders often index without
// checking lengths) makes the entry corrupt, a miss, not a crash.
func (c *Cache[V]) decode(h *header) (v V, err error) {
	defer func() {
		if p := recover(); p != nil {
			var zero V
			v, err = zero, fmt.Errorf("%w: codec panicked: %v", errCorrupt, p)
		}
	}()
	p := h.payload
	if h.flags&flagCompressed != 0 {
		if p, err = inflate(p); err != nil {
			return v, err
		}
	}
	if err := c.codec.Unmarshal(p, &v); err != nil {
		return v, fmt.Errorf("%w: decode: %v", errCorrupt, err)
	}
	return v, nil
}

// lookupState is the outcome of reading an entry from Redis.
type lookupState uint8

const (
	stateMiss    lookupState = iota
	stateHit                 // a valid entry
	stateStale               // a tombstone, or an entry whose tag versions are outdated
	stateCorrupt             // unreadable: refilled by compare-and-set on its bytes 1..8
)

type lookup struct {
	state lookupState
	h     header
	// raw is bytes 1 to 8 of an entry whose header could not be parsed
	// (where a readable entry has its stamp), so that a fill replaces
	// exactly that entry (see write).
	raw string
}

// fetch reads and checks fk's entry.
func (c *Cache[V]) fetch(ctx context.Context, op, key, fk string) (lookup, error) {
	b, found, err := c.s.Get(ctx, fk)
	if err != nil {
		c.emit(Event{Tier: TierRedis, Kind: Error, Op: op, Key: key, Err: err})
		return lookup{}, err
	}
	if !found {
		return lookup{}, nil
	}
	h, err := parseHeader(b)
	if err != nil {
		c.emit(Event{Tier: TierRedis, Kind: Error, Op: op, Key: key, Err: err})
		return lookup{state: stateCorrupt, raw: string(b[min(1, len(b)):min(9, len(b))])}, nil
	}
	if h.flags&flagTombstone != 0 {
		return lookup{state: stateStale, h: h}, nil
	}
	if len(h.tags) > 0 {
		fresh, err := c.tagsCurrent(ctx, h.tags)
		if err != nil {
			c.emit(Event{Tier: TierRedis, Kind: Error, Op: op, Key: key, Err: err})
			return lookup{}, err
		}
		if !fresh {
			return lookup{state: stateStale, h: h}, nil
		}
	}
	return lookup{state: stateHit, h: h}, nil
}

// Get returns the value cached under key. A miss, an expired or
// invalidated entry, and a cached "not found" are (zero, false, nil). An
// unreadable entry (another codec, say) is reported to the Hook and is a
// miss. If Redis fails, Get returns its error (wrapping
// store.ErrUnavailable when it is down).
func (c *Cache[V]) Get(ctx context.Context, key string) (V, bool, error) {
	e, found, err := c.GetEntry(ctx, key)
	if err != nil || !found || e.NotFound {
		var zero V
		return zero, false, err
	}
	return e.Value, true, nil
}

// GetEntry is Get with the entry's expiry, tags and negative flag. A
// cached "not found" is found, with NotFound set.
func (c *Cache[V]) GetEntry(ctx context.Context, key string) (Entry[V], bool, error) {
	var e Entry[V]
	fk, err := c.fullKey(key)
	if err != nil {
		return e, false, err
	}
	l, err := c.fetch(ctx, "get", key, fk)
	if err != nil {
		return e, false, err
	}
	if l.state != stateHit {
		c.emit(Event{Tier: TierRedis, Kind: Miss, Op: "get", Key: key})
		return e, false, nil
	}
	e, err = c.entry(&l.h)
	if err != nil {
		c.emit(Event{Tier: TierRedis, Kind: Error, Op: "get", Key: key, Err: err})
		return e, false, nil
	}
	if e.NotFound {
		c.emit(Event{Tier: TierRedis, Kind: NegativeHit, Op: "get", Key: key})
	} else {
		c.emit(Event{Tier: TierRedis, Kind: Hit, Op: "get", Key: key})
	}
	return e, true, nil
}

func (c *Cache[V]) entry(h *header) (Entry[V], error) {
	var e Entry[V]
	e.Size = h.size
	if h.expiry != 0 {
		e.Expiry = time.UnixMilli(h.expiry)
	}
	if len(h.tags) > 0 {
		e.Tags = make([]string, len(h.tags))
		for i, t := range h.tags {
			e.Tags[i] = t.tag
		}
	}
	if h.negative() {
		e.NotFound = true
		return e, nil
	}
	v, err := c.decode(h)
	e.Value = v
	return e, err
}

// Set stores v under key for ttl (0: Options.TTL), with jitter, replacing
// any entry. Tags, if given, attach the entry to those tags (see
// InvalidateTags); an empty tag, or more than 1024, is an error wrapping
// store.ErrInvalidKey. If Redis fails, Set returns the error and the cache may
// or may not hold v.
//
// Set stamps the entry with the tags' versions as they are when Set runs. A
// value computed before a concurrent InvalidateTags could therefore survive
// it; GetOrLoad avoids that by reading the versions before it calls the
// loader.
func (c *Cache[V]) Set(ctx context.Context, key string, v V, ttl time.Duration, tags ...string) error {
	fk, err := c.fullKey(key)
	if err != nil {
		return err
	}
	_, err = c.put(ctx, "set", key, fk, v, ttl, tags, 0)
	return err
}

// put writes v under fk for ttl (0: the default, with jitter) with tags.
// With cas non-zero it writes only if fk is absent or still holds the
// entry stamped cas (replace.lua), and reports whether it wrote.
func (c *Cache[V]) put(ctx context.Context, op, key, fk string, v V, ttl time.Duration, tags []string, cas uint64) (bool, error) {
	ttl, err := c.ttl(ttl)
	if err != nil {
		return false, err
	}
	stamps, err := c.tagVersions(ctx, tags)
	if err != nil {
		c.emit(Event{Tier: TierRedis, Kind: Error, Op: op, Key: key, Err: err})
		return false, err
	}
	b, _, expiry, err := c.encode(v, false, ttl, 0, stamps)
	if err != nil {
		return false, err
	}
	if cas == 0 {
		err = c.s.Set(ctx, fk, b, ttl)
	} else {
		var st [8]byte
		binary.BigEndian.PutUint64(st[:], cas)
		var r any
		if r, err = c.s.Eval(ctx, replaceScript, []string{fk}, string(st[:]), b, ttl.Milliseconds()); err == nil {
			if n, _ := r.(int64); n != 1 {
				return false, nil
			}
		}
	}
	if err != nil {
		c.emit(Event{Tier: TierRedis, Kind: Error, Op: op, Key: key, Err: err})
		return false, err
	}
	return true, c.addMembers(ctx, key, fk, tags, expiry, ttl)
}

// Delete removes keys from the cache. Deleting a missing key is not an
// error. If Redis fails, Delete returns the error and the entries may
// remain until they expire.
func (c *Cache[V]) Delete(ctx context.Context, keys ...string) error {
	if len(keys) == 0 {
		return nil
	}
	fks := make([]string, len(keys))
	for i, k := range keys {
		fk, err := c.fullKey(k)
		if err != nil {
			return err
		}
		fks[i] = fk
	}
	if _, err := c.s.Delete(ctx, fks...); err != nil {
		c.emit(Event{Tier: TierRedis, Kind: Error, Op: "delete", Key: keys[0], Err: err})
		return err
	}
	for _, k := range keys {
		c.emit(Event{Tier: TierRedis, Kind: Invalidate, Op: "delete", Key: k})
	}
	return nil
}
