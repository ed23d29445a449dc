package locking

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rediware/rediware/store"
)

// instantStore answers the lock scripts at once, without Redis: the
// overhead benchmarks below measure the client's own work (token, rounds,
// goroutine hand-offs, allocations), none of the network's.
type instantStore struct {
	store.Store
	n atomic.Int64
}

func (s *instantStore) Eval(_ context.Context, sc *store.Script, _ []string, _ ...any) (any, error) {
	if sc == obtainScript {
		return s.n.Add(1), nil
	}
	return int64(1), nil
}

// BenchmarkOverhead_single is an acquire and release on one instant store.
func BenchmarkOverhead_single(b *testing.B) {
	benchObtainRelease(b, New(&instantStore{}))
}

// BenchmarkOverhead_redlock3 is a Redlock acquire and release over three
// instant stores.
func BenchmarkOverhead_redlock3(b *testing.B) {
	lk, err := NewRedlock([]store.Store{&instantStore{}, &instantStore{}, &instantStore{}}, Options{})
	if err != nil {
		b.Fatal(err)
	}
	benchObtainRelease(b, lk)
}

func benchObtainRelease(b *testing.B, lk *Locker) {
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		l, err := lk.Obtain(ctx, "k", 10*time.Second, nil)
		if err != nil {
			b.Fatal(err)
		}
		if err := l.Release(ctx); err != nil {
			b.Fatal(err)
		}
	}
}
