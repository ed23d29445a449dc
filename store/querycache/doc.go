// Package querycache caches query results with the data they depend on,
// and drops them when that data changes, on every instance.
//
//	rc := cache.New[[]Order](s, cache.Options[[]Order]{Prefix: "orders:"})
//	qc := querycache.New(rc) // or over a tiered.Cache, for a local tier
//
//	orders, err := qc.Do(ctx, querycache.Query{
//		SQL:  "SELECT * FROM orders WHERE user_id = $1",
//		Args: []any{42},
//		Deps: []string{"user:42", "table:orders"},
//		TTL:  5 * time.Minute,
//	}, func(ctx context.Context) ([]Order, error) { return db.OrdersOf(ctx, 42) })
//
//	// after writing user 42, on any instance:
//	_, err = qc.Invalidate(ctx, "user:42")
//
// The dependency index lives in Redis, not in process memory: each
// dependency has a sorted set of the results that depend on it (expiring
// with its newest member, pruned of expired ones) and a version number
// stamped into every dependent result. Invalidating a dependency on
// instance A bumps the version and deletes the members, so instance B's
// results are dropped too, and a query that was running during the
// invalidation cannot cache its (possibly old) result. Over a
// tiered.Cache, the local tiers of all instances drop the dependent
// results as well. See cache.Cache.InvalidateTags for the details.
//
// Keys are SHA-256 hashes of the query text and its JSON-encoded
// arguments: a caller cannot shape another query's key.
package querycache
