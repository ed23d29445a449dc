package cache

import (
	"context"
	"time"
)

// Memoize returns fn wrapped so that its results are cached in c under
// keyFn(arg) for ttl (0: c's default), with GetOrLoad's stampede
// protection, negative caching and early refresh. keyFn must map distinct
// arguments to distinct keys (include every argument that changes the
// result), and must not return a key starting with '~'.
//
//	getUser := cache.Memoize(users, func(id int) string { return "user:" + strconv.Itoa(id) },
//		db.GetUser, 10*time.Minute)
//	u, err := getUser(ctx, 42)
func Memoize[A, V any](c *Cache[V], keyFn func(A) string, fn func(context.Context, A) (V, error), ttl time.Duration) func(context.Context, A) (V, error) {
	return func(ctx context.Context, a A) (V, error) {
		return c.GetOrLoad(ctx, keyFn(a), func(ctx context.Context) (V, error) { return fn(ctx, a) }, ttl)
	}
}
