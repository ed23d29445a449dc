package store_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/rediware/rediware/store"
)

var errDown = fmt.Errorf("dial: %w", store.ErrUnavailable)

func TestBreaker_opens_after_consecutive_failures(t *testing.T) {
	b := &store.Breaker{Failures: 3, Cooldown: time.Hour}
	for i := 0; i < 2; i++ {
		if err := b.Do(func() error { return errDown }); !errors.Is(err, errDown) {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	if b.State() != store.BreakerClosed {
		t.Fatalf("state after 2 failures = %v, want closed", b.State())
	}
	_ = b.Do(func() error { return errDown })
	if b.State() != store.BreakerOpen {
		t.Fatalf("state after 3 failures = %v, want open", b.State())
	}
	called := false
	err := b.Do(func() error { called = true; return nil })
	if called || !errors.Is(err, store.ErrCircuitOpen) || !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("open breaker: called=%v err=%v", called, err)
	}
}

func TestBreaker_success_resets_the_count(t *testing.T) {
	b := &store.Breaker{Failures: 2, Cooldown: time.Hour}
	_ = b.Do(func() error { return errDown })
	_ = b.Do(func() error { return nil })
	_ = b.Do(func() error { return errDown })
	if b.State() != store.BreakerClosed {
		t.Fatalf("failures separated by a success opened the breaker")
	}
}

func TestBreaker_only_unavailable_counts(t *testing.T) {
	b := &store.Breaker{Failures: 1, Cooldown: time.Hour}
	_ = b.Do(func() error { return &store.RedisError{Msg: "WRONGTYPE"} })
	_ = b.Do(func() error { return errors.New("caller's own error") })
	if b.State() != store.BreakerClosed {
		t.Fatal("a Redis error reply or a caller error opened the breaker")
	}
}

func TestBreaker_half_open_lets_one_trial_through(t *testing.T) {
	b := &store.Breaker{Failures: 1, Cooldown: 20 * time.Millisecond}
	_ = b.Do(func() error { return errDown })
	deadline := time.Now().Add(5 * time.Second)
	for b.State() != store.BreakerHalfOpen {
		if time.Now().After(deadline) {
			t.Fatal("breaker never became half-open")
		}
		time.Sleep(5 * time.Millisecond)
	}
	// Many callers at once: exactly one gets the trial.
	release := make(chan struct{})
	var mu sync.Mutex
	trials := 0
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = b.Do(func() error {
				mu.Lock()
				trials++
				mu.Unlock()
				<-release
				return nil
			})
		}()
	}
	time.Sleep(50 * time.Millisecond)
	close(release)
	wg.Wait()
	if trials != 1 {
		t.Fatalf("%d trial calls in half-open state, want 1", trials)
	}
	if b.State() != store.BreakerClosed {
		t.Fatalf("a successful trial left the breaker %v", b.State())
	}
}

func TestBreaker_failed_trial_reopens(t *testing.T) {
	b := &store.Breaker{Failures: 1, Cooldown: 20 * time.Millisecond}
	_ = b.Do(func() error { return errDown })
	deadline := time.Now().Add(5 * time.Second)
	for !b.Allow() {
		if time.Now().After(deadline) {
			t.Fatal("breaker never allowed a trial")
		}
		time.Sleep(5 * time.Millisecond)
	}
	b.Record(errDown)
	if b.State() != store.BreakerOpen {
		t.Fatalf("a failed trial left the breaker %v", b.State())
	}
}

func ExampleBreaker() {
	var b store.Breaker // the zero value: 5 failures open it for 1s
	for i := 0; i < 6; i++ {
		err := b.Do(func() error { return fmt.Errorf("dial tcp: %w", store.ErrUnavailable) })
		if errors.Is(err, store.ErrCircuitOpen) {
			fmt.Println("call", i, "refused without calling Redis")
		}
	}
	// Output: call 5 refused without calling Redis
}
