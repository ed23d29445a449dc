package locking

import (
	"context"
	"crypto/rand"
	_ "embed"
	"errors"
	"fmt"
	"time"

	"github.com/rediware/rediware/store"
)

var (
	//go:embed obtain.lua
	obtainLua    string
	obtainScript = store.NewScript(obtainLua)

	//go:embed release.lua
	releaseLua    string
	releaseScript = store.NewScript(releaseLua)

	//go:embed extend.lua
	extendLua    string
	extendScript = store.NewScript(extendLua)

	//go:embed pttl.lua
	pttlLua    string
	pttlScript = store.NewScript(pttlLua)
)

// Options configures a Locker. The zero value means all defaults.
type Options struct {
	// Prefix is the keyspace prefix of lock keys: the lock "job:42" lives
	// in "{Prefix:job:42}:owner" and its fencing counter in
	// "{Prefix:job:42}:fence", one hash slot on Redis Cluster. Default:
	// "lock".
	Prefix string

	// NodeTimeout bounds each node's answer to a Redlock acquire, release
	// or TTL call, so that a slow node does not eat the lock's validity.
	// An extension waits for each node until the lock's current validity
	// ends, if that is longer: a late extension is still good. Default: a
	// tenth of the lock's TTL, between 10ms and 1s. Single-store Lockers
	// use the caller's context only.
	NodeTimeout time.Duration

	// FenceTTL is how long a lock key's fencing counter lives after it was
	// started. When it has expired, the next acquisition restarts it from
	// the server clock in microseconds, which is still larger than every
	// fence issued before; the TTL only keeps the counters of keys no
	// longer locked from piling up. Default: 24h.
	FenceTTL time.Duration

	// DriftFactor is the share of the TTL subtracted from the validity to
	// allow for clock drift between client and servers; 2ms are subtracted
	// as well. It must be below 1. Default (zero or negative): 0.01, as in
	// the Redlock description.
	DriftFactor float64
}

// Locker obtains locks on one store, or on a quorum of independent stores
// (Redlock, see NewRedlock). It is safe for concurrent use.
type Locker struct {
	nodes  []store.Store
	quorum int
	ks     store.Keyspace
	opts   Options

	fenceTTLArg any // the fence counter's TTL in ms, boxed once

	deadlines watcher // ends Redlock rounds at their node timeout
}

// New returns a Locker over s with default options.
func New(s store.Store) *Locker {
	l, err := NewWithOptions(s, Options{})
	if err != nil {
		panic(err) // only for a nil store: a programming error
	}
	return l
}

// NewWithOptions returns a Locker over s.
func NewWithOptions(s store.Store, opts Options) (*Locker, error) {
	if s == nil {
		return nil, errors.New("locking: nil store")
	}
	if err := opts.check(); err != nil {
		return nil, err
	}
	return newLocker([]store.Store{s}, opts), nil
}

// NewRedlock returns a Locker that holds a lock only while a majority
// (len(stores)/2 + 1) of the independent stores agree, following the
// Redlock algorithm: every attempt asks all stores in parallel, and the
// lock is valid for its TTL minus the time the attempt took minus clock
// drift. Use an odd number of stores, each its own Redis deployment (not
// replicas of one another, not masters of one Cluster).
//
// Read "Redlock and fencing" in the package documentation before relying
// on it for correctness.
func NewRedlock(stores []store.Store, opts Options) (*Locker, error) {
	if len(stores) == 0 {
		return nil, errors.New("locking: Redlock needs at least one store")
	}
	for i, s := range stores {
		if s == nil {
			return nil, fmt.Errorf("locking: Redlock store %d is nil", i)
		}
	}
	if err := opts.check(); err != nil {
		return nil, err
	}
	return newLocker(append([]store.Store(nil), stores...), opts), nil
}

