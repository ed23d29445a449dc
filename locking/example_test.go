package locking_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/go-chi/chi/v5"
	"github.com/redis/go-redis/v9"

	"github.com/rediware/rediware/locking"
	"github.com/rediware/rediware/store"
	"github.com/rediware/rediware/store/goredis"
)

// exampleStore returns a store on an in-process miniredis, so that the
// examples run anywhere; use a real Redis in production.
func exampleStore() (store.Store, func()) {
	m, err := miniredis.Run()
	if err != nil {
		panic(err)
	}
	c := redis.NewClient(&redis.Options{Addr: m.Addr()})
	return goredis.New(c), func() { c.Close(); m.Close() }
}

func ExampleLocker_Obtain() {
	s, done := exampleStore()
	defer done()
	ctx := context.Background()
	locker := locking.New(s)

	lock, err := locker.Obtain(ctx, "invoice:42", 10*time.Second, &locking.ObtainOptions{
		Retry: locking.LimitRetry(locking.ExponentialBackoff(10*time.Millisecond, 200*time.Millisecond), 5),
	})
	if err != nil {
		fmt.Println("obtain:", err)
		return
	}
	defer lock.Release(context.WithoutCancel(ctx))

	// A second caller does not get it.
	_, err = locker.Obtain(ctx, "invoice:42", 10*time.Second, nil)
	fmt.Println("second caller:", errors.Is(err, locking.ErrNotObtained))
	fmt.Println("fenced:", lock.Fence() > 0)
	// Output:
	// second caller: true
	// fenced: true
}

func ExampleFencedSet() {
	s, done := exampleStore()
	defer done()
	ctx := context.Background()
	locker := locking.New(s)

	first, _ := locker.Obtain(ctx, "report", time.Second, nil)
	_ = first.Release(ctx) // say the lock expired during a long pause
	second, _ := locker.Obtain(ctx, "report", time.Second, nil)
	defer second.Release(ctx)

	fmt.Println(locking.FencedSet(ctx, s, "report:body", []byte("fresh"), second.Fence(), 0))
	err := locking.FencedSet(ctx, s, "report:body", []byte("stale"), first.Fence(), 0)
	fmt.Println(errors.Is(err, locking.ErrStaleFence))
	v, _, _, _ := locking.FencedGet(ctx, s, "report:body")
	fmt.Println(string(v))
	// Output:
	// <nil>
	// true
	// fresh
}

func ExampleOptimistic() {
	s, done := exampleStore()
	defer done()
	ctx := context.Background()

	incr := func(tx store.Tx) error {
		v, err := tx.Do(ctx, "GET", "visits")
		if err != nil {
			return err
		}
		str, _, _ := store.String(v)
		n, _ := strconv.Atoi(str)
		_, err = tx.Exec(ctx, []any{"SET", "visits", n + 1})
		return err
	}
	for range 3 {
		if err := locking.Optimistic(ctx, s, []string{"visits"}, incr, nil); err != nil {
			fmt.Println(err)
		}
	}
	v, _, _ := s.Get(ctx, "visits")
	fmt.Println(string(v))
	// Output: 3
}

func ExampleRouteLock() {
	s, done := exampleStore()
	defer done()

	rl := &locking.RouteLock{
		Locker: locking.New(s),
		TTL:    30 * time.Second,
		Params: []string{"id"},
	}
	r := chi.NewRouter()
	r.With(rl.Handler).Post("/invoices/{id}/pay", func(w http.ResponseWriter, req *http.Request) {
		// The lock is held while the handler runs; its fence guards writes.
		fmt.Println("fence issued:", locking.FromContext(req.Context()).Fence() > 0)

		// A second request for the same invoice meanwhile gets 409.
		w2 := httptest.NewRecorder()
		r.ServeHTTP(w2, httptest.NewRequest("POST", "/invoices/7/pay", nil))
		fmt.Println("concurrent request:", w2.Code, "Retry-After:", w2.Header().Get("Retry-After"))
	})

	w := httptest.NewRecorder()
	r.ServeHTTP(w, httptest.NewRequest("POST", "/invoices/7/pay", nil))
	fmt.Println("first request:", w.Code)
	// Output:
	// fence issued: true
	// concurrent request: 409 Retry-After: 30
	// first request: 200
}

func ExampleNewRedlock() {
	var stores []store.Store
	for range 3 { // three independent Redis deployments
		s, done := exampleStore()
		defer done()
		stores = append(stores, s)
	}
	locker, err := locking.NewRedlock(stores, locking.Options{})
	if err != nil {
		panic(err)
	}
	lock, err := locker.Obtain(context.Background(), "nightly-report", time.Minute, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer lock.Release(context.Background())
	fmt.Println("quorum:", locker.Quorum(), "valid:", time.Until(lock.ValidUntil()) > 50*time.Second)
	// Output: quorum: 2 valid: true
}
