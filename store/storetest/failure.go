package storetest

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rediware/rediware/store"
)

var failureTests = []subtest{
	{"ServerDown", testServerDown},
	{"KilledMidCall", testKilledMidCall},
	{"Paused", testPaused},
	{"SubscriptionReconnects", testSubscriptionReconnects},
}

// slack is how late past its context deadline a call may return: enough
// for a heavily loaded test machine running -race, and well under the 3s
// read timeout that a client ignoring the deadline would wait for.
const slack = 2 * time.Second

func (r *runner) needServer(t *testing.T, kill, restart, pause bool) Server {
	t.Helper()
	h := r.cfg.server
	if (kill && h.Kill == nil) || (restart && h.Restart == nil) || (pause && (h.Pause == nil || h.Resume == nil)) {
		t.Skip("needs server hooks (WithServer) that were not given")
	}
	return h
}

// timed runs call with a timeout context and checks it returned no later
// than the deadline plus slack.
func timed(t *testing.T, name string, timeout time.Duration, call func(ctx context.Context) error) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	start := time.Now()
	err := call(ctx)
	if el := time.Since(start); el > timeout+slack {
		t.Errorf("%s returned %v after its %v deadline", name, el-timeout, timeout)
	}
	return err
}

// eventually retries call until it succeeds, failing the test after wait.
func eventually(t *testing.T, what string, wait time.Duration, call func(ctx context.Context) error) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := call(ctx)
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s still failing after %v: %v", what, wait, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func testServerDown(t *testing.T, r *runner) {
	h := r.needServer(t, true, true, false)
	s, p := r.store(t)
	mustSet(t, s, p+"k", []byte("v"), 0) // a pooled connection exists
	h.Kill()
	restarted := false
	defer func() {
		if !restarted {
			h.Restart()
		}
	}()
	// All at once: a client may spend the whole deadline retrying its dial.
	var wg sync.WaitGroup
	for name := range calls(s, p, context.Background()) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := timed(t, name, 500*time.Millisecond, func(ctx context.Context) error {
				return calls(s, p, ctx)[name]()
			})
			if !errors.Is(err, store.ErrUnavailable) {
				t.Errorf("%s with the server down: %v, want ErrUnavailable", name, err)
			}
		}()
	}
	wg.Wait()
	h.Restart()
	restarted = true
	eventually(t, "Set after Restart", 5*time.Second, func(ctx context.Context) error {
		return s.Set(ctx, p+"k", []byte("back"), 0)
	})
	if v, _ := mustGet(t, s, p+"k"); string(v) != "back" {
		t.Fatalf("Get after Restart = %q", v)
	}
}

func testKilledMidCall(t *testing.T, r *runner) {
	h := r.needServer(t, true, true, false)
	s, p := r.store(t)
	const workers = 8
	var (
		wg                 sync.WaitGroup
		stop               atomic.Bool
		ok, unavail, other atomic.Int64
		mu                 sync.Mutex
		firstOther         error
	)
	sc := store.NewScript("return redis.call('INCR', KEYS[1])")
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; !stop.Load(); i++ {
				err := timed(t, "call during Kill", 300*time.Millisecond, func(ctx context.Context) error {
					switch (w + i) % 3 {
					case 0:
						return s.Set(ctx, p+"k", []byte("v"), time.Minute)
					case 1:
						_, _, err := s.Get(ctx, p+"k")
						return err
					default:
						_, err := s.Eval(ctx, sc, []string{p + "n"})
						return err
					}
				})
				switch {
				case err == nil:
					ok.Add(1)
				case errors.Is(err, store.ErrUnavailable):
					unavail.Add(1)
				default:
					other.Add(1)
					mu.Lock()
					if firstOther == nil {
						firstOther = err
					}
					mu.Unlock()
				}
			}
		}()
	}
	time.Sleep(100 * time.Millisecond)
	h.Kill()
	time.Sleep(300 * time.Millisecond)
	h.Restart()
	time.Sleep(300 * time.Millisecond)
	stop.Store(true)
	wg.Wait()
	if other.Load() > 0 {
		t.Fatalf("%d calls failed with an error that is not ErrUnavailable, first: %v", other.Load(), firstOther)
	}
	if unavail.Load() == 0 {
		t.Fatalf("no call saw ErrUnavailable while the server was killed (%d succeeded)", ok.Load())
	}
	eventually(t, "Set after Restart", 5*time.Second, func(ctx context.Context) error {
		return s.Set(ctx, p+"k", []byte("v"), 0)
	})
	t.Logf("%d calls succeeded, %d were ErrUnavailable", ok.Load(), unavail.Load())
}

func testPaused(t *testing.T, r *runner) {
	h := r.needServer(t, false, false, true)
	s, p := r.store(t)
	mustSet(t, s, p+"k", []byte("v"), 0)
	h.Pause()
	resumed := false
	defer func() {
		if !resumed {
			h.Resume()
		}
	}()
	for _, name := range []string{"Get", "Set", "Eval", "Publish", "Subscribe"} {
		err := timed(t, name, 200*time.Millisecond, func(ctx context.Context) error {
			return calls(s, p, ctx)[name]()
		})
		if !errors.Is(err, store.ErrUnavailable) {
			t.Errorf("%s on a paused server: %v, want ErrUnavailable", name, err)
		}
	}
	h.Resume()
	resumed = true
	eventually(t, "Get after Resume", 5*time.Second, func(ctx context.Context) error {
		_, _, err := s.Get(ctx, p+"k")
		return err
	})
}

func testSubscriptionReconnects(t *testing.T, r *runner) {
	h := r.needServer(t, true, true, false)
	s, p := r.store(t)
	sub, err := s.Subscribe(t.Context(), []string{p + "ch"}, []string{p + "pat.*"})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	mustPublish(t, s, p+"ch", "before")
	if m := receive(t, sub, 5*time.Second); m.Kind != store.Published || string(m.Payload) != "before" {
		t.Fatalf("message = %+v", m)
	}
	h.Kill()
	h.Restart()
	m := receive(t, sub, 15*time.Second)
	if m.Kind != store.Reconnected {
		t.Fatalf("first message after a restart = %+v, want Reconnected", m)
	}
	if m.Kind.String() != "reconnected" {
		t.Fatalf("Reconnected.String() = %q", m.Kind.String())
	}
	// Reconnected comes after the subscriptions are confirmed again, so
	// these are delivered (Publish itself may meet a stale connection).
	eventually(t, "Publish after Restart", 5*time.Second, func(ctx context.Context) error {
		_, err := s.Publish(ctx, p+"ch", []byte("after"))
		return err
	})
	if m := receivePublished(t, sub, 5*time.Second); m.Channel != p+"ch" || string(m.Payload) != "after" {
		t.Fatalf("message after Reconnected = %+v", m)
	}
	eventually(t, "Publish to the pattern", 5*time.Second, func(ctx context.Context) error {
		_, err := s.Publish(ctx, p+"pat.x", []byte("p"))
		return err
	})
	if m := receivePublished(t, sub, 5*time.Second); m.Pattern != p+"pat.*" {
		t.Fatalf("pattern message after Reconnected = %+v", m)
	}
}