// check rejects options that would make every Obtain fail.
func (o Options) check() error {
	if !(o.DriftFactor < 1) { // also NaN
		return fmt.Errorf("locking: DriftFactor %v leaves no validity; it must be below 1", o.DriftFactor)
	}
	return nil
}

func newLocker(nodes []store.Store, opts Options) *Locker {
	if opts.Prefix == "" {
		opts.Prefix = "lock"
	}
	if opts.FenceTTL <= 0 {
		opts.FenceTTL = 24 * time.Hour
	}
	if opts.DriftFactor <= 0 {
		opts.DriftFactor = 0.01
	}
	return &Locker{
		nodes:       nodes,
		quorum:      len(nodes)/2 + 1,
		ks:          store.Keyspace{Prefix: opts.Prefix},
		opts:        opts,
		fenceTTLArg: max(opts.FenceTTL.Milliseconds(), 1),
	}
}

// Quorum returns how many stores must agree for a lock to be held: 1 for a
// single store, len(stores)/2+1 for Redlock.
func (lk *Locker) Quorum() int { return lk.quorum }

// ObtainOptions are the per-call options of Obtain. A nil pointer means
// all defaults.
type ObtainOptions struct {
	// Retry decides whether and when to try again while the lock is held
	// by someone else. The wait never outlasts ctx, and a wait longer than
	// the holder's remaining TTL is shortened to it. Default: NoRetry.
	Retry RetryStrategy

	// Metadata is stored with the lock's token, readable by other
	// processes that inspect the key (for example a host name). Default:
	// none.
	Metadata string

	// Watchdog extends the lock every TTL/3 until it is released, until
	// MaxHold, or until an extension finds the lock lost; the Lock's
	// Context is cancelled as soon as the lock is lost. Each extension may
	// take until the current validity ends. Default: off.
	Watchdog bool

	// MaxHold caps how long the watchdog keeps a lock alive, measured from
	// when it was obtained, so that a stuck holder cannot keep it forever.
	// Default: 10 times the TTL. Ignored without Watchdog.
	MaxHold time.Duration
}

// Obtain tries to obtain the lock named key for ttl, retrying as opts.Retry
// says while someone else holds it. It returns a [*NotObtainedError]
// (errors.Is ErrNotObtained) when it gives up, and the store's error
// (errors.Is store.ErrUnavailable when Redis is down) when it could not ask.
//
// The returned Lock carries a fencing token (Lock.Fence) issued atomically
// with the acquisition. Release it when done, ideally in a defer.
func (lk *Locker) Obtain(ctx context.Context, key string, ttl time.Duration, opts *ObtainOptions) (*Lock, error) {
	if err := store.CheckKey(key, 0); err != nil {
		return nil, fmt.Errorf("locking: %w", err)
	}
	if ttl < time.Millisecond {
		return nil, fmt.Errorf("locking: %w: ttl %v is shorter than 1ms", store.ErrInvalidTTL, ttl)
	}
	var o ObtainOptions
	if opts != nil {
		o = *opts
	}
	if o.Retry == nil {
		o.Retry = NoRetry()
	}
	if o.MaxHold <= 0 {
		o.MaxHold = 10 * ttl
	}
	l := &Lock{
		lk:      lk,
		key:     key,
		keys:    [2]string{lk.ks.Key(key, "owner"), lk.ks.Key(key, "fence")},
		token:   rand.Text(),
		ttl:     ttl,
		maxHold: o.MaxHold,
	}
	l.value = l.token + o.Metadata
	l.args = [3]any{l.value, ttl.Milliseconds(), lk.fenceTTLArg}

	var timer *time.Timer
	var holder time.Duration // as last seen
	var seen time.Time
	waited := false // for this process's own releases in flight
	busy := func(attempts int, err error) error {
		left := holder
		if left > 0 {
			left = max(holder-time.Since(seen), time.Millisecond)
		}
		return &NotObtainedError{Key: key, HolderTTL: left, Attempts: attempts, Err: err}
	}
	for attempt := 1; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return nil, busy(attempt-1, err)
		}
		var pending <-chan struct{}
		if !waited && len(lk.nodes) > 1 {
			pending = inflight.pending(l.keys[0])
		}
		h, err := lk.attempt(ctx, l)
		if err != nil {
			if attempt > 1 && ctx.Err() != nil {
				// The wait ran out during a retry: report the lock as busy,
				// as it was when last seen.
				return nil, busy(attempt-1, ctx.Err())
			}
			return nil, err
		}
		holder, seen = h, time.Now()
		if holder < 0 { // obtained
			l.start(ctx, o.Watchdog)
			return l, nil
		}
		if pending != nil {
			// Redlock: the key may have been set on the stores whose
			// release of an earlier lock of this process was on its way
			// (Release returns with a quorum). Wait for those releases
			// and try again, once, without counting an attempt.
			waited = true
			select {
			case <-pending:
				attempt--
				continue
			case <-ctx.Done():
				return nil, busy(attempt, ctx.Err())
			}
		}
		wait, ok := o.Retry.Backoff(attempt)
		if !ok {
			return nil, busy(attempt, nil)
		}
		if holder > 0 && wait > holder {
			wait = holder // the holder's key expires by then
		}
		if timer == nil {
			timer = time.NewTimer(wait)
			defer timer.Stop()
		} else {
			timer.Reset(wait)
		}
		select {
		case <-ctx.Done():
			return nil, busy(attempt, ctx.Err())
		case <-timer.C:
		}
	}
}

