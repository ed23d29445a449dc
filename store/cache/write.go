package cache

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"
)

// ErrCacheNotUpdated is returned by WriteThrough and WriteAround when the
// database write succeeded but the cache could not be updated or cleared
// (Redis failed). The database holds the new value; the cache may serve
// the old one until it expires. errors.Is(err, store.ErrUnavailable) tells
// whether Redis was down.
var ErrCacheNotUpdated = errors.New("cache: database written but cache not updated")

// Invalidate replaces the entries of keys with short-lived tombstones
// instead of deleting them. A tombstone reads as a miss, but it makes a
// fill that started before Invalidate fail (fills use SET NX, or a
// compare-and-set on the entry they read), so a loader that read the
// database just before it changed cannot put the old value back. A plain
// Delete leaves that window open. Tombstones live for Options.LoadTimeout
// plus a second, the longest a fill can run.
func (c *Cache[V]) Invalidate(ctx context.Context, keys ...string) error {
	ttl := c.o.LoadTimeout + time.Second
	for _, key := range keys {
		fk, err := c.fullKey(key)
		if err != nil {
			return err
		}
		b := appendHeader(make([]byte, 0, headerLen), flagTombstone, rand.Uint64()|1, time.Now().Add(ttl), 0, nil)
		if err := c.s.Set(ctx, fk, b, ttl); err != nil {
			c.emit(Event{Tier: TierRedis, Kind: Error, Op: "invalidate", Key: key, Err: err})
			return err
		}
		c.emit(Event{Tier: TierRedis, Kind: Invalidate, Op: "invalidate", Key: key})
	}
	return nil
}

// WriteThrough writes v to the database with write, then to the cache.
//
// The order is what makes it safe:
//  1. the entry is invalidated (a tombstone, see Invalidate), so neither
//     the old value nor a fill racing with this write can be served once
//     the database changes, even if write fails after committing (a
//     timeout, say);
//  2. write runs; if it fails, WriteThrough returns its error and the
//     cache holds no entry for key (the next read loads from the
//     database), never v;
//  3. v is stored for ttl (0: Options.TTL) under tags.
//
// If Redis fails in step 1, the database write still happens (the database
// is the source of truth). If the database was written but the cache could
// not be set or invalidated, the error wraps ErrCacheNotUpdated.
//
// Two WriteThroughs of one key racing each other can commit to the
// database in one order and set the cache in the other, leaving the older
// value cached until its TTL. If one key has concurrent writers, use
// WriteAround, whose invalidations commute.
func (c *Cache[V]) WriteThrough(ctx context.Context, key string, v V, write func(ctx context.Context, v V) error, ttl time.Duration, tags ...string) error {
	if _, err := c.fullKey(key); err != nil {
		return err
	}
	if ttl < 0 {
		return fmt.Errorf("%w: %v", ErrInvalidTTL, ttl)
	}
	invErr := c.Invalidate(ctx, key)
	if err := write(ctx, v); err != nil {
		return err
	}
	if err := c.Set(ctx, key, v, ttl, tags...); err != nil {
		if invErr == nil {
			// The tombstone is there: a miss, never a stale value.
			return nil
		}
		return fmt.Errorf("%w: %w", ErrCacheNotUpdated, err)
	}
	return nil
}

// WriteAround writes to the database with write, then invalidates the
// cache entry (a tombstone, see Invalidate) so the next read loads the new
// value. The entry is invalidated whether or not write succeeds, since a
// failed write may still have committed. It returns write's error, or one
// wrapping ErrCacheNotUpdated if the database was written but the entry
// could not be invalidated.
func (c *Cache[V]) WriteAround(ctx context.Context, key string, write func(ctx context.Context) error) error {
	if _, err := c.fullKey(key); err != nil {
		return err
	}
	werr := write(ctx)
	if err := c.Invalidate(ctx, key); err != nil && werr == nil {
		return fmt.Errorf("%w: %w", ErrCacheNotUpdated, err)
	}
	return werr
}
