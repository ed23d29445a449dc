// Package redigo is the store.Store backend over a redigo connection pool
// (github.com/gomodule/redigo), for a single Redis node.
//
// It normalises replies and classifies errors exactly as store/goredis
// does, so code written against store.Store cannot tell the two apart: the
// conformance suite store/storetest runs against both. It also offers the
// optional powers store.Doer, store.Pipeliner (Send/Flush/Receive on one
// connection), store.Watcher (WATCH/MULTI/EXEC on one connection),
// store.Streamer, store.Pinger and store.Closer.
//
// Every call takes its connection with Pool.GetContext and returns by its
// context's deadline (a socket deadline; redigo's DoContext for a context
// that can be canceled but has no deadline), with an error wrapping
// store.ErrUnavailable, and context.DeadlineExceeded, when Redis is down,
// slow, or the pool has no free connection in time.
//
// redigo has no Redis Cluster or Sentinel support, and no automatic
// pipelining of concurrent callers: to batch by hand use Pipeline; for
// Cluster, Sentinel or auto-pipelining use store/goredis.
//
// Usage:
//
//	s, err := redigo.Open("redis://localhost:6379/0", redigo.Options{})
//	if err != nil { ... }
//	defer s.Close()
//
// or, over a pool you configure yourself:
//
//	pool := &redis.Pool{
//		DialContext: func(ctx context.Context) (redis.Conn, error) {
//			return redis.DialContext(ctx, "tcp", "localhost:6379",
//				redis.DialReadTimeout(3*time.Second))
//		},
//		MaxIdle: 16, MaxActive: 64, Wait: true,
//	}
//	s := redigo.New(pool) // Close leaves the pool open
package redigo
