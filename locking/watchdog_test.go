package locking_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rediware/rediware/internal/redistest"
	"github.com/rediware/rediware/locking"
	"github.com/rediware/rediware/store"
)

// slowStore delays every Eval by delay, as a loaded Redis or machine
// would.
type slowStore struct {
	store.Store
	delay atomic.Int64
}

func (s *slowStore) Eval(ctx context.Context, sc *store.Script, keys []string, args ...any) (any, error) {
	if d := time.Duration(s.delay.Load()); d > 0 {
		select {
		case <-time.After(d):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return s.Store.Eval(ctx, sc, keys, args...)
}

func TestWatchdog_Redlock_extends_through_answers_slower_than_NodeTimeout(t *testing.T) {
	srvs := redistest.StartN(t, 3)
	slow := make([]*slowStore, len(srvs))
	stores := make([]store.Store, len(srvs))
	for i, srv := range srvs {
		slow[i] = &slowStore{Store: newStore(t, srv.Addr())}
		stores[i] = slow[i]
	}
	// The node timeout bounds acquires; answers to extensions take five
	// times as long, but far less than the lock's validity.
	lk, err := locking.NewRedlock(stores, locking.Options{NodeTimeout: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	var l *locking.Lock
	// An acquire may miss the short node timeout on a loaded machine:
	// what is tested here is the extensions, so try again.
	for deadline := time.Now().Add(10 * time.Second); l == nil; {
		l, err = lk.Obtain(t.Context(), "job", 1500*time.Millisecond, &locking.ObtainOptions{Watchdog: true})
		if err != nil && time.Now().After(deadline) {
			t.Fatal(err)
		}
	}
	for _, s := range slow {
		s.delay.Store(int64(250 * time.Millisecond))
	}
	select {
	case <-l.Context().Done():
		t.Fatalf("lock lost: %v", context.Cause(l.Context()))
	case <-time.After(4 * time.Second): // well past the 1.5s TTL
	}
	for _, s := range slow {
		s.delay.Store(0)
	}
	if err := l.Release(t.Context()); err != nil {
		t.Fatal(err)
	}
}
