// Package writebehind is a durable write-behind queue over Redis Streams:
// writes reach the cache at once and the database later, through a
// consumer group, at least once.
//
//	q, err := writebehind.New(s, func(ctx context.Context, op writebehind.Op[User]) error {
//		// idempotent: the same op.ID may come twice; keep the newest op.Seq
//		_, err := db.ExecContext(ctx, `INSERT INTO users (id, name, seq) VALUES ($1, $2, $3)
//			ON CONFLICT (id) DO UPDATE SET name = $2, seq = $3 WHERE users.seq < $3`,
//			op.Key, op.Value.Name, op.Seq)
//		return err
//	}, writebehind.Options[User]{Name: "users", Cache: usersCache})
//
//	go q.Run(ctx)                     // one or more workers, in any process
//	_, err = q.Write(ctx, "42", user) // cache now, database soon
//	...
//	err = q.Close(shutdownCtx)        // drain what is queued, then stop
//
// How each property is kept, all keys under one hash tag "{wb:Name}" (so a
// queue lives on one Cluster slot):
//
//   - Durability: Write returns after the entry is in the stream (and the
//     value in the cache). Redis's own persistence (AOF) decides what
//     survives a Redis crash.
//   - At least once: a worker acknowledges (XACK, then XDEL) an entry only
//     after Apply returned nil. An entry read by a worker that then dies
//     stays pending in the group, and another worker reclaims it with
//     XAUTOCLAIM once it has been idle for Options.ClaimIdle.
//   - Idempotency: every write carries an ID (generated, or the caller's
//     with WriteWithID, which also refuses a duplicate ID within
//     Options.DedupWindow). Apply receives it; record it, or use Op.Seq,
//     to make a redelivery harmless.
//   - Coalescing: the value of a write is kept in a hash, key -> newest
//     "seq|value", and the stream entry only names the key and seq. A
//     worker that reaches an entry whose seq is no longer the newest
//     acknowledges it without calling Apply, so a burst of writes to one
//     key costs one database write, of the last value.
//   - Cache order: each Write checks, after setting the cache, that its
//     value is still the key's newest pending one, and sets the newest if
//     not, so concurrent writes leave the last one in the cache. If a
//     worker has already applied a newer write of the key (told by a
//     one-minute marker "{wb:Name}:done:<key>"), the entry is
//     invalidated instead (a tombstone, so a read that loaded the older
//     row meanwhile cannot cache it), and the next read loads the
//     database.
//   - Failures: Apply is retried with Options.Backoff; after
//     Options.MaxAttempts (counted in Redis, so a poison entry that
//     crashes workers is counted too) the write is copied to the
//     dead-letter stream "{wb:Name}:dead" with its value, error and
//     attempt count, and acknowledged. The dead-letter stream keeps its
//     newest Options.DeadLetterMaxLen entries (default 10,000; negative:
//     unbounded) and, with Options.DeadLetterMaxAge, none older; both
//     trims run when a dead letter is added. The queue's own stream is
//     never trimmed: an entry leaves it only by the XDEL that follows its
//     XACK.
//   - Back-pressure: with Options.MaxPending set, a Write that finds that
//     many writes queued is refused with ErrQueueFull (nothing queued),
//     so a queue whose workers stopped cannot fill Redis's memory. The
//     default is unbounded.
//   - Shutdown: Close stops new writes and lets the workers (or itself,
//     if none runs) apply everything queued, then Run returns nil. Close
//     returns at its context's end even if a Redis call hangs.
//     Cancelling Run's context instead stops at once, as a crash would:
//     nothing is lost, the unacknowledged entries are reclaimed later.
//   - Eviction: the keys have no TTL, so noeviction and volatile-*
//     maxmemory policies keep them; under allkeys-* an evicted
//     "{wb:Name}:latest" makes pending writes look superseded, and they
//     are acknowledged unapplied. Do not run a queue on a Redis that may
//     evict any key.
//   - Redis restarted empty: a worker whose group vanished (NOGROUP)
//     recreates it and carries on; what was queued before is lost with
//     Redis's data.
//
// Ordering: one worker applies one key's writes in order. With several
// workers, two writes to one key may be applied concurrently or out of
// order; coalescing makes the older one usually skipped, and Op.Seq lets
// the database keep the newer one always.
//
// Failure policy: with Redis down, Write returns the error (wrapping
// store.ErrUnavailable) and nothing is queued; workers report errors to
// the Hook and retry with backoff; nothing is acknowledged that was not
// applied.
package writebehind
