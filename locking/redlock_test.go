package locking_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rediware/rediware/internal/redistest"
	"github.com/rediware/rediware/locking"
	"github.com/rediware/rediware/store"
	"github.com/rediware/rediware/store/goredis"
)

func redlock(t *testing.T, be backend, n int) ([]*redistest.Server, *locking.Locker) {
	t.Helper()
	srvs := redistest.StartN(t, n)
	stores := make([]store.Store, n)
	for i, srv := range srvs {
		stores[i] = be.open(t, srv)
	}
	// A node timeout far above the default (TTL/10), so that a machine
	// loaded by other test binaries does not fail these tests of logic
	// with a timeout. Killed nodes refuse connections at once.
	lk, err := locking.NewRedlock(stores, locking.Options{NodeTimeout: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return srvs, lk
}

func TestRedlock_excludes_a_second_holder(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be backend) {
		_, lk := redlock(t, be, 3)
		ctx := t.Context()
		if lk.Quorum() != 2 {
			t.Fatalf("quorum = %d", lk.Quorum())
		}
		l, err := lk.Obtain(ctx, "job", 5*time.Second, nil)
		if err != nil {
			t.Fatal(err)
		}
		if l.Fence() <= 0 || l.ValidUntil().Before(time.Now()) {
			t.Fatalf("fence %d, valid until %v", l.Fence(), l.ValidUntil())
		}
		if _, err := lk.Obtain(ctx, "job", 5*time.Second, nil); !errors.Is(err, locking.ErrNotObtained) {
			t.Fatalf("second Obtain = %v", err)
		}
		ttl, err := l.TTL(ctx)
		if err != nil || ttl <= 0 || ttl > 5*time.Second {
			t.Fatalf("TTL = %v, %v", ttl, err)
		}
		if err := l.Extend(ctx, 2*time.Second); err != nil {
			t.Fatal(err)
		}
		if err := l.Release(ctx); err != nil {
			t.Fatal(err)
		}
		l2, err := lk.Obtain(ctx, "job", 5*time.Second, nil)
		if err != nil {
			t.Fatalf("Obtain after Release = %v", err)
		}
		l2.Release(ctx)
	})
}

func TestRedlock_one_of_three_down_still_obtains(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be backend) {
		srvs, lk := redlock(t, be, 3)
		srvs[1].Kill()
		ctx := t.Context()
		l, err := lk.Obtain(ctx, "job", 5*time.Second, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := lk.Obtain(ctx, "job", 5*time.Second, nil); !errors.Is(err, locking.ErrNotObtained) {
			t.Fatalf("second Obtain with one node down = %v", err)
		}
		if err := l.Extend(ctx, time.Second); err != nil {
			t.Fatalf("Extend with one node down = %v", err)
		}
		if err := l.Release(ctx); err != nil {
			t.Fatalf("Release with one node down = %v", err)
		}
	})
}

func TestRedlock_two_of_three_down_fails_unavailable(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be backend) {
		srvs, lk := redlock(t, be, 3)
		srvs[0].Kill()
		srvs[2].Kill()
		_, err := lk.Obtain(t.Context(), "job", 5*time.Second, nil)
		if !errors.Is(err, store.ErrUnavailable) {
			t.Fatalf("Obtain = %v, want store.ErrUnavailable", err)
		}
		// The one live node must not keep the failed attempt's key.
		s := newStore(t, srvs[1].Addr())
		if _, found, err := s.Get(t.Context(), "{lock:job}:owner"); err != nil || found {
			t.Fatalf("leftover key on the live node: found=%v err=%v", found, err)
		}
	})
}

func TestRedlock_failed_attempt_is_undone_on_every_node(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be backend) {
		srvs, lk := redlock(t, be, 3)
		ctx := t.Context()
		// Another client holds the key on two nodes: our attempt wins one node
		// only and must release it.
		for _, i := range []int{0, 1} {
			s := newStore(t, srvs[i].Addr())
			if err := s.Set(ctx, "{lock:job}:owner", []byte("someone"), time.Minute); err != nil {
				t.Fatal(err)
			}
		}
		_, err := lk.Obtain(ctx, "job", 5*time.Second, nil)
		if !errors.Is(err, locking.ErrNotObtained) {
			t.Fatalf("Obtain = %v", err)
		}
		s := newStore(t, srvs[2].Addr())
		if _, found, _ := s.Get(ctx, "{lock:job}:owner"); found {
			t.Fatal("failed attempt left its key on node 2")
		}
	})
}

