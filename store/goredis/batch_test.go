package goredis_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rediware/rediware/internal/redistest"
	"github.com/rediware/rediware/store"
	"github.com/rediware/rediware/store/goredis"
)

// pipelineCounter counts the pipelines a client sends and their commands.
type pipelineCounter struct {
	pipelines, cmds atomic.Int64
}

func (h *pipelineCounter) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *pipelineCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return next
}
func (h *pipelineCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.pipelines.Add(1)
		h.cmds.Add(int64(len(cmds)))
		return next(ctx, cmds)
	}
}

func newAutoPipeline(t *testing.T, addr string, opts goredis.Options) (*goredis.Store, *pipelineCounter) {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr, ContextTimeoutEnabled: true, PoolSize: 64})
	h := &pipelineCounter{}
	c.AddHook(h)
	s, err := goredis.NewWithOptions(c, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close(); c.Close() })
	return s, h
}

func TestAutoPipeline_lone_caller_sends_no_pipeline(t *testing.T) {
	srv := redistest.Start(t)
	s, h := newAutoPipeline(t, srv.Addr(), goredis.Options{})
	ctx := t.Context()
	if err := s.Set(ctx, "warm", nil, time.Minute); err != nil {
		t.Fatal(err)
	}
	h.pipelines.Store(0) // the connection's handshake is one
	for i := range 50 {
		k := "k" + strconv.Itoa(i)
		if err := s.Set(ctx, k, []byte(k), time.Minute); err != nil {
			t.Fatal(err)
		}
		if v, ok, err := s.Get(ctx, k); err != nil || !ok || string(v) != k {
			t.Fatalf("Get(%s) = %q %v %v", k, v, ok, err)
		}
	}
	if n := h.pipelines.Load(); n != 0 {
		t.Fatalf("a lone caller sent %d pipelines, want every command alone", n)
	}
}

func TestAutoPipeline_concurrent_callers_share_pipelines_and_get_their_own_replies(t *testing.T) {
	srv := redistest.Start(t)
	s, h := newAutoPipeline(t, srv.Addr(), goredis.Options{AutoPipelineInFlight: 1})
	ctx := t.Context()
	const workers, each = 64, 100
	incr := store.NewScript(`return redis.call('INCRBY', KEYS[1], ARGV[1])`)
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				k := fmt.Sprintf("w%d:%d", w, i)
				v := []byte(fmt.Sprintf("value of %s", k))
				if err := s.Set(ctx, k, v, time.Minute); err != nil {
					errs <- err
					return
				}
				got, ok, err := s.Get(ctx, k)
				if err != nil || !ok || string(got) != string(v) {
					errs <- fmt.Errorf("Get(%s) = %q %v %v", k, got, ok, err)
					return
				}
				if _, ok, err := s.Get(ctx, k+":missing"); err != nil || ok {
					errs <- fmt.Errorf("Get(missing) = %v %v", ok, err)
					return
				}
				if _, err := s.Eval(ctx, incr, []string{"counter"}, w+1); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	v, _, err := s.Get(ctx, "counter")
	if err != nil {
		t.Fatal(err)
	}
	want := 0
	for w := range workers {
		want += (w + 1) * each
	}
	if string(v) != strconv.Itoa(want) {
		t.Fatalf("counter = %s, want %d: an increment was lost or doubled", v, want)
	}
	if p, c := h.pipelines.Load(), h.cmds.Load(); p == 0 || c < 2*p {
		t.Fatalf("%d pipelines carrying %d commands: concurrent callers were not batched", p, c)
	}
}

func TestAutoPipeline_reply_errors_stay_with_their_command(t *testing.T) {
	srv := redistest.Start(t)
	s, _ := newAutoPipeline(t, srv.Addr(), goredis.Options{AutoPipelineInFlight: 1})
	ctx := t.Context()
	if err := s.Set(ctx, "str", []byte("x"), time.Minute); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var bad, good atomic.Int64
	for i := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if i%2 == 0 {
				_, err := s.Do(ctx, "lpush", "str", "y") // WRONGTYPE
				if store.IsRedisError(err, "WRONGTYPE") {
					bad.Add(1)
				}
				return
			}
			if v, ok, err := s.Get(ctx, "str"); err == nil && ok && string(v) == "x" {
				good.Add(1)
			}
		}()
	}
	wg.Wait()
	if bad.Load() != 16 || good.Load() != 16 {
		t.Fatalf("WRONGTYPE replies %d (want 16), good GETs %d (want 16)", bad.Load(), good.Load())
	}
}

