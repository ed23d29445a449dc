// Package locking provides distributed locks over a [store.Store]: single
// Redis locks with fencing tokens and an optional watchdog, Redlock over
// several independent Redis deployments, optimistic WATCH/MULTI/EXEC
// updates with bounded retries, and an HTTP middleware that serialises
// requests per route.
//
// # Locks
//
//	locker := locking.New(s) // s is any store.Store
//	lock, err := locker.Obtain(ctx, "invoice:42", 10*time.Second, &locking.ObtainOptions{
//		Retry:    locking.LimitRetry(locking.ExponentialBackoff(10*time.Millisecond, 500*time.Millisecond), 10),
//		Watchdog: true, // extend every TTL/3 until released (capped by MaxHold)
//	})
//	if errors.Is(err, locking.ErrNotObtained) {
//		return // someone else holds it
//	} else if err != nil {
//		return err // Redis unavailable: errors.Is(err, store.ErrUnavailable)
//	}
//	defer lock.Release(context.WithoutCancel(ctx))
//
//	// Work under lock.Context(): it is cancelled as soon as the lock is lost.
//	// Guard writes with lock.Fence(), e.g. with FencedSet.
//
// Acquisition is one Lua script: SET owner-key token NX PX ttl, and, in the
// same script, a fencing counter under the same hash tag is advanced and
// returned. Release, Extend and TTL compare the token before acting. The
// token is 128 bits from crypto/rand.
//
// # Fencing
//
// A lock in Redis can expire while its holder still believes it holds it
// (a stop-the-world pause, a slow network, a clock jump). Fencing tokens
// make that harmless: every acquisition of a key gets a larger
// [Lock.Fence], the protected resource remembers the largest fence it has
// seen, and it rejects writes carrying a smaller one. [FencedSet] does
// this for values kept in Redis.
//
// The fence is a per-key counter advanced by INCR. When the counter is
// missing (first use, expired after Options.FenceTTL, or lost in a Redis
// restart without persistence), it restarts from the server time in
// microseconds, so it still exceeds every fence issued before, as long as
// the server clock does not run backwards. A failover to a replica that
// had not yet received the last increments can reissue a fence: where that
// matters, run the lock on a primary with persistence and no failover, or
// take fences from a consensus store.
//
// # Redlock and fencing
//
// [NewRedlock] returns a Locker that needs a majority of independent
// stores. It survives the loss of a minority of them, but its safety rests
// on timing assumptions: bounded network delay, bounded process pauses and
// bounded clock drift. As Martin Kleppmann showed in "How to do
// distributed locking" (2016), a paused client can wake up after its lock
// expired and write anyway, and a clock jump on one Redis node can let two
// clients hold the lock at once. Redlock has no fencing tokens of its own:
// [Lock.Fence] is the largest of the per-store fences of the quorum, and as
// the stores' counters are independent (each seeded from its own clock when
// it started), a later holder whose quorum misses the store with the
// largest counter gets a smaller fence. Do not use Redlock fences to fence.
//
// When a lost lock would corrupt data (money, inventory, anything that is
// not idempotent), do not rely on Redlock alone: use fencing tokens from
// one store that orders them consistently (a single Redis primary with the
// fence checked by the resource, or a consensus system such as etcd or
// ZooKeeper), and make the resource reject stale fences. Use Redlock for
// efficiency (avoiding duplicate work) where an occasional overlap is
// acceptable.
//
// # Optimistic updates
//
// [Optimistic] runs a WATCH/MULTI/EXEC transaction and retries it, with
// jittered backoff, while a watched key changes; it gives up with
// [ErrTooManyConflicts].
//
// # HTTP
//
// [RouteLock] is a middleware that lets one request at a time through per
// route and chosen URL parameters, answering 409 Conflict with Retry-After
// to the others (or making them wait a bounded time). See its
// documentation for the failure policy.
package locking
