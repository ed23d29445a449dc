package querycache

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"github.com/rediware/rediware/store/cache"
)

// Backend is the cache a query cache stores results in: a *cache.Cache
// (Redis only) or a *tiered.Cache (with a coherent local tier) both
// satisfy it.
type Backend[V any] interface {
	GetOrLoad(ctx context.Context, key string, load cache.Loader[V], ttl time.Duration, tags ...string) (V, error)
	InvalidateTags(ctx context.Context, tags ...string) (int64, error)
}

// Query describes one cached query.
type Query struct {
	// SQL is the query text (or any name for the computation).
	SQL string
	// Args are its arguments; they must marshal to JSON deterministically
	// (numbers, strings, slices, structs; map keys are sorted by
	// encoding/json).
	Args []any
	// Deps are the dependencies of the result, such as "user:42" or
	// "table:orders". Invalidating any of them drops the result, on every
	// instance.
	Deps []string
	// TTL of the result (0: the backend's default).
	TTL time.Duration
}

// Cache caches query results with their dependencies. It is safe for
// concurrent use.
type Cache[V any] struct {
	b Backend[V]
}

// New returns a query cache over b.
func New[V any](b Backend[V]) *Cache[V] { return &Cache[V]{b: b} }

// Key returns the cache key of a query: "q:" and the SHA-256 of its text
// and JSON-encoded arguments, so that any argument that changes the result
// changes the key, and no argument can inject into the key.
func Key(sql string, args ...any) (string, error) {
	h := sha256.New()
	h.Write([]byte(sql))
	h.Write([]byte{0})
	if err := json.NewEncoder(h).Encode(args); err != nil {
		return "", fmt.Errorf("querycache: arguments: %w", err)
	}
	return "q:" + hex.EncodeToString(h.Sum(nil)), nil
}

// Do returns the cached result of q, or runs it and caches the result
// under q's dependencies. It inherits the backend's protections: one run
// per query across concurrent callers, negative caching of
// cache.ErrNotFound, early refresh, and version-stamped dependencies (an
// invalidation that lands while run executes makes its result stale).
func (c *Cache[V]) Do(ctx context.Context, q Query, run func(ctx context.Context) (V, error)) (V, error) {
	k, err := Key(q.SQL, q.Args...)
	if err != nil {
		var zero V
		return zero, err
	}
	return c.b.GetOrLoad(ctx, k, run, q.TTL, q.Deps...)
}

// Invalidate drops every cached result that depends on any of deps, on
// every instance: the dependency index (a sorted set and a version per
// dependency) lives in Redis. It returns how many results were deleted.
func (c *Cache[V]) Invalidate(ctx context.Context, deps ...string) (int64, error) {
	return c.b.InvalidateTags(ctx, deps...)
}