// drift is the clock drift allowance for ttl.
func (lk *Locker) drift(ttl time.Duration) time.Duration {
	return time.Duration(float64(ttl)*lk.opts.DriftFactor) + 2*time.Millisecond
}

func (lk *Locker) nodeTimeout(ttl time.Duration) time.Duration {
	if lk.opts.NodeTimeout > 0 {
		return lk.opts.NodeTimeout
	}
	return min(max(ttl/10, 10*time.Millisecond), time.Second)
}

// acquireNode asks one store for l's lock.
func acquireNode(ctx context.Context, s store.Store, l *Lock) answer {
	v, err := s.Eval(ctx, obtainScript, l.keys[:2:2], l.args[:3:3]...)
	if err != nil {
		return answer{err: err}
	}
	n, err := store.Int64(v)
	if err != nil {
		return answer{err: fmt.Errorf("locking: obtain reply: %w", err)}
	}
	if n > 0 {
		return answer{won: true, value: n}
	}
	return answer{holder: time.Duration(-n) * time.Millisecond}
}

// attempt makes one acquire attempt. It returns -1 when the lock was
// obtained (l's fence and validity are set), else the holder's TTL (0 if
// unknown). err is set only when too many stores failed to answer.
func (lk *Locker) attempt(ctx context.Context, l *Lock) (time.Duration, error) {
	begin := time.Now()
	if len(lk.nodes) == 1 {
		a := acquireNode(ctx, lk.nodes[0], l)
		if a.err != nil {
			if errors.Is(a.err, store.ErrUnavailable) {
				// The SET may have been applied before the connection
				// failed or the context ended: undo it in the background,
				// so the key does not stay locked for the whole TTL.
				go lk.releaseAll(l)
			}
			return 0, fmt.Errorf("locking: obtain %q: %w", l.key, a.err)
		}
		if !a.won {
			return a.holder, nil
		}
		validity := l.ttl - time.Since(begin) - lk.drift(l.ttl)
		if validity <= 0 {
			lk.releaseAll(l) // too slow to be of use
			return 0, nil
		}
		l.fence = a.value
		l.validUntil = begin.Add(validity)
		return -1, nil
	}

	n := len(lk.nodes)
	r := newRound(lk.nodes, lk.deadlines.context(ctx, lk.nodeTimeout(l.ttl)), func(ctx context.Context, _ int, s store.Store) answer {
		return acquireNode(ctx, s, l)
	})
	r.quorum, r.maxLost, r.failsLose = lk.quorum, n-lk.quorum, true
	r.order = make([]nodeOrder, n)
	r.start(nil)
	// Wake up once, when the outcome is decided: a quorum won, or too many
	// lost for a quorum to remain possible. The other answers are tallied
	// as they come.
	<-r.decided
	if t := r.atDecision; t.won >= lk.quorum {
		validity := l.ttl - time.Since(begin) - lk.drift(l.ttl)
		if validity > 0 {
			l.fence = t.fence
			l.validUntil = begin.Add(validity)
			l.acquire = r // a store's later calls wait for its acquire
			return -1, nil
		}
	}
	// Failed: undo on every node, after every node has answered, with a
	// context that the caller's cancellation cannot cut short.
	all := r.final()
	lk.releaseAll(l)
	// Report the failures when they, not a holder, kept the quorum out
	// of reach.
	if busy := all.lost - len(all.errs); all.won+busy < lk.quorum && len(all.errs) > 0 {
		return 0, fmt.Errorf("locking: obtain %q: %d of %d stores failed: %w", l.key, len(all.errs), n, errors.Join(all.errs...))
	}
	return all.holder, nil
}

