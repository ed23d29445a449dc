package locking

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/rediware/rediware/store"
)

// A Redlock whose stores are all store.Senders (store/redigo) runs the
// acquire and release rounds on the calling goroutine: it sends the
// script to every store, then reads the replies in store order until the
// outcome is decided. The replies not yet read are read in the background
// by one goroutine, and recorded as the goroutine fan-out records its
// stragglers. This saves a goroutine hand-off per store, which cost more
// than the round trips themselves on a small machine (see docs/locking.md,
// Speed). The price: the replies are read in order, so a store that hangs
// delays the decision until its node timeout even when the stores after
// it have answered; the goroutine fan-out decides on the first quorum of
// answers, whatever their order. A reply still unread when the caller
// returns is read by a worker (see workers), or by the lock's next call
// that needs it, whichever comes first (see straggler).

// closedChan is closed: a node whose acquire has answered.
var closedChan = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// attemptSent is attempt's Redlock round over Senders.
func (lk *Locker) attemptSent(ctx context.Context, l *Lock, begin time.Time) (time.Duration, error) {
	n := len(lk.nodes)
	t := &acquireTally{quorum: lk.quorum, n: n, decided: make(chan struct{}, 1)}
	nctx, cancel := context.WithTimeout(ctx, lk.nodeTimeout(l.ttl))
	t.cancel = cancel // called by the last answer
	ps := make([]store.Pending, n)
	errs := make([]error, n)
	for i, s := range lk.senders {
		ps[i], errs[i] = s.SendEval(nctx, obtainScript, l.keys[:2:2], l.args[:3:3]...)
	}
	wait := func(i int) {
		err := errs[i]
		var v any
		if err == nil {
			v, err = ps[i].Wait()
		}
		t.add(acquireReply(i, v, err))
	}
	next := 0
	for next < n {
		wait(next)
		next++
		if decidedNow(t.decided) {
			break
		}
	}
	if t.atDecision.won >= lk.quorum {
		validity := l.ttl - time.Since(begin) - lk.drift(l.ttl)
		if validity > 0 {
			l.fence = t.atDecision.fence
			l.validUntil = begin.Add(validity)
			if next < n {
				l.straggle(next, wait)
			}
			return -1, nil
		}
	}
	for ; next < n; next++ {
		wait(next)
	}
	return lk.attemptFailed(l, t)
}

// decidedNow reports whether a tally has signalled its decision.
func decidedNow(decided chan struct{}) bool {
	select {
	case <-decided:
		return true
	default:
		return false
	}
}

// releaseSent is Release's Redlock round over Senders: it returns once
// the outcome is decided, or when ctx is done (checked between replies),
// and reads the remaining replies in the background, each recorded in
// inflight as it answers. A node whose acquire reply is still unread is
// released by a worker once that reply is read, so that the release
// cannot overtake the acquire and a hung node does not hold up the others.
func (l *Lock) releaseSent(ctx context.Context, owner string, p *pendingRelease) (int, []error) {
	lk := l.lk
	n := len(lk.nodes)
	t := &eachTally{need: n, quorum: lk.quorum, maxLost: n - lk.quorum, decided: make(chan struct{}, 1)}
	nctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), lk.nodeTimeout(l.ttl))
	t.cancel = cancel
	ps := make([]store.Pending, n)
	errs := make([]error, n)
	sent := make([]int, 0, n) // the nodes sent to now, in order
	for i, s := range lk.senders {
		if !l.acquireRead(i) {
			nodeWorkers.do(func() {
				defer inflight.finish(owner, p)
				l.finishAcquire(i)
				v, err := lk.nodes[i].Eval(nctx, releaseScript, l.ownerKey(), l.valueArg()...)
				t.add(i, err == nil && v == int64(1), err)
			})
			continue
		}
		ps[i], errs[i] = s.SendEval(nctx, releaseScript, l.ownerKey(), l.valueArg()...)
		sent = append(sent, i)
	}
	wait := func(i int) {
		defer inflight.finish(owner, p)
		err := errs[i]
		var v any
		if err == nil {
			v, err = ps[i].Wait()
		}
		t.add(i, err == nil && v == int64(1), err)
	}
	next := 0
	decided := false
	for next < len(sent) && ctx.Err() == nil {
		wait(sent[next])
		next++
		if decidedNow(t.decided) {
			decided = true
			break
		}
	}
	if next < len(sent) {
		rest := sent[next:]
		nodeWorkers.do(func() {
			for _, i := range rest {
				wait(i)
			}
		})
	}
	if !decided && next == len(sent) {
		// The workers' nodes decide.
		select {
		case <-t.decided:
			decided = true
		case <-ctx.Done():
		}
	}
	if decided {
		return t.won, t.errs
	}
	// ctx ended first: count every node not heard from as failed, as each
	// does.
	won, errList, missing := t.snapshot()
	err := fmt.Errorf("%w: %w", store.ErrUnavailable, ctx.Err())
	for range missing {
		errList = append(errList, err)
	}
	return won, errList
}

// straggler is the reply of a node's acquire that was not read when
// Obtain returned. It is read once, by whichever comes first: a worker
// started by Obtain, or a later call on the lock that must not overtake
// the acquire (Release, Extend, TTL), which reads it itself rather than
// wait for the worker to be scheduled.
type straggler struct {
	once sync.Once
	read func() // reads and tallies the reply, then closes l.acquired[i]
}

func (s *straggler) finish() { s.once.Do(s.read) }

// straggle records that the acquire replies of nodes from..n-1 are not
// read yet, and has a worker read them; wait(i) reads and tallies node
// i's.
func (l *Lock) straggle(from int, wait func(int)) {
	n := len(l.lk.nodes)
	acquired := make([]chan struct{}, n)
	stragglers := make([]*straggler, n)
	for i := range from {
		acquired[i] = closedChan
	}
	for i := from; i < n; i++ {
		c := make(chan struct{})
		acquired[i] = c
		stragglers[i] = &straggler{read: func() { wait(i); close(c) }}
	}
	l.acquired = acquired // a node's release waits for its acquire
	l.stragglers = stragglers
	nodeWorkers.do(func() {
		for _, s := range stragglers[from:] {
			s.finish()
		}
	})
}

// acquireRead reports whether node i's acquire reply has been read.
func (l *Lock) acquireRead(i int) bool {
	if l.acquired == nil {
		return true
	}
	select {
	case <-l.acquired[i]:
		return true
	default:
		return false
	}
}

// finishAcquire reads node i's acquire reply now if it was not read yet.
// It returns by the acquire's node deadline.
func (l *Lock) finishAcquire(i int) {
	if l.stragglers != nil && l.stragglers[i] != nil {
		l.stragglers[i].finish()
	}
}
