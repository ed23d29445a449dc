package locking

import (
	"context"
	"fmt"
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
// answers, whatever their order.

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
				acquired := make([]chan struct{}, n)
				for i := range next {
					acquired[i] = closedChan
				}
				for i := next; i < n; i++ {
					acquired[i] = make(chan struct{})
				}
				l.acquired = acquired // a node's release waits for its acquire
				go func() {
					for i := next; i < n; i++ {
						wait(i)
						close(acquired[i])
					}
				}()
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
// inflight as it answers. It must be called only when every node has
// answered the acquire (else a release could overtake it).
func (l *Lock) releaseSent(ctx context.Context, owner string, p *pendingRelease) (int, []error) {
	lk := l.lk
	n := len(lk.nodes)
	t := &eachTally{need: n, quorum: lk.quorum, maxLost: n - lk.quorum, decided: make(chan struct{}, 1)}
	nctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), lk.nodeTimeout(l.ttl))
	t.cancel = cancel
	ps := make([]store.Pending, n)
	errs := make([]error, n)
	for i, s := range lk.senders {
		ps[i], errs[i] = s.SendEval(nctx, releaseScript, l.ownerKey(), l.valueArg()...)
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
	for next < n && ctx.Err() == nil {
		wait(next)
		next++
		if decidedNow(t.decided) {
			decided = true
			break
		}
	}
	if next < n {
		go func() {
			for i := next; i < n; i++ {
				wait(i)
			}
		}()
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

// acquiredAll reports whether every node has answered the acquire.
func (l *Lock) acquiredAll() bool {
	for _, c := range l.acquired {
		select {
		case <-c:
		default:
			return false
		}
	}
	return true
}
