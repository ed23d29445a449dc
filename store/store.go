package store

import (
	"context"
	"time"
)

// Store is the contract between rediware's packages and a Redis client. Every
// method takes a context first and must return no later than its deadline.
//
// Implementations normalise Redis replies identically, so that callers never
// see which client runs underneath (see [Reply] for the mapping), and wrap
// failures so they can be classified with errors.Is: [ErrUnavailable] when
// Redis could not be reached or did not answer in time, [ErrInvalidKey] for a
// key that was refused before it was sent, [ErrClosed] after Close. An error
// reply from Redis itself is a [*RedisError].
//
// "Not found" is never an error: Get reports it with found == false.
type Store interface {
	// Get returns the value of key. A missing key is (nil, false, nil).
	// The returned slice belongs to the caller: the Store keeps no
	// reference to it and never reuses it, so it may be kept or modified.
	Get(ctx context.Context, key string) (value []byte, found bool, err error)

	// Set stores value under key. A ttl of 0 means no expiry; ttl is applied
	// with millisecond precision (PX), so sub-second TTLs work. A negative
	// ttl is an error.
	Set(ctx context.Context, key string, value []byte, ttl time.Duration) error

	// SetNX stores value under key only if the key does not exist, and
	// reports whether it did. ttl works as in Set.
	SetNX(ctx context.Context, key string, value []byte, ttl time.Duration) (bool, error)

	// Delete removes keys without blocking the server (UNLINK) and returns how
	// many existed. Deleting a missing key is not an error. On Redis Cluster
	// the keys may span slots: implementations split the call by slot.
	Delete(ctx context.Context, keys ...string) (int64, error)

	// Expire sets the TTL of key (millisecond precision) and reports whether
	// the key exists. A ttl <= 0 is an error: use Delete to remove a key.
	Expire(ctx context.Context, key string, ttl time.Duration) (bool, error)

	// TTL returns the remaining time to live of key. A missing key is
	// (0, false, nil); a key without expiry is (NoExpiry, true, nil).
	TTL(ctx context.Context, key string) (ttl time.Duration, found bool, err error)

	// Eval runs script with EVALSHA, loading it with EVAL when the server
	// answers NOSCRIPT (once; never after a timeout or connection error, which
	// could apply a write twice). On Redis Cluster the script runs on the
	// slot of keys[0]; all keys must share that slot (see [Keyspace]). The
	// reply is normalised as described in [Reply].
	Eval(ctx context.Context, script *Script, keys []string, args ...any) (any, error)

	// Publish sends msg on channel and returns the number of subscribers
	// that received it.
	Publish(ctx context.Context, channel string, msg []byte) (int64, error)

	// Subscribe subscribes to channels and to glob patterns. It returns once
	// the server has confirmed every subscription, so a message published
	// after Subscribe returns is delivered. The subscription survives
	// reconnects and reports each one (see [Subscription]).
	Subscribe(ctx context.Context, channels, patterns []string) (Subscription, error)

	// Scan calls fn with batches of keys matching the glob pattern, walking
	// the keyspace with SCAN (never KEYS); count is a hint for the batch size
	// (0 means 100). On Redis Cluster every master is scanned. A key may be
	// reported more than once, as SCAN guarantees. An error from fn stops the
	// scan and is returned.
	Scan(ctx context.Context, pattern string, count int, fn func(keys []string) error) error
}

// NoExpiry is the TTL reported for a key that exists without an expiry.
const NoExpiry time.Duration = -1

// Doer is an optional power of a Store: run any Redis command. The reply is
// normalised as described in [Reply]. Commands that take keys must be routed
// correctly on Cluster, so a Doer routes by the first key it finds in the
// command, as the client library does.
type Doer interface {
	Do(ctx context.Context, args ...any) (any, error)
}

// Pipeliner is an optional power of a Store: send several commands in one
// round trip. Results come back in order, one per command; a command's Redis
// error is reported in its Result, not as the call's error. The call's error
// is reserved for the round trip itself (for example [ErrUnavailable]). The
// commands are not atomic: use a script or a [Watcher] for that.
type Pipeliner interface {
	Pipeline(ctx context.Context, cmds ...[]any) ([]Result, error)
}

// Result is one command's outcome in a pipeline or transaction.
type Result struct {
	Value any
	Err   error
}

// Watcher is an optional power of a Store: optimistic transactions with
// WATCH, MULTI and EXEC. Watch watches keys, calls fn with a Tx bound to one
// connection, and returns fn's error. If a watched key changed before
// Tx.Exec, Exec returns [ErrTxConflict]; the caller decides whether to retry
// (see locking.Optimistic for a bounded retry loop).
type Watcher interface {
	Watch(ctx context.Context, fn func(tx Tx) error, keys ...string) error
}

// Tx is a connection inside Watch. Reads made through Do see the watched
// state; Exec runs cmds atomically in MULTI/EXEC.
type Tx interface {
	// Do runs a command on the watched connection, outside the transaction.
	Do(ctx context.Context, args ...any) (any, error)
	// Exec runs cmds in MULTI/EXEC. It returns ErrTxConflict, and no
	// results, if a watched key changed.
	Exec(ctx context.Context, cmds ...[]any) ([]Result, error)
}

// Closer is implemented by stores that own their client. Close releases it;
// later calls fail with ErrClosed.
type Closer interface {
	Close() error
}

// Pinger is implemented by stores that can check the server is reachable.
type Pinger interface {
	Ping(ctx context.Context) error
}
