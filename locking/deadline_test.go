package locking

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rediware/rediware/store"
)

func TestRoundCtx_ends_at_its_deadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var w watcher
		start := time.Now()
		c := w.context(context.Background(), time.Second)
		child, cancel := context.WithCancel(c) // derived contexts end with it
		defer cancel()
		if d, ok := c.Deadline(); !ok || !d.Equal(start.Add(time.Second)) {
			t.Fatalf("Deadline() = %v, %v; want %v", d, ok, start.Add(time.Second))
		}
		time.Sleep(999 * time.Millisecond)
		if err := c.Err(); err != nil {
			t.Fatalf("Err() before the deadline = %v", err)
		}
		<-child.Done()
		if got := time.Since(start); got != time.Second {
			t.Fatalf("ended after %v, want 1s", got)
		}
		if err := c.Err(); err != context.DeadlineExceeded {
			t.Fatalf("Err() = %v, want DeadlineExceeded", err)
		}
		if err := context.Cause(c); err != errNodeTimeout || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Cause() = %v, want errNodeTimeout, which wraps DeadlineExceeded", err)
		}
		if !errors.Is(child.Err(), context.Canceled) || context.Cause(child) != errNodeTimeout {
			t.Fatalf("child Err() = %v, Cause() = %v", child.Err(), context.Cause(child))
		}
		// Err does not change once set: a later stop keeps the deadline's error.
		c.stop()
		if err := c.Err(); err != context.DeadlineExceeded {
			t.Fatalf("Err() after a late stop = %v, want DeadlineExceeded", err)
		}
	})
}

func TestRoundCtx_deadlines_out_of_order_each_end_on_time(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var w watcher
		start := time.Now()
		late := w.context(context.Background(), 3*time.Second)
		early := w.context(context.Background(), time.Second)
		mid := w.context(context.Background(), 2*time.Second)
		for _, c := range []struct {
			ctx  *roundCtx
			want time.Duration
		}{{early, time.Second}, {mid, 2 * time.Second}, {late, 3 * time.Second}} {
			<-c.ctx.Done()
			if got := time.Since(start); got != c.want {
				t.Fatalf("ended after %v, want %v", got, c.want)
			}
		}
		if n := len(w.due); n != 0 {
			t.Fatalf("%d contexts left in the watcher", n)
		}
	})
}

func TestRoundCtx_stop_before_the_deadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var w watcher
		c := w.context(context.Background(), time.Second)
		keep := w.context(context.Background(), 5*time.Second)
		c.stop()
		if err := c.Err(); err != context.Canceled {
			t.Fatalf("Err() after stop = %v, want Canceled", err)
		}
		if len(w.due) != 1 || w.due[0] != keep {
			t.Fatalf("watcher holds %d contexts, want only the one not stopped", len(w.due))
		}
		time.Sleep(2 * time.Second)
		if err := c.Err(); err != context.Canceled {
			t.Fatalf("Err() of a stopped context after its deadline = %v, want Canceled", err)
		}
		if keep.Err() != nil {
			t.Fatal("a context ended before its deadline")
		}
		keep.stop()
	})
}

func TestRoundCtx_parent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var w watcher
		type key struct{}
		parent, cancel := context.WithCancel(context.WithValue(context.Background(), key{}, "v"))
		c := w.context(parent, time.Second)
		if c.Value(key{}) != "v" {
			t.Fatal("the parent's values are lost")
		}
		cancel()
		<-c.Done()
		if err := c.Err(); err != context.Canceled {
			t.Fatalf("Err() after the parent's cancel = %v, want Canceled", err)
		}
		c.stop()

		// A parent deadline before the node timeout is the deadline, and
		// the parent's own timer ends the context: the watcher is not used.
		start := time.Now()
		short, cancel2 := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel2()
		c = w.context(short, time.Second)
		if d, _ := c.Deadline(); !d.Equal(start.Add(100 * time.Millisecond)) {
			t.Fatalf("Deadline() = %v, want the parent's", d)
		}
		if len(w.due) != 0 {
			t.Fatal("the watcher holds a context its parent ends")
		}
		<-c.Done()
		if err := c.Err(); err != context.DeadlineExceeded {
			t.Fatalf("Err() = %v, want the parent's DeadlineExceeded", err)
		}
	})
}

// Rounds that end before their deadline, the usual case, must not re-arm
// the watcher's timer each: that is the cost the watcher exists to avoid.
func TestWatcher_steady_rounds_rarely_arm_the_timer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var w watcher
		const rounds = 1000
		for range rounds {
			c := w.context(context.Background(), 100*time.Millisecond)
			time.Sleep(time.Millisecond) // the round's calls
			c.stop()
		}
		// 1000 rounds of 1ms span 10 node timeouts of 100ms: about one
		// arming per timeout, when the timer fires with nothing due.
		if w.arms > 12 {
			t.Fatalf("the timer was armed %d times for %d rounds", w.arms, rounds)
		}
		if len(w.due) != 0 {
			t.Fatalf("%d stopped contexts left in the watcher", len(w.due))
		}
	})
}

