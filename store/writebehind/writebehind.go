package writebehind

import (
	"context"
	_ "embed"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rediware/rediware/store"
	"github.com/rediware/rediware/store/cache"
)

var (
	//go:embed enqueue.lua
	enqueueLua    string
	enqueueScript = store.NewScript(enqueueLua)

	//go:embed begin.lua
	beginLua    string
	beginScript = store.NewScript(beginLua)

	//go:embed latest.lua
	latestLua    string
	latestScript = store.NewScript(latestLua)

	//go:embed finish.lua
	finishLua    string
	finishScript = store.NewScript(finishLua)
)

var (
	// ErrNoStreams is returned by New when the store has no Streams
	// support (it is not a store.Streamer).
	ErrNoStreams = errors.New("writebehind: store does not implement store.Streamer")

	// ErrDuplicate is returned by WriteWithID for an idempotency key
	// already enqueued within Options.DedupWindow. The write is not
	// enqueued again.
	ErrDuplicate = errors.New("writebehind: duplicate idempotency key")

	// ErrCacheNotUpdated is returned by Write when the write was enqueued
	// (it is durable and will reach the database) but the cache could not
	// be updated.
	ErrCacheNotUpdated = errors.New("writebehind: enqueued, but cache not updated")

	// ErrClosed is returned by Write after Close.
	ErrClosed = errors.New("writebehind: queue closed")

	// ErrQueueFull is returned by Write and WriteWithID when
	// Options.MaxPending writes are already queued. Nothing was enqueued
	// (and a WriteWithID's idempotency key was not used up): retry later,
	// or fail the request.
	ErrQueueFull = errors.New("writebehind: queue full")
)

// Cache is where Write puts values at once: *cache.Cache and *tiered.Cache
// implement it.
type Cache[V any] interface {
	Set(ctx context.Context, key string, v V, ttl time.Duration, tags ...string) error
}

// Op is one write handed to the Apply function.
type Op[V any] struct {
	Key   string
	Value V
	// ID is the write's idempotency key. Delivery is at least once: if a
	// worker dies after the database write but before the acknowledgement,
	// the write is applied again with the same ID. Record applied IDs (or
	// Seq) in the same database transaction to make applying idempotent.
	ID string
	// Seq increases with every write to the queue. Across several workers,
	// two writes to one key can reach the database out of order; make the
	// database write conditional on Seq (UPDATE ... WHERE seq < $seq) to
	// keep the newest.
	Seq int64
	// Attempt is 1 for the first try.
	Attempt int
}

// Apply writes an Op to the database.
type Apply[V any] func(ctx context.Context, op Op[V]) error

// EventKind is what happened to a queued write.
type EventKind uint8

// Event kinds.
const (
	Enqueued     EventKind = iota // Write queued it
	Applied                       // Apply succeeded and the entry was acknowledged
	Coalesced                     // a newer write to the key superseded it: acknowledged without Apply
	Retry                         // Apply failed; it will be retried after a backoff
	DeadLettered                  // given up after MaxAttempts (or undecodable)
	Claimed                       // reclaimed from a worker that went idle (crashed)
	Failed                        // a Redis error in the queue itself
)

var eventNames = [...]string{"enqueued", "applied", "coalesced", "retry", "dead_lettered", "claimed", "failed"}

// String returns the kind's snake_case name.
func (k EventKind) String() string {
	if int(k) < len(eventNames) {
		return eventNames[k]
	}
	return "unknown"
}

// Event reports what happened to a write.
type Event struct {
	Kind    EventKind
	Key     string
	ID      string // idempotency key
	EntryID string // stream entry ID
	Attempt int
	Err     error
}