func TestRedlock_failed_attempt_is_undone_even_if_caller_context_is_cancelled(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be backend) {
		srvs, lk := redlock(t, be, 3)
		for _, i := range []int{0, 1} {
			s := newStore(t, srvs[i].Addr())
			if err := s.Set(t.Context(), "{lock:job}:owner", []byte("someone"), time.Minute); err != nil {
				t.Fatal(err)
			}
		}
		ctx, cancel := context.WithCancel(t.Context())
		_, err := lk.Obtain(ctx, "job", 5*time.Second, &locking.ObtainOptions{
			Retry: locking.RetryFunc(func(int) (time.Duration, bool) { cancel(); return time.Second, true }),
		})
		if !errors.Is(err, locking.ErrNotObtained) || !errors.Is(err, context.Canceled) {
			t.Fatalf("Obtain = %v", err)
		}
		s := newStore(t, srvs[2].Addr())
		if _, found, _ := s.Get(t.Context(), "{lock:job}:owner"); found {
			t.Fatal("failed attempt left its key on node 2")
		}
	})
}

func TestRedlock_slow_node_does_not_stall_obtain(t *testing.T) {
	// The paused node's client and the node timeout wait a minute: Obtain
	// returning while the node is still paused shows that it decided on
	// the quorum of the two others without waiting for the third.
	srvs, lk := patientRedlock(t)
	srvs[2].Pause()
	defer srvs[2].Resume()
	type result struct {
		l   *locking.Lock
		err error
	}
	done := make(chan result, 1)
	go func() {
		l, err := lk.Obtain(t.Context(), "job", 5*time.Second, nil)
		done <- result{l, err}
	}()
	var res result
	select {
	case res = <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("Obtain waited for the paused node")
	}
	if res.err != nil {
		t.Fatal(res.err)
	}
	l := res.l
	srvs[2].Resume()
	if err := l.Release(t.Context()); err != nil {
		t.Fatal(err)
	}
}

func TestNewRedlock_rejects_nil_and_empty(t *testing.T) {
	if _, err := locking.NewRedlock(nil, locking.Options{}); err == nil {
		t.Error("no stores: no error")
	}
	if _, err := locking.NewRedlock([]store.Store{nil}, locking.Options{}); err == nil {
		t.Error("nil store: no error")
	}
}

func TestRedlock_key_is_free_once_Release_returns(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be backend) {
		srvs, a := redlock(t, be, 3)
		stores := make([]store.Store, len(srvs))
		for i, srv := range srvs {
			stores[i] = newStore(t, srv.Addr())
		}
		b, err := locking.NewRedlock(stores, locking.Options{NodeTimeout: 3 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		ctx := t.Context()
		for i := range 200 { // a straggling release must not refuse the next holder
			lk := a
			if i%2 == 1 {
				lk = b
			}
			l, err := lk.Obtain(ctx, "job", 5*time.Second, nil)
			if err != nil {
				t.Fatalf("round %d: %v", i, err)
			}
			if err := l.Release(ctx); err != nil {
				t.Fatalf("round %d: Release: %v", i, err)
			}
		}
	})
}

func TestRedlock_TTL_with_one_node_down(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be backend) {
		srvs, lk := redlock(t, be, 3)
		ctx := t.Context()
		l, err := lk.Obtain(ctx, "job", 5*time.Second, nil)
		if err != nil {
			t.Fatal(err)
		}
		srvs[0].Kill()
		if ttl, err := l.TTL(ctx); err != nil || ttl <= 0 || ttl > 5*time.Second {
			t.Fatalf("TTL = %v, %v", ttl, err)
		}
		srvs[1].Kill() // no quorum left
		if _, err := l.TTL(ctx); !errors.Is(err, store.ErrUnavailable) {
			t.Fatalf("TTL with two nodes down = %v, want store.ErrUnavailable", err)
		}
		if err := l.Release(ctx); !errors.Is(err, store.ErrUnavailable) {
			t.Fatalf("Release with two nodes down = %v, want store.ErrUnavailable", err)
		}
	})
}