// testRound returns a round over n stores whose calls answer at once.
func testRound(w *watcher, n int, calls chan<- int) *round {
	r := newRound(make([]store.Store, n), w.context(context.Background(), time.Minute), func(_ context.Context, i int, _ store.Store) answer {
		calls <- i
		return answer{won: true}
	})
	return r
}

func TestWorkers_idle_workers_are_retired(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var dl watcher
		ws := &workers{jobs: make(chan nodeCall)}
		live := func() int {
			ws.mu.Lock()
			defer ws.mu.Unlock()
			return ws.live
		}
		calls := make(chan int, 16)
		r := testRound(&dl, 4, calls)
		for i := range 4 {
			ws.do(nodeCall{r, i})
		}
		for range 4 {
			<-calls
		}
		synctest.Wait()
		if n := live(); n < 1 || n > 4 {
			t.Fatalf("%d workers for 4 calls", n)
		}
		// Idle workers are reused: a call now starts no new worker.
		before := live()
		r = testRound(&dl, 1, calls)
		ws.do(nodeCall{r, 0})
		<-calls
		synctest.Wait()
		if n := live(); n != before {
			t.Fatalf("%d workers after a call with %d idle", n, before)
		}
		// Two sweeps retire every worker idle since, and the sweeps stop.
		time.Sleep(2*workerIdle + time.Second)
		synctest.Wait()
		if n := live(); n != 0 {
			t.Fatalf("%d workers still live after %v idle", n, 2*workerIdle)
		}
		// The pool starts again on demand.
		r = testRound(&dl, 2, calls)
		ws.do(nodeCall{r, 0})
		ws.do(nodeCall{r, 1})
		<-calls
		<-calls
		time.Sleep(3 * workerIdle)
		synctest.Wait()
		if n := live(); n != 0 {
			t.Fatalf("%d workers still live after the second idle spell", n)
		}
	})
}

// evalStore is a store whose Eval answers by fn (other methods are not
// used by these tests).
type evalStore struct {
	store.Store
	fn func(ctx context.Context, sc *store.Script) (any, error)
}

func (s evalStore) Eval(ctx context.Context, sc *store.Script, _ []string, _ ...any) (any, error) {
	return s.fn(ctx, sc)
}

// A store that ignores its context deadline must not hold a Redlock caller
// past the node timeout when the quorum depends on it.
func TestRedlock_Release_is_bounded_by_the_node_timeout_when_a_store_ignores_deadlines(t *testing.T) {
	ok := evalStore{fn: func(context.Context, *store.Script) (any, error) { return int64(1), nil }}
	down := evalStore{fn: func(context.Context, *store.Script) (any, error) { return nil, store.ErrUnavailable }}
	unblock := make(chan struct{})
	defer close(unblock)
	hung := evalStore{fn: func(_ context.Context, sc *store.Script) (any, error) {
		if sc == releaseScript {
			<-unblock // ignores ctx
		}
		return int64(1), nil
	}}
	lk, err := NewRedlock([]store.Store{ok, hung, down}, Options{NodeTimeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	l, err := lk.Obtain(context.Background(), "k", time.Minute, nil)
	if err != nil {
		t.Fatal(err)
	}
	begin := time.Now()
	err = l.Release(context.Background())
	took := time.Since(begin)
	if !errors.Is(err, store.ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Release = %v, want the stores' failure (the lock may still be held)", err)
	}
	if took < 100*time.Millisecond || took > 2*time.Second {
		t.Fatalf("Release took %v, want about the 100ms node timeout", took)
	}
}

// Many goroutines make and stop round contexts while the watcher expires
// others: every context ends by its deadline (with scheduling slack), the
// ones stopped first report Canceled, and the watcher keeps none.
func TestWatcher_concurrent_rounds(t *testing.T) {
	var w watcher
	const goroutines, rounds = 8, 200
	errs := make(chan error, goroutines)
	for g := range goroutines {
		go func() {
			for i := range rounds {
				timeout := time.Duration(1+(g+i)%5) * time.Millisecond
				c := w.context(context.Background(), timeout)
				if i%3 == 0 { // left to expire
					select {
					case <-c.Done():
					case <-time.After(time.Second):
						errs <- fmt.Errorf("a %v round context had not ended after 1s", timeout)
						return
					}
					if c.Err() != context.DeadlineExceeded {
						errs <- fmt.Errorf("expired round context: Err() = %v", c.Err())
						return
					}
					if d, _ := c.Deadline(); time.Now().Before(d) {
						errs <- fmt.Errorf("ended %v before its deadline", time.Until(d))
						return
					}
					c.stop()
					continue
				}
				c.stop()
				if c.Err() != context.Canceled {
					errs <- fmt.Errorf("stopped round context: Err() = %v", c.Err())
					return
				}
			}
			errs <- nil
		}()
	}
	for range goroutines {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.due) != 0 {
		t.Fatalf("%d round contexts left in the watcher", len(w.due))
	}
}
