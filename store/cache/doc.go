// Package cache is a typed cache-aside cache over a store.Store, with the
// protections the naive version lacks.
//
//	users := cache.New[User](s, cache.Options[User]{
//		Prefix:      "users:",
//		TTL:         10 * time.Minute,
//		NegativeTTL: 30 * time.Second, // remember "no such user"
//		FillLock:    true,             // one load across all instances
//	})
//
//	u, err := users.GetOrLoad(ctx, "42", func(ctx context.Context) (User, error) {
//		u, err := db.User(ctx, 42)
//		if errors.Is(err, sql.ErrNoRows) {
//			return User{}, cache.ErrNotFound
//		}
//		return u, err
//	}, 0, "team:7") // ttl 0: the default; tagged "team:7"
//
//	err = users.WriteThrough(ctx, "42", u, db.SaveUser, 0)
//	_, err = users.InvalidateTags(ctx, "team:7")
//
// What GetOrLoad does for you:
//
//   - Stampede protection: concurrent misses for a key share one load
//     within the process (singleflight) and, with Options.FillLock, across
//     instances (a SET NX lock; the others poll for the fill with backoff,
//     up to Options.FillWait, then load themselves).
//   - Negative caching: a loader's ErrNotFound is cached for
//     Options.NegativeTTL.
//   - TTL jitter (Options.Jitter) and probabilistic early refresh (XFetch,
//     Vattani, Chierichetti and Lowenstein, VLDB 2015): every entry
//     records how long its load took (delta) and when it expires; a hit
//     refreshes it in the background when -delta*beta*ln(rand()) exceeds
//     the time left, so a hot key is recomputed by one caller shortly
//     before expiry instead of by all callers just after. Cache.OnRefresh
//     hears of every refresh that wrote (store/tiered drops the key from
//     every local tier then).
//   - No lost invalidations: fills write with SET NX (or compare-and-set
//     on the stamp of the entry they replace), so a fill racing a write or
//     an Invalidate does not put an old value back.
//   - Racing writers: WriteThrough sets the cache by compare-and-set on its
//     own tombstone, so two WriteThroughs of one key whose database
//     commits and cache updates cross leave a miss, never the older value.
//
// Invalidation: by TTL (every entry has one), by key (Delete, or
// Invalidate, which leaves a tombstone that defeats racing fills), by tag
// (InvalidateTags: per-tag versions stamped in every entry, see its doc),
// by pattern (InvalidatePattern: SCAN + UNLINK in batches, every master of
// a Cluster), and by event over pub/sub (store/tiered broadcasts every
// invalidation to every instance; store/pubsub has typed helpers).
//
// Codecs: JSON (default), String and Bytes (stored as they are), and Binary
// for types implementing encoding.BinaryMarshaler (compact: no field names).
// Values larger than Options.CompressAbove are DEFLATE-compressed; a flag
// in the entry's first byte tells readers. An entry that cannot be read
// (corrupt, another codec, a codec that panics on it) is a miss reported
// to the Hook, and GetOrLoad replaces it.
//
// Failure policy, when Redis is down or slow (errors wrap
// store.ErrUnavailable):
//
//   - Get, GetEntry: return the error (the caller decides);
//   - GetOrLoad: reports the error to the Hook and calls the loader
//     (coalesced in-process), returning its result uncached. Bound a slow
//     Redis with the client's read timeout or Options.RedisTimeout, and
//     set Options.Breaker to skip Redis at once while it is down;
//   - Set, Delete, Invalidate, InvalidateTags, InvalidatePattern: return
//     the error;
//   - WriteThrough, WriteAround: always write the database; return
//     ErrCacheNotUpdated if the cache may now be stale.
//
// Nothing panics. Options.Hook sees every hit, miss, load and error, by
// tier, for metrics.
package cache