func TestRedlock_Extend_with_one_node_reset_and_one_hung_is_not_a_loss(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be backend) {
		srvs, lk := redlock(t, be, 3)
		ctx := t.Context()
		l, err := lk.Obtain(ctx, "job", 10*time.Second, nil)
		if err != nil {
			t.Fatal(err)
		}
		waitHeldEverywhere(t, srvs)
		// Node 0 lost its data (a restart without persistence), node 1 hangs,
		// node 2 still holds the lock: nodes 1 and 2 may well still be a
		// quorum, so the lock is not known to be lost.
		if _, err := newStore(t, srvs[0].Addr()).Delete(ctx, "{lock:job}:owner"); err != nil {
			t.Fatal(err)
		}
		srvs[1].Pause()
		defer srvs[1].Resume()
		ectx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		defer cancel()
		err = l.Extend(ectx, 10*time.Second)
		if errors.Is(err, locking.ErrLockNotHeld) || !errors.Is(err, store.ErrUnavailable) {
			t.Fatalf("Extend = %v, want store.ErrUnavailable, not ErrLockNotHeld", err)
		}
		if l.Context().Err() != nil {
			t.Fatalf("lock context cancelled: %v", context.Cause(l.Context()))
		}
		srvs[1].Resume()
		if err := l.Extend(ctx, 10*time.Second); err != nil { // nodes 1 and 2
			t.Fatalf("Extend once node 1 answers = %v", err)
		}
		if err := l.Release(ctx); err != nil {
			t.Fatal(err)
		}
	})
}

func TestRedlock_Extend_on_two_reset_nodes_is_a_loss(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be backend) {
		srvs, lk := redlock(t, be, 3)
		ctx := t.Context()
		l, err := lk.Obtain(ctx, "job", 10*time.Second, nil)
		if err != nil {
			t.Fatal(err)
		}
		waitHeldEverywhere(t, srvs)
		for _, i := range []int{0, 1} {
			if _, err := newStore(t, srvs[i].Addr()).Delete(ctx, "{lock:job}:owner"); err != nil {
				t.Fatal(err)
			}
		}
		srvs[2].Pause() // its answer cannot change the outcome
		defer srvs[2].Resume()
		if err := l.Extend(ctx, 10*time.Second); !errors.Is(err, locking.ErrLockNotHeld) {
			t.Fatalf("Extend = %v, want ErrLockNotHeld", err)
		}
		if !errors.Is(context.Cause(l.Context()), locking.ErrLockNotHeld) {
			t.Fatalf("lock context cause = %v", context.Cause(l.Context()))
		}
	})
}