// Options configures a Queue. The zero value means all defaults.
type Options[V any] struct {
	// Name identifies the queue: its keys are "{wb:Name}:...", one hash
	// tag, so the queue works on Redis Cluster. Default: "default".
	Name string

	// Group is the consumer group. Default: "writers".
	Group string

	// Consumer names this worker within the group; it must be unique per
	// process. Default: hostname-pid-random.
	Consumer string

	// Codec encodes values in the queue. Default: cache.JSON.
	Codec cache.Codec[V]

	// Cache, if set, receives every Write at once (Set with CacheTTL), so
	// reads see it before the database does. A *cache.Cache or a
	// *tiered.Cache (whose Set also drops the key from every instance's
	// local tier).
	Cache Cache[V]

	// CacheTTL is the TTL of cached writes. Default: the cache's.
	CacheTTL time.Duration

	// Batch is how many entries a worker reads at a time. Default: 64.
	Batch int64

	// Block is how long a worker waits for new entries in one read; it
	// also bounds how long Close waits for an idle worker. Default: 500ms.
	Block time.Duration

	// MaxAttempts is how many times Apply is tried before the write goes
	// to the dead-letter stream "{wb:Name}:dead". Default: 5.
	MaxAttempts int

	// Backoff returns the wait after failed attempt n (1-based). Default:
	// 100ms doubling, capped at 10s, with ±20% jitter.
	Backoff func(attempt int) time.Duration

	// ClaimIdle is how long an entry must sit unacknowledged with another
	// worker before this one reclaims it (XAUTOCLAIM). Keep it above the
	// longest Apply plus backoffs. Default: 30s.
	ClaimIdle time.Duration

	// ClaimInterval is how often a worker looks for entries to reclaim.
	// Default: ClaimIdle / 2.
	ClaimInterval time.Duration

	// DedupWindow is how long an idempotency key is remembered by
	// WriteWithID. Default: 10 minutes.
	DedupWindow time.Duration

	// DeadLetterMaxLen bounds the dead-letter stream "{wb:Name}:dead":
	// adding a dead letter trims the stream to its newest DeadLetterMaxLen
	// entries, so a database that rejects every write for days cannot
	// fill Redis's memory. Trimming is exact (dead letters are rare, so
	// the cost is nil), and happens only when a dead letter is added.
	// Negative means unbounded. Default: DefaultDeadLetterMaxLen.
	DeadLetterMaxLen int64

	// DeadLetterMaxAge, if positive, also drops dead letters older than
	// this (by the time in their stream ID, Redis's clock) whenever a
	// dead letter is added. Default: 0, no age bound.
	DeadLetterMaxAge time.Duration

	// MaxPending, if positive, bounds the queue: a Write that finds this
	// many writes queued and not yet applied (or dead-lettered) is refused
	// with ErrQueueFull, so that workers that stopped or fell behind
	// cannot make the stream fill Redis's memory. The check and the
	// enqueue are one script, so the bound is exact. Default: 0,
	// unbounded (Redis's maxmemory is then the only limit).
	MaxPending int64

	// Hook, if set, receives an Event for every step of every write.
	Hook func(Event)
}

// DefaultDeadLetterMaxLen is the default Options.DeadLetterMaxLen: at a
// few hundred bytes per dead letter, about a few megabytes of Redis memory.
const DefaultDeadLetterMaxLen = 10_000

// Queue is a durable write-behind queue over Redis Streams. It is safe for
// concurrent use. Write from anywhere; run workers with Run; stop them
// with Close, which drains what is queued.
type Queue[V any] struct {
	s      store.Store
	x      store.Streamer
	apply  Apply[V]
	o      Options[V]
	codec  cache.Codec[V]
	stream string
	latest string
	seq    string
	tries  string
	dead   string
	ks     store.Keyspace

	closed   atomic.Bool
	draining atomic.Bool
	mu       sync.Mutex
	running  int
	idle     chan struct{} // closed when running drops to 0
}

// New returns a queue over s that applies writes with apply. s must be a
// store.Streamer.
func New[V any](s store.Store, apply Apply[V], opts Options[V]) (*Queue[V], error) {
	x, ok := s.(store.Streamer)
	if !ok {
		return nil, ErrNoStreams
	}
	if apply == nil {
		return nil, errors.New("writebehind: nil Apply")
	}
	o := opts
	if o.Name == "" {
		o.Name = "default"
	}
	if o.Group == "" {
		o.Group = "writers"
	}
	if o.Consumer == "" {
		host, _ := os.Hostname()
		o.Consumer = fmt.Sprintf("%s-%d-%04x", host, os.Getpid(), rand.Uint32()&0xffff)
	}
	if o.Codec == nil {
		o.Codec = cache.JSON[V]()
	}
	if o.Batch <= 0 {
		o.Batch = 64
	}
	if o.Block <= 0 {
		o.Block = 500 * time.Millisecond
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 5
	}
	if o.Backoff == nil {
		o.Backoff = defaultBackoff
	}
	if o.ClaimIdle <= 0 {
		o.ClaimIdle = 30 * time.Second
	}
	if o.ClaimInterval <= 0 {
		o.ClaimInterval = o.ClaimIdle / 2
	}
	if o.DedupWindow <= 0 {
		o.DedupWindow = 10 * time.Minute
	}
	if o.DeadLetterMaxLen == 0 {
		o.DeadLetterMaxLen = DefaultDeadLetterMaxLen
	}
	if o.DeadLetterMaxAge < 0 {
		o.DeadLetterMaxAge = 0
	} else if o.DeadLetterMaxAge > 0 && o.DeadLetterMaxAge < time.Millisecond {
		o.DeadLetterMaxAge = time.Millisecond // the script counts in ms; 0 there means none
	}
	ks := store.Keyspace{Prefix: "wb"}
	return &Queue[V]{
		s: s, x: x, apply: apply, o: o, codec: o.Codec, ks: ks,
		stream: ks.Key(o.Name, "stream"), latest: ks.Key(o.Name, "latest"), seq: ks.Key(o.Name, "seq"),
		tries: ks.Key(o.Name, "attempts"), dead: ks.Key(o.Name, "dead"),
	}, nil
}

