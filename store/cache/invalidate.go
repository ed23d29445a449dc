package cache

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/rediware/rediware/store"
)

// Tags
//
// An entry written with tags carries, inside its envelope, the version of
// each tag as it was read before the value was computed (GetOrLoad reads
// them before it calls the loader). InvalidateTags gives the tags new
// versions (never reused, see taginvalidate.lua), so a read that finds an
// entry stamped with an older version treats it as a miss. This closes the race a member set alone leaves open: a loader
// that read the database before an invalidation, and writes its entry
// after the invalidation has emptied the tag's set, still writes an entry
// stamped with the old version, which no reader will serve.
//
// The member sets (a sorted set per tag, scored by expiry) only let
// InvalidateTags delete the entries eagerly, to free memory at once. Each
// set expires with its newest member and is pruned of expired members on
// every write. A version key outlives every entry stamped with it.
//
// The price: reading a tagged entry costs a second round trip (GET of each
// tag's version, pipelined when the store is a store.Pipeliner). Untagged
// entries cost nothing extra.

func (c *Cache[V]) tagKeys(tag string) (members, version string) {
	return c.ks.Key(tag, "m"), c.ks.Key(tag, "v")
}

// maxTags is the most tags an entry carries: readers refuse an envelope
// with more (a bound against hostile entries), so writers refuse them too,
// rather than write an entry that every read takes for corrupt.
const maxTags = 1024

// checkTags refuses empty tags and more than maxTags.
func checkTags(tags []string) error {
	if len(tags) > maxTags {
		return fmt.Errorf("%w: %d tags, at most %d per entry", store.ErrInvalidKey, len(tags), maxTags)
	}
	for _, t := range tags {
		if t == "" {
			return fmt.Errorf("%w: empty tag", store.ErrInvalidKey)
		}
	}
	return nil
}

// tagVersions reads the current version of each tag.
func (c *Cache[V]) tagVersions(ctx context.Context, tags []string) ([]tagStamp, error) {
	if len(tags) == 0 {
		return nil, nil
	}
	if err := checkTags(tags); err != nil {
		return nil, err
	}
	out := make([]tagStamp, len(tags))
	for i, t := range tags {
		out[i].tag = t
	}
	if len(tags) > 1 {
		cmds := make([][]any, len(tags))
		for i, t := range tags {
			_, v := c.tagKeys(t)
			cmds[i] = []any{"GET", v}
		}
		res, ok, err := c.pipeline(ctx, cmds)
		if err != nil {
			return nil, err
		}
		if !ok {
			goto oneByOne
		}
		for i, r := range res {
			if r.Err != nil {
				return nil, r.Err
			}
			if out[i].version, err = parseVersion(r.Value); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
oneByOne:
	for i, t := range tags {
		_, vk := c.tagKeys(t)
		b, found, err := c.s.Get(ctx, vk)
		if err != nil {
			return nil, err
		}
		if found {
			if out[i].version, err = parseVersion(string(b)); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

func parseVersion(v any) (int64, error) {
	if v == nil {
		return 0, nil
	}
	s, _, err := store.String(v)
	if err != nil {
		return 0, err
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: tag version %q", store.ErrUnexpectedReply, s)
	}
	return n, nil
}

// tagsCurrent reports whether every stamp still matches its tag's version.
func (c *Cache[V]) tagsCurrent(ctx context.Context, stamps []tagStamp) (bool, error) {
	tags := make([]string, len(stamps))
	for i, s := range stamps {
		tags[i] = s.tag
	}
	cur, err := c.tagVersions(ctx, tags)
	if err != nil {
		return false, err
	}
	for i := range cur {
		if cur[i].version != stamps[i].version {
			return false, nil
		}
	}
	return true, nil
}

// addMembers records fk as a member of tags.
func (c *Cache[V]) addMembers(ctx context.Context, key, fk string, tags []string, expiry time.Time, ttl time.Duration) error {
	now := time.Now().UnixMilli()
	for _, t := range tags {
		m, v := c.tagKeys(t)
		_, err := c.s.Eval(ctx, tagAddScript, []string{m, v}, fk, expiry.UnixMilli(), now, ttl.Milliseconds())
		if err != nil {
			// The entry is stamped with the tag's version, so an
			// invalidation still makes it stale; it just is not deleted
			// eagerly.
			c.emit(Event{Tier: TierRedis, Kind: Error, Op: "tag", Key: key, Err: err})
			return err
		}
	}
	return nil
}

// deleteBatch is how many keys one UNLINK removes.
const deleteBatch = 500

// InvalidateTags invalidates every entry written with any of tags: their
// versions are bumped (so no reader serves an entry stamped before, even
// one written concurrently by a load that started earlier), and the known
// members are deleted in batches. It returns how many entries were
// deleted. If Redis fails it returns the error; tags already processed
// stay invalidated.
func (c *Cache[V]) InvalidateTags(ctx context.Context, tags ...string) (int64, error) {
	var n int64
	for _, t := range tags {
		if t == "" {
			return n, fmt.Errorf("%w: empty tag", store.ErrInvalidKey)
		}
		m, v := c.tagKeys(t)
		r, err := c.s.Eval(ctx, tagInvalidateScript, []string{m, v}, c.o.TagVersionTTL.Milliseconds())
		if err != nil {
			c.emit(Event{Tier: TierRedis, Kind: Error, Op: "invalidate_tag", Key: t, Err: err})
			return n, err
		}
		members, err := store.Slice(r, 0)
		if err != nil {
			return n, err
		}
		keys := make([]string, 0, len(members))
		for _, x := range members {
			if s, ok, _ := store.String(x); ok {
				keys = append(keys, s)
			}
		}
		for len(keys) > 0 {
			b := keys[:min(deleteBatch, len(keys))]
			keys = keys[len(b):]
			d, err := c.s.Delete(ctx, b...)
			n += d
			if err != nil {
				c.emit(Event{Tier: TierRedis, Kind: Error, Op: "invalidate_tag", Key: t, Err: err})
				return n, err
			}
		}
		c.emit(Event{Tier: TierRedis, Kind: Invalidate, Op: "invalidate_tag", Key: t})
	}
	return n, nil
}

// InvalidatePattern deletes every entry whose key (without the prefix)
// matches the glob pattern, walking the keyspace with SCAN (never KEYS)
// and deleting in batches with UNLINK. On Redis Cluster every master is
// scanned. The cache's own keys (under Prefix+"~") are left alone. It
// returns how many entries were deleted.
//
// SCAN is O(keyspace), not O(matches): on a large keyspace prefer tags.
// An entry written while the scan runs may survive it.
func (c *Cache[V]) InvalidatePattern(ctx context.Context, pattern string) (int64, error) {
	if pattern == "" {
		return 0, fmt.Errorf("%w: empty pattern", store.ErrInvalidKey)
	}
	meta := c.o.Prefix + "~"
	var n int64
	err := c.s.Scan(ctx, store.EscapeGlob(c.o.Prefix)+pattern, deleteBatch, func(keys []string) error {
		del := keys[:0:0]
		for _, k := range keys {
			if !strings.HasPrefix(k, meta) {
				del = append(del, k)
			}
		}
		if len(del) == 0 {
			return nil
		}
		d, err := c.s.Delete(ctx, del...)
		n += d
		return err
	})
	if err != nil {
		c.emit(Event{Tier: TierRedis, Kind: Error, Op: "invalidate_pattern", Key: pattern, Err: err})
		return n, err
	}
	c.emit(Event{Tier: TierRedis, Kind: Invalidate, Op: "invalidate_pattern", Key: pattern})
	return n, nil
}