func TestRedlock_TTL_and_Extend_wait_for_a_straggling_acquire(t *testing.T) {
	srvs := redistest.StartN(t, 3)
	slow := make([]*slowStore, len(srvs))
	stores := make([]store.Store, len(srvs))
	for i, srv := range srvs {
		slow[i] = &slowStore{Store: newStore(t, srv.Addr())}
		stores[i] = slow[i]
	}
	lk, err := locking.NewRedlock(stores, locking.Options{NodeTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	// Node 2's acquire is still on its way when Obtain returns with the
	// quorum of nodes 0 and 1.
	slow[2].delay.Store(int64(300 * time.Millisecond))
	l, err := lk.Obtain(ctx, "job", 10*time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	slow[2].delay.Store(0) // later calls to node 2 overtake the acquire
	srvs[0].Kill()
	if ttl, err := l.TTL(ctx); err != nil || ttl <= 0 {
		t.Fatalf("TTL = %v, %v: node 2's answer came before its acquire landed", ttl, err)
	}
	if err := l.Extend(ctx, 10*time.Second); err != nil {
		t.Fatalf("Extend = %v", err)
	}
	if err := l.Release(ctx); err != nil {
		t.Fatal(err)
	}
}

// waitHeldEverywhere waits until the lock "job" is set on every server:
// Obtain returns with a quorum, and the last acquire may land later (and
// undo a deletion the test makes to simulate a reset node).
func waitHeldEverywhere(t *testing.T, srvs []*redistest.Server) {
	t.Helper()
	for _, srv := range srvs {
		s := newStore(t, srv.Addr())
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
			if _, found, err := s.Get(t.Context(), "{lock:job}:owner"); err == nil && found {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("lock not set on %s", srv.Addr())
			}
		}
	}
}

func TestRedlock_Release_returns_once_a_quorum_confirmed_and_finishes_in_the_background(t *testing.T) {
	// The paused node's client and the node timeout wait a minute: Release
	// returning while the node is paused shows that it returned with the
	// quorum of the two others; the key then disappears from the paused
	// node too once it answers.
	srvs, lk := patientRedlock(t)
	ctx := t.Context()
	l, err := lk.Obtain(ctx, "job", 30*time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	waitHeldEverywhere(t, srvs)
	srvs[2].Pause()
	defer srvs[2].Resume()
	done := make(chan error, 1)
	go func() { done <- l.Release(ctx) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Release = %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Release waited for the paused node")
	}
	for _, srv := range srvs[:2] {
		if _, found, err := newStore(t, srv.Addr()).Get(ctx, "{lock:job}:owner"); err != nil || found {
			t.Fatalf("%s after Release: found %v, %v", srv.Addr(), found, err)
		}
	}
	srvs[2].Resume()
	waitGone(t, newStore(t, srvs[2].Addr()), "{lock:job}:owner") // the background release reached it
}

func TestRedlock_Obtain_is_not_refused_by_this_process_s_release_in_flight(t *testing.T) {
	srvs := redistest.StartN(t, 3)
	slow := make([]*slowStore, len(srvs))
	stores := make([]store.Store, len(srvs))
	for i, srv := range srvs {
		slow[i] = &slowStore{Store: newStore(t, srv.Addr())}
		stores[i] = slow[i]
	}
	lk, err := locking.NewRedlock(stores, locking.Options{NodeTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	l, err := lk.Obtain(ctx, "job", 30*time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	waitHeldEverywhere(t, srvs)
	// Node 1's release is on its way when Release returns with the quorum
	// of nodes 0 and 2.
	slow[1].delay.Store(int64(300 * time.Millisecond))
	if err := l.Release(ctx); err != nil {
		t.Fatal(err)
	}
	slow[1].delay.Store(0)
	// Another holder's stale key on node 0: with node 1 still held by the
	// release in flight, only node 2 is free, short of a quorum.
	if err := newStore(t, srvs[0].Addr()).Set(ctx, "{lock:job}:owner", []byte("someone else"), 30*time.Second); err != nil {
		t.Fatal(err)
	}
	l2, err := lk.Obtain(ctx, "job", 30*time.Second, nil)
	if err != nil {
		t.Fatalf("Obtain after Release = %v: refused by this process's own release in flight", err)
	}
	if err := l2.Release(ctx); err != nil {
		t.Fatal(err)
	}
}

// patientRedlock starts three servers and returns a Redlock over them whose
// clients and node timeout wait a minute: a call that returns while a
// server is paused shows that it decided without that server.
func patientRedlock(t *testing.T) ([]*redistest.Server, *locking.Locker) {
	t.Helper()
	srvs := redistest.StartN(t, 3)
	stores := make([]store.Store, len(srvs))
	for i, srv := range srvs {
		c := redis.NewClient(&redis.Options{Addr: srv.Addr(), MaxRetries: -1, ReadTimeout: time.Minute, WriteTimeout: time.Minute})
		t.Cleanup(func() { c.Close() })
		stores[i] = goredis.New(c)
	}
	lk, err := locking.NewRedlock(stores, locking.Options{NodeTimeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	return srvs, lk
}
