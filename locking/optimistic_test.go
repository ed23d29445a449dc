package locking_test

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/gomodule/redigo/redis"

	"github.com/rediware/rediware/locking"
	"github.com/rediware/rediware/store"
	"github.com/rediware/rediware/store/redigo"
)

func newRedigoStore(t *testing.T, addr string) store.Store {
	t.Helper()
	pool := &redis.Pool{
		MaxIdle: 8,
		Dial: func() (redis.Conn, error) {
			return redis.Dial("tcp", addr, redis.DialConnectTimeout(200*time.Millisecond))
		},
	}
	t.Cleanup(func() { pool.Close() })
	return redigo.New(pool)
}

// increment adds 1 to key with GET + MULTI/SET/EXEC, correct only if the
// transaction is retried on conflicts.
func increment(key string) func(tx store.Tx) error {
	return func(tx store.Tx) error {
		ctx := context.Background()
		v, err := tx.Do(ctx, "GET", key)
		if err != nil {
			return err
		}
		s, _, err := store.String(v)
		if err != nil {
			return err
		}
		n, _ := strconv.Atoi(s)
		_, err = tx.Exec(ctx, []any{"SET", key, n + 1})
		return err
	}
}

func TestOptimistic_contending_writers_lose_no_increment(t *testing.T) {
	srv, _ := server(t)
	stores := []store.Store{
		newStore(t, srv.Addr()), newStore(t, srv.Addr()),
		newRedigoStore(t, srv.Addr()), newRedigoStore(t, srv.Addr()),
	}
	const workers, rounds = 3, 20
	var wg sync.WaitGroup
	for _, s := range stores {
		for range workers {
			wg.Go(func() {
				for range rounds {
					err := locking.Optimistic(context.Background(), s, []string{"n"}, increment("n"),
						&locking.OptimisticOptions{MaxRetries: 1000})
					if err != nil {
						t.Error(err)
						return
					}
				}
			})
		}
	}
	wg.Wait()
	v, _, err := stores[0].Get(t.Context(), "n")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(v), strconv.Itoa(len(stores)*workers*rounds); got != want {
		t.Fatalf("n = %s, want %s", got, want)
	}
}

func TestOptimistic_gives_up_after_MaxRetries(t *testing.T) {
	_, s := server(t)
	ctx := t.Context()
	attempts := 0
	err := locking.Optimistic(ctx, s, []string{"n"}, func(tx store.Tx) error {
		attempts++
		// Another writer changes the watched key before every EXEC.
		if err := s.Set(ctx, "n", []byte(strconv.Itoa(attempts)), 0); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, []any{"SET", "n", "mine"})
		return err
	}, &locking.OptimisticOptions{MaxRetries: 2, Backoff: locking.LinearBackoff(time.Millisecond)})
	if !errors.Is(err, locking.ErrTooManyConflicts) || !errors.Is(err, store.ErrTxConflict) {
		t.Fatalf("err = %v", err)
	}
	if attempts != 3 {
		t.Fatalf("attempts = %d, want 3", attempts)
	}
}

func TestOptimistic_returns_fn_error_without_retry(t *testing.T) {
	_, s := server(t)
	boom := errors.New("boom")
	calls := 0
	err := locking.Optimistic(t.Context(), s, []string{"n"}, func(store.Tx) error { calls++; return boom }, nil)
	if !errors.Is(err, boom) || calls != 1 {
		t.Fatalf("err = %v after %d calls", err, calls)
	}
}

// bare hides the optional powers of a Store.
type bare struct{ store.Store }

func TestOptimistic_store_without_Watcher_is_ErrUnsupported(t *testing.T) {
	_, s := server(t)
	err := locking.Optimistic(t.Context(), bare{s}, []string{"n"}, increment("n"), nil)
	if !errors.Is(err, errors.ErrUnsupported) {
		t.Fatalf("err = %v", err)
	}
}
