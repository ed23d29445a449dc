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
	for _, key := range keys {
		fk, err := c.fullKey(key)
		if err != nil {
			return err
		}
		if _, err := c.tombstone(ctx, key, fk); err != nil {
			return err
		}
	}
	return nil
}

// tombstone replaces fk's entry with a tombstone and returns its stamp.
func (c *Cache[V]) tombstone(ctx context.Context, key, fk string) (uint64, error) {
	ttl := c.o.LoadTimeout + time.Second
	stamp := rand.Uint64() | 1 // never 0
	b := appendHeader(make([]byte, 0, headerLen), flagTombstone, stamp, time.Now().Add(ttl), 0, nil)
	if err := c.s.Set(ctx, fk, b, ttl); err != nil {
		c.emit(Event{Tier: TierRedis, Kind: Error, Op: "invalidate", Key: key, Err: err})
		return 0, err
	}
	c.emit(Event{Tier: TierRedis, Kind: Invalidate, Op: "invalidate", Key: key})
	return stamp, nil
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
//  3. v is stored for ttl (0: Options.TTL) under tags, by a compare-and-set
//     that succeeds only if the entry is still this call's tombstone.
//
// Step 3's compare-and-set is what makes concurrent writers safe: two
// WriteThroughs of one key can commit to the database in one order and
// reach the cache in the other, and nothing in Redis can tell which commit
// came last. So a WriteThrough that finds its tombstone replaced (by
// another writer, an invalidation or a fill) writes a fresh tombstone
// instead of v, which also makes the other writer's compare-and-set fail
// if it has not run yet: racing writers leave a miss, and the next read
// loads the database's value. Without a race, v is cached.
//
// If Redis fails in step 1, the database write still happens (the database
// is the source of truth), and the entry is then invalidated rather than
// set (the old value's stamp is unknown, so a racing writer could not be
// told apart); so it is if step 3 fails. If the database was written but
// the cache could not be invalidated, the error wraps ErrCacheNotUpdated.
func (c *Cache[V]) WriteThrough(ctx context.Context, key string, v V, write func(ctx context.Context, v V) error, ttl time.Duration, tags ...string) error {
	fk, err := c.fullKey(key)
	if err != nil {
		return err
	}
	if ttl < 0 {
		return fmt.Errorf("%w: %v", ErrInvalidTTL, ttl)
	}
	if err := checkTags(tags); err != nil {
		return err
	}
	stamp, invErr := c.tombstone(ctx, key, fk)
	if err := write(ctx, v); err != nil {
		return err
	}
	if invErr == nil {
		// written with an error: the entry is in, only its tag
		// membership failed (its tag versions still make it stale on
		// InvalidateTags).
		if written, _ := c.put(ctx, "write_through", key, fk, v, ttl, tags, stamp); written {
			return nil
		}
	}
	// A racing write, no tombstone of ours, or a failed compare-and-set
	// (which a racing writer's could follow): leave a miss.
	if _, err := c.tombstone(ctx, key, fk); err != nil {
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
