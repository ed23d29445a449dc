// Package store is the Redis layer that every rediware package stands on.
//
// No other rediware package talks to a Redis client directly: they talk to a
// [Store], a small interface with a context first in every method, and find
// optional powers ([Doer], [Pipeliner], [Watcher], [Streamer]) by type
// assertion. Two backends implement it and normalise replies identically
// (see [Reply]):
//
//   - store/goredis over a go-redis v9 redis.UniversalClient: a single node,
//     Sentinel (failover client) or Redis Cluster, optionally auto-pipelined;
//   - store/redigo over a redigo *redis.Pool.
//
// Lua scripts are [Script] values run by EVALSHA with a single EVAL fallback
// on NOSCRIPT. Keys built with a [Keyspace] share a hash tag, so every
// multi-key script runs on Redis Cluster too.
//
// Usage:
//
//	s, err := goredis.Open("redis://localhost:6379/0", goredis.Options{})
//	if err != nil { ... }
//	defer s.Close()
//
//	err = s.Set(ctx, "greeting", []byte("hello"), time.Minute)
//	v, found, err := s.Get(ctx, "greeting")
//	if errors.Is(err, store.ErrUnavailable) { ... } // Redis is down or slow
//
// The package store/storetest is a conformance suite that any Store
// implementation can run; the caching patterns built on Store live in the
// sub-packages of store (see store/cache).
package store
