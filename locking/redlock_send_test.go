package locking_test

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rediware/rediware/internal/redistest"
	"github.com/rediware/rediware/locking"
	"github.com/rediware/rediware/store"
)

// Tests of the Redlock rounds over store.Senders (store/redigo), which
// send to every store and read the replies in store order on one
// goroutine.

// redigoRedlock returns three servers and a Redlock over redigo stores
// that wait for an answer up to a minute, with the given node timeout.
func redigoRedlock(t *testing.T, nodeTimeout time.Duration) ([]*redistest.Server, *locking.Locker) {
	t.Helper()
	srvs := redistest.StartN(t, 3)
	stores := make([]store.Store, len(srvs))
	for i, srv := range srvs {
		s := newRedigo(t, srv, time.Minute)
		if _, ok := any(s).(store.Sender); !ok {
			t.Fatal("the redigo store is not a store.Sender")
		}
		stores[i] = s
	}
	lk, err := locking.NewRedlock(stores, locking.Options{NodeTimeout: nodeTimeout})
	if err != nil {
		t.Fatal(err)
	}
	return srvs, lk
}

// waitKey waits until the lock "job" is found (or gone) on srv.
func waitKey(t *testing.T, srv *redistest.Server, found bool) {
	t.Helper()
	s := newStore(t, srv.Addr())
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if _, f, err := s.Get(t.Context(), "{lock:job}:owner"); err == nil && f == found {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("lock key on %s: never found=%v", srv.Addr(), found)
		}
	}
}

func TestRedlock_Sender_paused_last_node_neither_stalls_Obtain_nor_Release(t *testing.T) {
	// The node timeout is a minute: Obtain and Release returning while
	// node 2 is paused shows they decided on nodes 0 and 1; the key
	// disappears from node 2 once it answers the background release.
	srvs, lk := redigoRedlock(t, time.Minute)
	srvs[2].Pause()
	defer srvs[2].Resume()
	done := make(chan error, 1)
	var l *locking.Lock
	go func() {
		var err error
		l, err = lk.Obtain(t.Context(), "job", 30*time.Second, nil)
		if err == nil {
			err = l.Release(t.Context())
		}
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Obtain or Release waited for the paused node")
	}
	waitKey(t, srvs[0], false)
	waitKey(t, srvs[1], false)
	srvs[2].Resume()
	// Node 2 ran the acquire, then the release that waited for it.
	waitKey(t, srvs[2], false)
}

func TestRedlock_Sender_paused_first_node_delays_Obtain_to_the_node_timeout(t *testing.T) {
	// The replies are read in store order: a paused node 0 holds up the
	// decision until its node timeout, after which nodes 1 and 2 make the
	// quorum.
	srvs, lk := redigoRedlock(t, 300*time.Millisecond)
	if err := newStore(t, srvs[0].Addr()).Set(t.Context(), "other", []byte("x"), 0); err != nil {
		t.Fatal(err)
	}
	srvs[0].Pause()
	start := time.Now()
	l, err := lk.Obtain(t.Context(), "job", 30*time.Second, nil)
	if err != nil {
		t.Fatalf("Obtain with node 0 paused = %v", err)
	}
	if el := time.Since(start); el < 300*time.Millisecond {
		t.Fatalf("Obtain returned after %v, before node 0's timeout: not in store order", el)
	}
	srvs[0].Resume()
	if err := l.Release(t.Context()); err != nil {
		t.Fatal(err)
	}
	for _, srv := range srvs {
		waitKey(t, srv, false)
	}
}

func TestRedlock_Sender_Obtain_is_not_refused_by_this_process_s_release_in_flight(t *testing.T) {
	srvs, lk := redigoRedlock(t, 10*time.Second)
	ctx := t.Context()
	l, err := lk.Obtain(ctx, "job", 30*time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	waitHeldEverywhere(t, srvs)
	// Node 2's release is on its way when Release returns with the quorum
	// of nodes 0 and 1.
	srvs[2].Pause()
	if err := l.Release(ctx); err != nil {
		t.Fatal(err)
	}
	// Another holder's stale key on node 0: with node 2 still held by the
	// release in flight, only node 1 is free, short of a quorum.
	if err := newStore(t, srvs[0].Addr()).Set(ctx, "{lock:job}:owner", []byte("someone else"), 30*time.Second); err != nil {
		t.Fatal(err)
	}
	time.AfterFunc(200*time.Millisecond, srvs[2].Resume)
	l2, err := lk.Obtain(ctx, "job", 30*time.Second, nil)
	if err != nil {
		t.Fatalf("Obtain after Release = %v: refused by this process's own release in flight", err)
	}
	if err := l2.Release(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestRedlock_mutual_exclusion_under_contention(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be backend) {
		srvs, _ := redlock(t, be, 3)
		// Four Lockers, each its own stores, as four processes.
		var holders, maxHolders, obtained atomic.Int64
		var wg sync.WaitGroup
		for range 4 {
			stores := make([]store.Store, len(srvs))
			for i, srv := range srvs {
				stores[i] = be.open(t, srv)
			}
			lk, err := locking.NewRedlock(stores, locking.Options{NodeTimeout: 3 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			wg.Go(func() {
				for range 25 {
					l, err := lk.Obtain(t.Context(), "job", 5*time.Second, &locking.ObtainOptions{
						Retry: locking.LinearBackoff(time.Millisecond),
					})
					if err != nil {
						t.Error(err)
						return
					}
					n := holders.Add(1)
					for m := maxHolders.Load(); n > m && !maxHolders.CompareAndSwap(m, n); m = maxHolders.Load() {
					}
					time.Sleep(100 * time.Microsecond)
					holders.Add(-1)
					obtained.Add(1)
					if err := l.Release(t.Context()); err != nil && !errors.Is(err, locking.ErrLockNotHeld) {
						t.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
		if maxHolders.Load() != 1 || obtained.Load() != 100 {
			t.Fatalf("%d acquisitions, at most %d holders at once; want 100 and 1", obtained.Load(), maxHolders.Load())
		}
	})
}