func defaultBackoff(n int) time.Duration {
	d := 100 * time.Millisecond << min(n-1, 10)
	d = min(d, 10*time.Second)
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}

// Stream returns the key of the queue's stream.
func (q *Queue[V]) Stream() string { return q.stream }

// DeadLetters returns the key of the queue's dead-letter stream, whose
// entries have the fields k (key), s (seq), i (idempotency key), v (the
// encoded value), err and attempts. The stream keeps the newest
// Options.DeadLetterMaxLen entries (and none older than
// Options.DeadLetterMaxAge, if set): read it, or XDEL what was handled.
func (q *Queue[V]) DeadLetters() string { return q.dead }

func (q *Queue[V]) emit(e Event) {
	if q.o.Hook != nil {
		q.o.Hook(e)
	}
}

func newID() string {
	var b [16]byte
	for i := 0; i < 16; i += 8 {
		v := rand.Uint64()
		for j := range 8 {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	return hex.EncodeToString(b[:])
}

// Write enqueues v for key with a fresh idempotency key, which it returns,
// then stores v in the cache (if Options.Cache is set). Once Write returns
// without error the write is durable in Redis (as durable as Redis's
// persistence settings make it) and will be applied at least once.
//
// Repeated writes to one key are coalesced: each write replaces the key's
// pending value, and a worker that reaches an entry superseded by a newer
// write acknowledges it without applying it, so only the newest value of a
// key that was written many times in a burst reaches the database.
//
// Concurrent Writes of one key leave the newest value in the cache,
// whatever order their cache updates run in; a Write whose cache update
// runs after a worker has already applied a newer write of the key clears
// the cache entry instead (with Invalidate, as *cache.Cache and
// *tiered.Cache have, else Delete if the cache has it), so the next read
// loads the database.
//
// If Redis fails, Write returns the error and nothing was enqueued (or, for
// a timeout, it may have been). If the cache cannot be updated afterwards,
// the error wraps ErrCacheNotUpdated.
func (q *Queue[V]) Write(ctx context.Context, key string, v V) (string, error) {
	id := newID()
	return id, q.write(ctx, key, id, v, 0) // a fresh random ID needs no dedup
}

// WriteWithID is Write with the caller's idempotency key (a request ID, for
// instance). A key already enqueued within Options.DedupWindow is refused
// with ErrDuplicate, so a client's retry does not enqueue twice.
func (q *Queue[V]) WriteWithID(ctx context.Context, key, id string, v V) error {
	return q.write(ctx, key, id, v, q.o.DedupWindow)
}

func (q *Queue[V]) write(ctx context.Context, key, id string, v V, dedup time.Duration) error {
	if q.closed.Load() {
		return ErrClosed
	}
	if key == "" || id == "" {
		return fmt.Errorf("%w: empty key or idempotency key", store.ErrInvalidKey)
	}
	payload, err := q.codec.Append(nil, v)
	if err != nil {
		return fmt.Errorf("writebehind: encode: %w", err)
	}
	r, err := q.s.Eval(ctx, enqueueScript, []string{q.stream, q.latest, q.seq, q.ks.Key(q.o.Name, "idem", id)},
		key, payload, id, dedup.Milliseconds(), max(q.o.MaxPending, 0))
	if err != nil {
		q.emit(Event{Kind: Failed, Key: key, ID: id, Err: err})
		return err
	}
	a, err := store.Slice(r, 2)
	if err != nil {
		return err
	}
	entryID, _, _ := store.String(a[0])
	if entryID == "" {
		if n, _ := store.Int64(a[1]); n < 0 {
			return ErrQueueFull
		}
		return ErrDuplicate
	}
	seq, _, _ := store.String(a[1])
	q.emit(Event{Kind: Enqueued, Key: key, ID: id, EntryID: entryID})
	if q.o.Cache != nil {
		if err := q.syncCache(ctx, key, seq, v); err != nil {
			return fmt.Errorf("%w: %w", ErrCacheNotUpdated, err)
		}
	}
	return nil
}

// finishedTTL is how long the marker of the last finished write of a key
// lives. It only spares a Write whose cache update comes after its entry
// was finished a needless cache delete (see syncCache); a later update
// deletes the entry, which is always safe.
const finishedTTL = time.Minute

// cacheDeleter is the Delete of *cache.Cache and *tiered.Cache.
type cacheDeleter interface {
	Delete(ctx context.Context, keys ...string) error
}

// cacheInvalidator is the Invalidate of *cache.Cache and *tiered.Cache:
// a tombstone rather than a delete, so that a fill that read the database
// before the newer write was applied cannot put its older value back.
type cacheInvalidator interface {
	Invalidate(ctx context.Context, keys ...string) error
}

// clear removes key from the cache, with a tombstone when the cache has
// Invalidate, else with Delete. ok is false if the cache has neither.
func (q *Queue[V]) clear(ctx context.Context, key string) (ok bool, err error) {
	switch c := q.o.Cache.(type) {
	case cacheInvalidator:
		return true, c.Invalidate(ctx, key)
	case cacheDeleter:
		return true, c.Delete(ctx, key)
	}
	return false, nil
}

// syncCache puts v in the cache, then makes sure a concurrent Write of the
// same key did not set its (newer) value first: if the newest pending
// value is no longer this write's, it sets that one instead, so the cache
// ends with the newest write whatever order the Sets ran in.
//
// If no write of the key is pending any more, the worker finished this
// write, or a newer one, before the Set ran. In the second case v is older
// than the database (the newer write's cache update may have run before
// ours), so the entry is cleared (with Invalidate's tombstone, which also
// defeats a fill that read the database before the newer write was
// applied; else with Delete, when the cache has one) and the next read
// loads the database.
func (q *Queue[V]) syncCache(ctx context.Context, key, seq string, v V) error {
	for range 4 {
		if err := q.o.Cache.Set(ctx, key, v, q.o.CacheTTL); err != nil {
			return err
		}
		cur, pending, done, err := q.latestOf(ctx, key)
		if err != nil {
			return err
		}
		if !pending {
			if done == seq {
				return nil // ours was finished last: the database has v
			}
			if ok, err := q.clear(ctx, key); !ok || err != nil {
				return err
			}
			// A Write of the key may have set the cache between the check
			// and the Delete: check again, and put its value back.
			if cur, pending, _, err = q.latestOf(ctx, key); err != nil || !pending {
				return err
			}
		}
		curSeq, payload, _ := strings.Cut(cur, "|")
		if curSeq == seq {
			return nil // ours is the newest
		}
		var nv V
		if err := q.decode(payload, &nv); err != nil {
			return err
		}
		seq, v = curSeq, nv
	}
	return nil
}

// latestOf returns the newest pending write of key ("seq|payload") if
// there is one, and the seq of the write of key finished last ("" once its
// marker expired).
func (q *Queue[V]) latestOf(ctx context.Context, key string) (cur string, pending bool, done string, err error) {
	r, err := q.s.Eval(ctx, latestScript, []string{q.latest, q.ks.Key(q.o.Name, "done", key)}, key)
	if err != nil {
		return "", false, "", err
	}
	a, err := store.Slice(r, 2)
	if err != nil {
		return "", false, "", err
	}
	cur, pending, _ = store.String(a[0])
	done, _, _ = store.String(a[1])
	return cur, pending, done, nil
}

// Pending returns how many writes are queued and not yet applied (entries
// are deleted from the stream once acknowledged).
func (q *Queue[V]) Pending(ctx context.Context) (int64, error) {
	d, ok := q.s.(store.Doer)
	if !ok {
		return 0, errors.New("writebehind: Pending needs a store.Doer")
	}
	r, err := d.Do(ctx, "XLEN", q.stream)
	if err != nil {
		return 0, err
	}
	return store.Int64(r)
}

// Run runs a worker until ctx ends (it then returns ctx's error, leaving any
// entry it was applying unacknowledged, for another worker to reclaim) or
// until Close has drained the queue (it then returns nil). Several workers,
// in one process or many, share the work through the consumer group; give
// each process its own Options.Consumer (the default is unique).
func (q *Queue[V]) Run(ctx context.Context) error {
	q.mu.Lock()
	if q.running == 0 {
		q.idle = make(chan struct{})
	}
	q.running++
	q.mu.Unlock()
	defer func() {
		q.mu.Lock()
		q.running--
		if q.running == 0 {
			close(q.idle)
		}
		q.mu.Unlock()
	}()
	return q.run(ctx)
}

// ensureGroup creates the consumer group (and the stream) if missing,
// retrying until it succeeds or ctx ends.
func (q *Queue[V]) ensureGroup(ctx context.Context) error {
	for {
		err := q.x.XGroupCreate(ctx, q.stream, q.o.Group, "0")
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		q.emit(Event{Kind: Failed, Err: err})
		if !sleep(ctx, time.Second) {
			return ctx.Err()
		}
	}
}

func (q *Queue[V]) run(ctx context.Context) error {
	if err := q.ensureGroup(ctx); err != nil {
		return err
	}
	var lastClaim time.Time
	failures := 0
	for {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		draining := q.draining.Load()
		if time.Since(lastClaim) >= q.o.ClaimInterval {
			if err := q.reclaim(ctx); err != nil && ctx.Err() == nil {
				q.emit(Event{Kind: Failed, Err: err})
			}
			lastClaim = time.Now()
		}
		block := q.o.Block
		if draining {
			block = 0
		}
		msgs, err := q.x.XReadGroup(ctx, q.stream, q.o.Group, q.o.Consumer, q.o.Batch, block)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			q.emit(Event{Kind: Failed, Err: err})
			if store.IsRedisError(err, "NOGROUP") {
				// Redis lost the stream and its group (a restart without
				// persistence, a failover to an empty replica, a FLUSHALL):
				// recreate the group from the start of the stream, so
				// entries written since are read, instead of failing
				// forever.
				if err := q.ensureGroup(ctx); err != nil {
					return err
				}
				continue
			}
			failures++
			if !sleep(ctx, min(time.Duration(failures)*100*time.Millisecond, 5*time.Second)) {
				return ctx.Err()
			}
			continue
		}
		failures = 0
		for _, m := range msgs {
			if !q.process(ctx, m) {
				return ctx.Err()
			}
		}
		if draining && len(msgs) == 0 {
			return nil
		}
	}
}

// reclaim takes over, and processes, entries that another worker has held
// unacknowledged for Options.ClaimIdle: that worker crashed, or is stuck.
func (q *Queue[V]) reclaim(ctx context.Context) error {
	start := "0-0"
	for {
		next, msgs, err := q.x.XAutoClaim(ctx, q.stream, q.o.Group, q.o.Consumer, q.o.ClaimIdle, start, q.o.Batch)
		if err != nil {
			return err
		}
		for _, m := range msgs {
			q.emit(Event{Kind: Claimed, Key: m.Fields["k"], ID: m.Fields["i"], EntryID: m.ID})
			if !q.process(ctx, m) {
				return ctx.Err()
			}
		}
		if next == "0-0" || next == "" {
			return nil
		}
		start = next
	}
}

// process applies one entry until it is acknowledged or dead-lettered. It
// returns false if ctx ended first (the entry stays pending).
func (q *Queue[V]) process(ctx context.Context, m store.StreamMessage) bool {
	key, id, seqStr := m.Fields["k"], m.Fields["i"], m.Fields["s"]
	seq, err := strconv.ParseInt(seqStr, 10, 64)
	if key == "" || err != nil {
		q.finish(ctx, m.ID, key, seqStr, id, true, fmt.Errorf("writebehind: malformed entry %v", m.Fields))
		return ctx.Err() == nil
	}
	for {
		r, err := q.s.Eval(ctx, beginScript, []string{q.tries, q.latest}, m.ID, key)
		if err != nil {
			if ctx.Err() != nil {
				return false
			}
			q.emit(Event{Kind: Failed, Key: key, ID: id, EntryID: m.ID, Err: err})
			if !sleep(ctx, time.Second) {
				return false
			}
			continue
		}
		a, err := store.Slice(r, 2)
		if err != nil {
			q.finish(ctx, m.ID, key, seqStr, id, true, err)
			return ctx.Err() == nil
		}
		attempt, _ := store.Int64(a[0])
		cur, ok, _ := store.String(a[1])
		curSeq, payload, found := strings.Cut(cur, "|")
		if !ok || !found || curSeq != seqStr {
			// A newer write replaced this one (or it was applied already).
			if q.finish(ctx, m.ID, key, seqStr, id, false, nil) {
				q.emit(Event{Kind: Coalesced, Key: key, ID: id, EntryID: m.ID})
			}
			return ctx.Err() == nil
		}
		if attempt > int64(q.o.MaxAttempts) {
			q.finish(ctx, m.ID, key, seqStr, id, true, errors.New("writebehind: too many attempts"))
			return ctx.Err() == nil
		}
		var v V
		if err := q.decode(payload, &v); err != nil {
			q.finish(ctx, m.ID, key, seqStr, id, true, fmt.Errorf("writebehind: decode: %w", err))
			return ctx.Err() == nil
		}
		err = q.safeApply(ctx, Op[V]{Key: key, Value: v, ID: id, Seq: seq, Attempt: int(attempt)})
		if err == nil {
			if q.finish(ctx, m.ID, key, seqStr, id, false, nil) {
				q.emit(Event{Kind: Applied, Key: key, ID: id, EntryID: m.ID, Attempt: int(attempt)})
			}
			return ctx.Err() == nil
		}
		if ctx.Err() != nil {
			return false
		}
		if attempt >= int64(q.o.MaxAttempts) {
			q.finish(ctx, m.ID, key, seqStr, id, true, err)
			return true
		}
		q.emit(Event{Kind: Retry, Key: key, ID: id, EntryID: m.ID, Attempt: int(attempt), Err: err})
		if !sleep(ctx, q.o.Backoff(int(attempt))) {
			return false
		}
	}
}

// decode runs the codec, turning a panic (a decoder that trusts its input)
// into an error, so that an undecodable entry is dead-lettered instead of
// crashing the worker.
func (q *Queue[V]) decode(payload string, v *V) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("codec panicked: %v", p)
		}
	}()
	return q.codec.Unmarshal([]byte(payload), v)
}

