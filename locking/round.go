package locking

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/rediware/rediware/store"
)

// round is one Redlock call to every store (an acquire, a release, an
// extension or a TTL query), the stores answering in parallel on
// nodeWorkers. The answers are tallied as they come in, and the caller is
// woken once, when the outcome is decided: a quorum won, so many lost that
// no quorum can win, or every store answered.
//
// A round made by acquire also orders the later rounds of its lock: a
// store's call in a later round waits until that store has answered the
// acquire (Obtain returns with a quorum while the other stores' acquires
// may still be on their way). Rather than park a goroutine for it, the
// call is queued on the acquire round, and the worker that receives the
// store's answer runs it next.
type round struct {
	nodes     []store.Store
	ctx       *roundCtx // every store's call runs under it; stopped by the last answer
	call      func(ctx context.Context, i int, s store.Store) answer
	quorum    int           // decide once this many won (0: wait for every answer)
	maxLost   int           // ... or once more than this many lost
	failsLose bool          // a failed store counts as lost (acquire)
	decided   chan struct{} // one value, sent when decided
	all       sync.WaitGroup

	mu         sync.Mutex
	answered   int
	now        tally
	atDecision tally // read by the caller after decided
	signalled  bool
	order      []nodeOrder // acquire rounds: per store, see queueAfter
}

// answer is one store's answer in a round.
type answer struct {
	won    bool
	value  int64         // acquire: the fence; TTL: the remaining ms
	holder time.Duration // acquire, when lost: the holder's PTTL (0 if unknown)
	err    error
}

// tally counts a round's answers.
type tally struct {
	won, lost int
	fence     int64         // the largest value won (acquire: the fence)
	holder    time.Duration // acquire: the largest holder TTL seen
	values    []int64       // TTL: the values of the stores that won
	errs      []error
}

// nodeOrder is one store's place in an acquire round: whether it has
// answered, and the later rounds' calls waiting for that.
type nodeOrder struct {
	answered bool
	after    []nodeCall
}

// nodeCall is one store's call in a round: the job a worker runs.
type nodeCall struct {
	r *round
	i int
}

func (c nodeCall) run() { c.r.run(c.i) }

func newRound(nodes []store.Store, ctx *roundCtx, call func(context.Context, int, store.Store) answer) *round {
	r := &round{nodes: nodes, ctx: ctx, call: call, decided: make(chan struct{}, 1)}
	r.all.Add(len(nodes))
	return r
}

// start sends every store's call to a worker. With after set (the lock's
// acquire round), a store that has not answered the acquire yet gets its
// call after it has.
func (r *round) start(after *round) {
	for i := range r.nodes {
		c := nodeCall{r, i}
		if after != nil && after.queueAfter(c) {
			continue
		}
		nodeWorkers.do(c)
	}
}

// queueAfter queues c to run once store c.i has answered r (an acquire
// round), and reports false if it already has.
func (r *round) queueAfter(c nodeCall) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	o := &r.order[c.i]
	if o.answered {
		return false
	}
	o.after = append(o.after, c)
	return true
}

// run makes store i's call, tallies its answer, then runs the calls of
// later rounds that were waiting for it, in the order they came.
func (r *round) run(i int) {
	a := r.call(r.ctx, i, r.nodes[i])
	next := r.add(i, a)
	r.all.Done()
	for _, c := range next {
		c.run()
	}
}

func (r *round) add(i int, a answer) (next []nodeCall) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.answered++
	switch {
	case a.err != nil:
		r.now.errs = append(r.now.errs, fmt.Errorf("node %d: %w", i, a.err))
		if r.failsLose {
			r.now.lost++
		}
	case a.won:
		r.now.won++
		r.now.fence = max(r.now.fence, a.value)
		if r.now.values != nil {
			r.now.values = append(r.now.values, a.value)
		}
	default:
		r.now.lost++
		r.now.holder = max(r.now.holder, a.holder)
	}
	early := r.quorum > 0 && (r.now.won >= r.quorum || r.now.lost > r.maxLost)
	if !r.signalled && (early || r.answered == len(r.nodes)) {
		r.signalled = true
		r.atDecision = r.now
		r.atDecision.errs = slices.Clone(r.now.errs)
		r.atDecision.values = slices.Clone(r.now.values)
		r.decided <- struct{}{}
	}
	if r.answered == len(r.nodes) {
		r.ctx.stop()
	}
	if r.order != nil {
		o := &r.order[i]
		o.answered = true
		next, o.after = o.after, nil
	}
	return next
}

// final returns the tally once every store has answered.
func (r *round) final() tally {
	r.all.Wait()
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.now
}

// wait waits until the round is decided, ctx is done or the round's own
// context ends (its node timeout), and returns the tally at that point.
// The round's context bounds the wait even when a store does not honour
// context deadlines, or when a store's call is queued behind its acquire
// (see queueAfter). When ctx or the round's context ends first, every
// store not heard from is counted as failed, so that the caller reports
// the context's error rather than a lost lock.
func (r *round) wait(ctx context.Context) tally {
	var ended context.Context
	select {
	case <-r.decided:
		return r.atDecision
	case <-ctx.Done(): // nil, never ready, for a context that cannot end
		ended = ctx
	case <-r.ctx.Done():
		ended = r.ctx
	}
	// The last answer sends decided before it stops the round's context.
	select {
	case <-r.decided:
		return r.atDecision
	default:
	}
	r.mu.Lock()
	t := r.now
	t.errs = slices.Clone(r.now.errs)
	t.values = slices.Clone(r.now.values)
	missing := len(r.nodes) - r.answered
	r.mu.Unlock()
	err := fmt.Errorf("%w: %w", store.ErrUnavailable, ended.Err())
	for range missing {
		t.errs = append(t.errs, err)
	}
	return t
}