// releaseTimeout bounds the clean-up release after a failed attempt.
const releaseTimeout = 2 * time.Second

// releaseAll deletes l's value on every node, ignoring errors (keys that
// could not be deleted expire with their TTL).
func (lk *Locker) releaseAll(l *Lock) {
	ctx, cancel := context.WithTimeout(context.Background(), releaseTimeout)
	defer cancel()
	lk.each(ctx, eachOpts{timeout: releaseTimeout, all: true}, func(ctx context.Context, _ int, s store.Store) answer {
		return scriptDone(s.Eval(ctx, releaseScript, l.ownerKey(), l.valueArg()...))
	})
}

// scriptDone is the answer of a release or extend script: won if it
// returned 1 (the lock was held with this value).
func scriptDone(v any, err error) answer {
	return answer{won: err == nil && v == int64(1), err: err}
}

// eachOpts says how each runs a call on every node.
type eachOpts struct {
	after   *round        // the lock's acquire round, if the call must follow it
	timeout time.Duration // bounds each node's call
	all     bool          // wait for every node's answer, not only a decision
	values  bool          // keep the values of the nodes that won (TTL)
}

// each runs call on every node and returns the tally of their answers.
// With several nodes, the calls run in parallel, each under a context that
// ends after o.timeout and that ctx's cancellation does not cut short (so
// that a release or extension is not left half done); with o.after set, a
// node's call is sent only once that node has answered the acquire. each
// returns as soon as the outcome is decided (a quorum won, or so many lost
// that no quorum can), unless o.all is set, or when ctx is done or the
// timeout has passed: a node that has not answered by then counts as
// failed, and its call still runs in the background. A failed node does
// not decide the outcome: the caller must tell "lost" (enough lost
// answers) from "unknown" (failures), see Lock.quorumErr.
func (lk *Locker) each(ctx context.Context, o eachOpts, call func(context.Context, int, store.Store) answer) tally {
	if len(lk.nodes) == 1 {
		var t tally
		switch a := call(ctx, 0, lk.nodes[0]); {
		case a.err != nil:
			t.errs = []error{a.err}
		case a.won:
			t.won = 1
			if o.values {
				t.values = []int64{a.value}
			}
		default:
			t.lost = 1
		}
		return t
	}
	r := newRound(lk.nodes, lk.deadlines.context(context.WithoutCancel(ctx), o.timeout), call)
	if !o.all {
		r.quorum, r.maxLost = lk.quorum, len(lk.nodes)-lk.quorum
	}
	if o.values {
		r.now.values = make([]int64, 0, len(lk.nodes))
	}
	r.start(o.after)
	return r.wait(ctx)
}
