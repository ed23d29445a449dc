// Package tiered is a coherent two-tier cache: an in-process LRU of decoded
// values over a store/cache Cache in Redis, kept coherent across instances
// by invalidations broadcast over Redis pub/sub.
//
//	rc := cache.New[User](s, cache.Options[User]{Prefix: "users:", TTL: 10 * time.Minute})
//	users := tiered.New(rc, tiered.Options[User]{MaxEntries: 50_000, LocalTTL: time.Minute})
//	defer users.Close()
//
//	u, err := users.GetOrLoad(ctx, "42", loadUser, 0) // local, else Redis, else load
//	err = users.Set(ctx, "42", u, 0)                   // Redis, then every local tier drops "42"
//
// Coherence, and what the naive version gets wrong:
//
//   - Every write and invalidation (Set, Delete, Invalidate,
//     InvalidateTags, InvalidatePattern, WriteThrough, WriteAround) is
//     applied to this instance's local tier at once and then published to
//     every instance. The writer's own instance skips the echo. So is an
//     early refresh (XFetch) once it has written the new value to Redis
//     (cache.Cache.OnRefresh), so that no instance serves the value it
//     replaced until its local copy expires.
//   - A read that started before an invalidation arrived cannot put the
//     old value back into the local tier after it: fills record an epoch
//     before they read Redis, and are refused if an invalidation of their
//     key (or a flush) was applied since. Once an instance has applied an
//     invalidation, it never serves the value it invalidated.
//   - Pub/sub is at-most-once: messages published while a subscriber is
//     disconnected are lost. The local tier is therefore flushed whenever
//     the subscription reconnects (store.Reconnected), and bypassed before
//     the first subscription and after Close. While a subscription is
//     down and not yet back (the store reconnects by itself), the local
//     tier keeps serving what it holds: an invalidation published in that
//     time is missed until the reconnect flushes the tier, and
//     Options.LocalTTL bounds how stale a value can be served meanwhile.
//     A silent disconnect is noticed when the connection fails, or at
//     worst after about two of the store's subscription health intervals.
//   - The local TTL is never longer than the Redis TTL: a local entry
//     expires with its Redis entry (the expiry is stored in the entry, so
//     it costs no extra round trip; it is the writer's clock, so keep
//     clocks in sync) or after LocalTTL, whichever is first.
//   - The local tier holds decoded values: a hit costs a map lookup under
//     a mutex, with no decoding and no allocation (about 40 ns). Values are
//     shared, not copied: treat them as immutable.
//
// Close a Cache when done: it holds a subscription, and hits read a coarse
// clock (one goroutine per process, ticking every millisecond while any
// Cache is open) instead of calling time.Now, except for an entry within a
// second of its expiry, where the real clock is read, so that a ticker
// delayed by a loaded machine cannot serve it late.
//
// Failure policy: with Redis down, local hits are still served (until
// LocalTTL or the reconnect flush); misses behave as cache.Cache's
// (GetOrLoad falls through to the loader, and nothing that is not in Redis
// is kept locally); writes return Redis's error, having dropped the key
// locally.
package tiered