// TestAutoPipeline_paused_server_abandoned_commands_are_dropped: commands
// still queued when their caller's context ends are never sent, and every
// caller returns at its own deadline while the server is stuck.
func TestAutoPipeline_paused_server_abandoned_commands_are_dropped(t *testing.T) {
	srv := redistest.Start(t)
	s, _ := newAutoPipeline(t, srv.Addr(), goredis.Options{AutoPipelineInFlight: 2})
	if err := s.Set(t.Context(), "warm", []byte("1"), time.Minute); err != nil {
		t.Fatal(err)
	}
	srv.Pause()
	resumed := false
	defer func() {
		if !resumed {
			srv.Resume()
		}
	}()

	var wg sync.WaitGroup
	// Two callers take both slots and hang on the paused server.
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 600*time.Millisecond)
			defer cancel()
			_ = s.Set(ctx, fmt.Sprintf("slot%d", i), []byte("1"), time.Minute)
		}()
	}
	time.Sleep(100 * time.Millisecond) // let them take the slots
	// These queue behind them and give up first.
	const queued = 20
	late := make(chan time.Duration, queued)
	for i := range queued {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
			defer cancel()
			start := time.Now()
			err := s.Set(ctx, fmt.Sprintf("queued%d", i), []byte("1"), time.Minute)
			if !errors.Is(err, store.ErrUnavailable) {
				t.Errorf("queued Set on a paused server = %v, want ErrUnavailable", err)
			}
			late <- time.Since(start) - 100*time.Millisecond
		}()
	}
	wg.Wait()
	close(late)
	for d := range late {
		if d > 2*time.Second {
			t.Errorf("a queued caller returned %v after its deadline", d)
		}
	}
	srv.Resume()
	resumed = true

	ctx := t.Context()
	for i := range queued {
		if _, ok, err := s.Get(ctx, fmt.Sprintf("queued%d", i)); err != nil || ok {
			t.Fatalf("queued%d: found=%v err=%v: an abandoned command was sent", i, ok, err)
		}
	}
	if err := s.Set(ctx, "after", []byte("1"), time.Minute); err != nil {
		t.Fatalf("Set after Resume = %v", err)
	}
}

// TestAutoPipeline_blocking_commands_take_no_slot: BLPOP through Do never
// holds a batching slot, so other callers are not stuck behind it.
func TestAutoPipeline_blocking_commands_take_no_slot(t *testing.T) {
	srv := redistest.Start(t)
	s, _ := newAutoPipeline(t, srv.Addr(), goredis.Options{AutoPipelineInFlight: 1})
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _ = s.Do(context.Background(), "blpop", "nothing", "1")
		}()
	}
	defer wg.Wait()
	time.Sleep(100 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	if _, _, err := s.Get(ctx, "k"); err != nil {
		t.Fatalf("Get while BLPOPs wait = %v, want an answer", err)
	}
}

func TestAutoPipeline_cluster_batches_span_slots(t *testing.T) {
	cl := redistest.SharedCluster(t)
	c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: cl.Addrs(), ContextTimeoutEnabled: true})
	h := &pipelineCounter{}
	c.AddHook(h)
	s, err := goredis.NewWithOptions(c, goredis.Options{AutoPipelineInFlight: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close(); c.Close() })
	ctx := t.Context()
	var wg sync.WaitGroup
	var bad atomic.Int64
	for w := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				k := fmt.Sprintf("cl:%d:%d", w, i) // keys on every master
				if err := s.Set(ctx, k, []byte(k), time.Minute); err != nil {
					bad.Add(1)
					continue
				}
				if v, ok, err := s.Get(ctx, k); err != nil || !ok || string(v) != k {
					bad.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if bad.Load() != 0 {
		t.Fatalf("%d wrong or failed replies on Cluster", bad.Load())
	}
	if h.pipelines.Load() == 0 {
		t.Fatal("no pipeline sent: concurrent callers were not batched")
	}
}

// TestAutoPipeline_server_down_fails_fast: with nothing listening every call
// fails with ErrUnavailable, batched or not.
func TestAutoPipeline_server_down_fails_fast(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	c := redis.NewClient(&redis.Options{Addr: addr, ContextTimeoutEnabled: true, MaxRetries: -1})
	s, err := goredis.NewWithOptions(c, goredis.Options{AutoPipelineInFlight: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close(); c.Close() })
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			if _, _, err := s.Get(ctx, "k"); !errors.Is(err, store.ErrUnavailable) {
				t.Errorf("Get with the server down = %v, want ErrUnavailable", err)
			}
		}()
	}
	wg.Wait()
}
