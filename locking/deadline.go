package locking

import (
	"container/heap"
	"context"
	"fmt"
	"sync"
	"time"
)

// roundCtx is the context of a Redlock round's store calls: the values and
// cancellation of its parent, and a deadline (the node timeout) that the
// Locker's deadline watcher enforces.
//
// Why not context.WithTimeout: it starts a runtime timer per round, and a
// timer due before every other one makes the runtime wake its network
// poller to re-arm it. On a quiet machine that cost 4 µs and a thread
// wake-up on the critical path of every round, twice per Redlock acquire
// and release. The watcher keeps one timer for all of a Locker's rounds
// and re-arms it only for a deadline earlier than the one it is armed
// for: under steady traffic, about once per node timeout.
//
// At the deadline, Err returns context.DeadlineExceeded and Cause
// errNodeTimeout (which wraps it); contexts derived from a round context
// then report context.Canceled with that cause, not DeadlineExceeded as
// under context.WithTimeout. The stores in this module classify both as
// store.ErrUnavailable.
type roundCtx struct {
	context.Context // context.WithCancelCause(parent)
	cancel          context.CancelCauseFunc
	deadline        time.Time
	w               *watcher
	index           int // in w's heap, -1 when not in it; guarded by w.mu
}

// errNodeTimeout is the cause of a round context ended at its deadline.
var errNodeTimeout = fmt.Errorf("locking: store call exceeded the node timeout: %w", context.DeadlineExceeded)

// Deadline returns the earlier of the node timeout's deadline and the
// parent's.
func (c *roundCtx) Deadline() (time.Time, bool) { return c.deadline, true }

// Err returns context.DeadlineExceeded once the watcher has ended the
// context at its deadline, else the cancelled context's error. The error
// and the cause are set together by the first cancellation, so Err does
// not change once it is not nil.
func (c *roundCtx) Err() error {
	err := c.Context.Err()
	if err == context.Canceled && context.Cause(c.Context) == errNodeTimeout {
		return context.DeadlineExceeded
	}
	return err
}

// stop ends the round: its context is cancelled, which frees whatever was
// derived from it, and the watcher forgets it.
func (c *roundCtx) stop() {
	if c.w != nil {
		c.w.remove(c)
	}
	c.cancel(context.Canceled)
}

// watcher cancels round contexts at their deadlines with one timer.
type watcher struct {
	mu    sync.Mutex
	due   dueHeap
	timer *time.Timer
	armed time.Time // when the timer fires; zero when it is not armed
	arms  int       // how many times the timer was armed (tests)
}

// context returns a round context under parent that ends after timeout,
// or at parent's deadline if that is earlier.
func (w *watcher) context(parent context.Context, timeout time.Duration) *roundCtx {
	c := &roundCtx{deadline: time.Now().Add(timeout), index: -1}
	c.Context, c.cancel = context.WithCancelCause(parent)
	if d, ok := parent.Deadline(); ok && !d.After(c.deadline) {
		c.deadline = d // the parent's own timer ends it
		return c
	}
	c.w = w
	w.mu.Lock()
	heap.Push(&w.due, c)
	if w.armed.IsZero() || c.deadline.Before(w.armed) {
		w.armLocked(c.deadline)
	}
	w.mu.Unlock()
	return c
}

func (w *watcher) remove(c *roundCtx) {
	w.mu.Lock()
	if c.index >= 0 {
		heap.Remove(&w.due, c.index)
	}
	// The timer stays armed: when it fires with nothing due, it re-arms
	// for the earliest deadline left, if any. A round that ends before its
	// deadline, the usual case, costs no timer update.
	w.mu.Unlock()
}

func (w *watcher) armLocked(at time.Time) {
	w.armed = at
	w.arms++
	if w.timer == nil {
		w.timer = time.AfterFunc(time.Until(at), w.fire)
		return
	}
	w.timer.Reset(time.Until(at))
}

func (w *watcher) fire() {
	now := time.Now()
	var expired []*roundCtx
	w.mu.Lock()
	w.armed = time.Time{}
	for len(w.due) > 0 && !w.due[0].deadline.After(now) {
		expired = append(expired, heap.Pop(&w.due).(*roundCtx))
	}
	if len(w.due) > 0 {
		w.armLocked(w.due[0].deadline)
	}
	w.mu.Unlock()
	for _, c := range expired {
		c.cancel(errNodeTimeout) // a no-op if stopped or cancelled already
	}
}

// dueHeap orders round contexts by deadline (container/heap).
type dueHeap []*roundCtx

func (h dueHeap) Len() int           { return len(h) }
func (h dueHeap) Less(i, j int) bool { return h[i].deadline.Before(h[j].deadline) }
func (h dueHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index = i
	h[j].index = j
}

func (h *dueHeap) Push(x any) {
	c := x.(*roundCtx)
	c.index = len(*h)
	*h = append(*h, c)
}

func (h *dueHeap) Pop() any {
	old := *h
	c := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	c.index = -1
	return c
}