// safeApply calls Apply, turning a panic into a failed attempt (retried,
// then dead-lettered) instead of a crashed worker.
func (q *Queue[V]) safeApply(ctx context.Context, op Op[V]) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("writebehind: Apply panicked: %v", p)
		}
	}()
	return q.apply(ctx, op)
}

// finish acknowledges an entry, dead-lettering it first if dead. It
// reports whether it succeeded; if not, the entry stays pending and will be
// reclaimed.
func (q *Queue[V]) finish(ctx context.Context, entryID, key, seq, id string, dead bool, cause error) bool {
	flag, msg := "0", ""
	if dead {
		flag = "1"
		if cause != nil {
			msg = cause.Error()
		}
	}
	_, err := q.s.Eval(ctx, finishScript, []string{q.stream, q.latest, q.tries, q.dead, q.ks.Key(q.o.Name, "done", key)},
		q.o.Group, entryID, key, seq, flag, msg, id, finishedTTL.Milliseconds(),
		max(q.o.DeadLetterMaxLen, 0), q.o.DeadLetterMaxAge.Milliseconds())
	if err != nil {
		q.emit(Event{Kind: Failed, Key: key, ID: id, EntryID: entryID, Err: err})
		return false
	}
	if dead {
		q.emit(Event{Kind: DeadLettered, Key: key, ID: id, EntryID: entryID, Err: cause})
	}
	return true
}

// Close stops accepting writes and drains the queue: running workers (or,
// if none runs, Close itself) apply every entry queued so far, then Run
// returns nil. It returns when the queue is drained, or with ctx's error
// when ctx ends first, even if a Redis call is stuck (a hung server under
// a client without timeouts): the drain then goes on in the background
// until that call returns, and stops there.
func (q *Queue[V]) Close(ctx context.Context) error {
	q.closed.Store(true)
	q.draining.Store(true)
	q.mu.Lock()
	running, idle := q.running, q.idle
	q.mu.Unlock()
	if running == 0 {
		done := make(chan error, 1)
		go func() { done <- q.Run(ctx) }()
		select {
		case err := <-done:
			return err
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
