package locking_test

import (
	"context"
	"errors"
	"math"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rediware/rediware/locking"
	"github.com/rediware/rediware/store"
)

func TestObtain_fences_grow_for_each_acquisition(t *testing.T) {
	_, s := server(t)
	lk := locking.New(s)
	ctx := t.Context()
	var last int64
	for i := range 5 {
		l, err := lk.Obtain(ctx, "job", time.Second, nil)
		if err != nil {
			t.Fatal(err)
		}
		if l.Fence() <= last {
			t.Fatalf("acquisition %d: fence %d not above %d", i, l.Fence(), last)
		}
		last = l.Fence()
		if err := l.Release(ctx); err != nil {
			t.Fatal(err)
		}
	}
}

func TestObtain_fence_keeps_growing_after_redis_lost_its_data(t *testing.T) {
	srv, s := server(t)
	lk := locking.New(s)
	ctx := t.Context()
	l, err := lk.Obtain(ctx, "job", time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	before := l.Fence()
	srv.Restart() // same port, empty data set: the fence counter is gone
	l2, err := lk.Obtain(ctx, "job", time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	if l2.Fence() <= before {
		t.Fatalf("fence after data loss %d, want > %d", l2.Fence(), before)
	}
}

func TestObtain_held_lock_is_ErrNotObtained_with_holder_TTL(t *testing.T) {
	_, s := server(t)
	lk := locking.New(s)
	ctx := t.Context()
	l, err := lk.Obtain(ctx, "job", 5*time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release(ctx)
	_, err = lk.Obtain(ctx, "job", time.Second, nil)
	if !errors.Is(err, locking.ErrNotObtained) {
		t.Fatalf("err = %v, want ErrNotObtained", err)
	}
	var ne *locking.NotObtainedError
	// The holder's TTL as seen: at most the 5s, less the time since (a
	// loaded machine may take a while).
	if !errors.As(err, &ne) || ne.HolderTTL < 2*time.Second || ne.HolderTTL > 5*time.Second || ne.Attempts != 1 {
		t.Fatalf("err = %#v", err)
	}
}

func TestObtain_retry_succeeds_once_released(t *testing.T) {
	_, s := server(t)
	lk := locking.New(s)
	ctx := t.Context()
	l, err := lk.Obtain(ctx, "job", 5*time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	time.AfterFunc(50*time.Millisecond, func() { l.Release(context.Background()) })
	wctx, cancel := context.WithTimeout(ctx, 20*time.Second) // far more than a loaded machine needs
	defer cancel()
	l2, err := lk.Obtain(wctx, "job", time.Second, &locking.ObtainOptions{
		Retry: locking.LinearBackoff(10 * time.Millisecond),
	})
	if err != nil {
		t.Fatal(err)
	}
	if l2.Fence() <= l.Fence() {
		t.Fatalf("fence %d after %d", l2.Fence(), l.Fence())
	}
}

func TestObtain_retry_stops_at_context_deadline(t *testing.T) {
	_, s := server(t)
	lk := locking.New(s)
	l, err := lk.Obtain(t.Context(), "job", 5*time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release(context.Background())
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Millisecond)
	defer cancel()
	begin := time.Now()
	_, err = lk.Obtain(ctx, "job", time.Second, &locking.ObtainOptions{Retry: locking.LinearBackoff(5 * time.Millisecond)})
	if !errors.Is(err, locking.ErrNotObtained) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want ErrNotObtained and DeadlineExceeded", err)
	}
	if d := time.Since(begin); d > 10*time.Second { // not the 5s TTL nor forever
		t.Fatalf("returned after %v", d)
	}
}

func TestObtain_Redis_down_is_ErrUnavailable(t *testing.T) {
	srv, s := server(t)
	srv.Kill()
	_, err := locking.New(s).Obtain(t.Context(), "job", time.Second, nil)
	if !errors.Is(err, store.ErrUnavailable) || errors.Is(err, locking.ErrNotObtained) {
		t.Fatalf("err = %v, want store.ErrUnavailable", err)
	}
}

func TestObtain_rejects_bad_arguments(t *testing.T) {
	_, s := server(t)
	lk := locking.New(s)
	if _, err := lk.Obtain(t.Context(), "", time.Second, nil); !errors.Is(err, store.ErrInvalidKey) {
		t.Errorf("empty key: %v", err)
	}
	if _, err := lk.Obtain(t.Context(), "k", 0, nil); !errors.Is(err, store.ErrInvalidTTL) {
		t.Errorf("zero ttl: %v", err)
	}
}

func TestLock_token_and_metadata(t *testing.T) {
	_, s := server(t)
	l, err := locking.New(s).Obtain(t.Context(), "job", time.Second, &locking.ObtainOptions{Metadata: "host-a"})
	if err != nil {
		t.Fatal(err)
	}
	v, _, _ := s.Get(t.Context(), "{lock:job}:owner")
	if len(l.Token()) < 22 || l.Metadata() != "host-a" || string(v) != l.Token()+"host-a" || l.Key() != "job" {
		t.Fatalf("token %q metadata %q stored %q", l.Token(), l.Metadata(), v)
	}
}

func TestLock_mutual_exclusion_across_clients(t *testing.T) {
	srv, _ := server(t)
	const clients, workers, rounds = 4, 4, 25
	var inside, overlaps atomic.Int32
	var wg sync.WaitGroup
	for c := range clients {
		// Half the clients on go-redis, half on redigo.
		var s store.Store = newStore(t, srv.Addr())
		if c%2 == 1 {
			s = newRedigoStore(t, srv.Addr())
		}
		lk := locking.New(s)
		for range workers {
			wg.Go(func() {
				ctx := context.Background()
				opts := &locking.ObtainOptions{Retry: locking.ExponentialBackoff(time.Millisecond, 8*time.Millisecond)}
				for range rounds {
					// Released explicitly: the long TTL only keeps a holder
					// descheduled on a loaded machine from losing the lock.
					l, err := lk.Obtain(ctx, "counter", 10*time.Second, opts)
					if err != nil {
						t.Error(err)
						return
					}
					if inside.Add(1) != 1 {
						overlaps.Add(1)
					}
					// A read-modify-write that is not atomic in Redis.
					v, _, err := s.Get(ctx, "counter")
					if err != nil {
						t.Error(err)
					}
					n, _ := strconv.Atoi(string(v))
					if err := s.Set(ctx, "counter", []byte(strconv.Itoa(n+1)), 0); err != nil {
						t.Error(err)
					}
					inside.Add(-1)
					if err := l.Release(ctx); err != nil {
						t.Error(err)
					}
				}
			})
		}
	}
	wg.Wait()
	check := newStore(t, srv.Addr())
	v, _, err := check.Get(t.Context(), "counter")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(v), strconv.Itoa(clients*workers*rounds); got != want || overlaps.Load() != 0 {
		t.Fatalf("counter = %s, want %s; %d overlapping holders", got, want, overlaps.Load())
	}
}

func TestLock_Release_after_expiry_is_ErrLockNotHeld(t *testing.T) {
	_, s := server(t)
	l, err := locking.New(s).Obtain(t.Context(), "job", 300*time.Millisecond, nil)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-l.Context().Done():
	case <-time.After(10 * time.Second):
		t.Fatal("lock context not cancelled after the TTL")
	}
	if err := context.Cause(l.Context()); !errors.Is(err, locking.ErrLockNotHeld) {
		t.Fatalf("cause = %v", err)
	}
	// The context ends before Redis expires the key (the validity is
	// counted from before the request was sent, minus drift).
	waitGone(t, s, "{lock:job}:owner")
	if err := l.Release(t.Context()); !errors.Is(err, locking.ErrLockNotHeld) {
		t.Fatalf("Release = %v, want ErrLockNotHeld", err)
	}
}

func TestLock_Release_does_not_delete_the_next_holders_lock(t *testing.T) {
	_, s := server(t)
	lk := locking.New(s)
	ctx := t.Context()
	a, err := lk.Obtain(ctx, "job", 300*time.Millisecond, nil)
	if err != nil {
		t.Fatal(err)
	}
	waitGone(t, s, "{lock:job}:owner")
	b, err := lk.Obtain(ctx, "job", time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Release(ctx); !errors.Is(err, locking.ErrLockNotHeld) {
		t.Fatalf("stale Release = %v", err)
	}
	if err := a.Extend(ctx, time.Second); !errors.Is(err, locking.ErrLockNotHeld) {
		t.Fatalf("stale Extend = %v", err)
	}
	if ttl, err := b.TTL(ctx); err != nil || ttl <= 0 {
		t.Fatalf("new holder TTL = %v, %v", ttl, err)
	}
}

func TestLock_Extend_moves_TTL_and_validity(t *testing.T) {
	_, s := server(t)
	ctx := t.Context()
	l, err := locking.New(s).Obtain(ctx, "job", time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	before := l.ValidUntil()
	if err := l.Extend(ctx, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	ttl, err := l.TTL(ctx)
	if err != nil || ttl < 4*time.Second {
		t.Fatalf("TTL = %v, %v", ttl, err)
	}
	if !l.ValidUntil().After(before.Add(time.Second)) {
		t.Fatalf("validity %v not moved past %v", l.ValidUntil(), before)
	}
	time.Sleep(time.Until(before) + 200*time.Millisecond) // past the first validity
	if l.Context().Err() != nil {
		t.Fatal("context cancelled although the lock was extended")
	}
	if err := l.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := l.TTL(ctx); !errors.Is(err, locking.ErrLockNotHeld) {
		t.Fatalf("TTL after release = %v", err)
	}
	if err := l.Release(ctx); !errors.Is(err, locking.ErrLockNotHeld) {
		t.Fatalf("second Release = %v", err)
	}
}

func TestWatchdog_keeps_the_lock_past_its_TTL(t *testing.T) {
	_, s := server(t)
	ctx := t.Context()
	lk := locking.New(s)
	l, err := lk.Obtain(ctx, "job", time.Second, &locking.ObtainOptions{Watchdog: true})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(2500 * time.Millisecond) // two and a half TTLs
	if err := l.Context().Err(); err != nil {
		t.Fatalf("context ended: %v", context.Cause(l.Context()))
	}
	if _, err := lk.Obtain(ctx, "job", time.Second, nil); !errors.Is(err, locking.ErrNotObtained) {
		t.Fatalf("second Obtain = %v, want ErrNotObtained", err)
	}
	if err := l.Release(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestWatchdog_cancels_context_when_lock_is_lost(t *testing.T) {
	_, s := server(t)
	ctx := t.Context()
	// The watchdog's first extension, after TTL/3 = 1.5s, finds the lock
	// gone; the validity alone would end the context only after 4.5s.
	l, err := locking.New(s).Obtain(ctx, "job", 4500*time.Millisecond, &locking.ObtainOptions{Watchdog: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Delete(ctx, "{lock:job}:owner"); err != nil { // an operator, or a takeover
		t.Fatal(err)
	}
	select {
	case <-l.Context().Done():
	case <-time.After(4 * time.Second): // before the validity ends
		t.Fatal("watchdog did not notice the lost lock")
	}
	if err := context.Cause(l.Context()); !errors.Is(err, locking.ErrLockNotHeld) {
		t.Fatalf("cause = %v", err)
	}
}

func TestWatchdog_stops_at_MaxHold(t *testing.T) {
	_, s := server(t)
	begin := time.Now()
	l, err := locking.New(s).Obtain(t.Context(), "job", 600*time.Millisecond, &locking.ObtainOptions{Watchdog: true, MaxHold: 1500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-l.Context().Done():
	case <-time.After(10 * time.Second):
		t.Fatal("lock held past MaxHold")
	}
	if d := time.Since(begin); d < 1450*time.Millisecond { // MaxHold less drift
		t.Fatalf("context ended after %v, before MaxHold", d)
	}
	if err := context.Cause(l.Context()); !errors.Is(err, locking.ErrLockNotHeld) {
		t.Fatalf("cause = %v", err)
	}
}

func TestWatchdog_survives_a_short_outage(t *testing.T) {
	srv, s := server(t)
	l, err := locking.New(s).Obtain(t.Context(), "job", 1500*time.Millisecond, &locking.ObtainOptions{Watchdog: true})
	if err != nil {
		t.Fatal(err)
	}
	srv.Pause() // the extension due at 500ms waits for Redis
	time.Sleep(600 * time.Millisecond)
	srv.Resume()
	time.Sleep(1200 * time.Millisecond) // past the first validity
	if err := l.Context().Err(); err != nil {
		t.Fatalf("context ended: %v", context.Cause(l.Context()))
	}
	if err := l.Release(t.Context()); err != nil {
		t.Fatal(err)
	}
}

// waitGone waits until Redis has expired key.
func waitGone(t *testing.T, s store.Store, key string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if _, found, err := s.TTL(t.Context(), key); err == nil && !found {
			return
		}
	}
	t.Fatalf("%s did not expire", key)
}

func TestObtain_fence_counter_expires_and_fences_keep_growing(t *testing.T) {
	_, s := server(t)
	lk, err := locking.NewWithOptions(s, locking.Options{FenceTTL: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	l, err := lk.Obtain(ctx, "job", time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Release(ctx); err != nil {
		t.Fatal(err)
	}
	waitGone(t, s, "{lock:job}:fence") // an idle lock leaves nothing behind
	l2, err := lk.Obtain(ctx, "job", time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	if l2.Fence() <= l.Fence() {
		t.Fatalf("fence after the counter expired %d, want > %d", l2.Fence(), l.Fence())
	}
}

type ctxKey struct{}

func TestLock_Context_keeps_values_but_not_cancellation_of_Obtain_context(t *testing.T) {
	_, s := server(t)
	ctx, cancel := context.WithCancel(context.WithValue(t.Context(), ctxKey{}, "v"))
	l, err := locking.New(s).Obtain(ctx, "job", time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	if l.Context().Value(ctxKey{}) != "v" {
		t.Fatal("value of the Obtain context lost")
	}
	if l.Context().Err() != nil {
		t.Fatal("lock context cancelled with the Obtain context")
	}
	if err := l.Release(t.Context()); err != nil {
		t.Fatal(err)
	}
	if !errors.Is(context.Cause(l.Context()), locking.ErrLockNotHeld) {
		t.Fatalf("cause after Release = %v", context.Cause(l.Context()))
	}
}

func TestLock_Extend_after_the_validity_elapsed_is_ErrLockNotHeld(t *testing.T) {
	_, s := server(t)
	// A large drift allowance: the validity ends long before Redis expires
	// the key, so the key is still there when Extend is called.
	lk, err := locking.NewWithOptions(s, locking.Options{DriftFactor: 0.9})
	if err != nil {
		t.Fatal(err)
	}
	l, err := lk.Obtain(t.Context(), "job", 5*time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-l.Context().Done():
	case <-time.After(5 * time.Second):
		t.Fatal("lock context not cancelled after the validity")
	}
	if err := l.Extend(t.Context(), 5*time.Second); !errors.Is(err, locking.ErrLockNotHeld) {
		t.Fatalf("Extend of a lost lock = %v, want ErrLockNotHeld (its context stays cancelled)", err)
	}
}

func TestNewWithOptions_rejects_a_DriftFactor_of_one_or_more(t *testing.T) {
	_, s := server(t)
	for _, f := range []float64{1, 1.5, math.NaN(), math.Inf(1)} {
		if _, err := locking.NewWithOptions(s, locking.Options{DriftFactor: f}); err == nil {
			t.Errorf("DriftFactor %v: no error (every Obtain would fail)", f)
		}
		if _, err := locking.NewRedlock([]store.Store{s}, locking.Options{DriftFactor: f}); err == nil {
			t.Errorf("Redlock DriftFactor %v: no error", f)
		}
	}
}
