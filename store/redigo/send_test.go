package redigo_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/rediware/rediware/internal/redistest"
	"github.com/rediware/rediware/store"
	"github.com/rediware/rediware/store/redigo"
)

func openReal(t *testing.T) (*redistest.Server, *redigo.Store) {
	t.Helper()
	srv := redistest.Start(t)
	s, err := redigo.Open(srv.URL()+"?read_timeout=10s", redigo.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return srv, s
}

var sendScript = store.NewScript(`return {KEYS[1], tonumber(ARGV[1]) + 1, ARGV[2], redis.call('SET', KEYS[1], ARGV[2])}`)

func TestSendEval_replies_like_Eval(t *testing.T) {
	_, s := openReal(t)
	ctx := t.Context()
	// Several outstanding at once, read in reverse order.
	ps := make([]store.Pending, 3)
	for i := range ps {
		p, err := s.SendEval(ctx, sendScript, []string{"k"}, 41+i, "v")
		if err != nil {
			t.Fatal(err)
		}
		ps[i] = p
	}
	want, err := s.Eval(ctx, sendScript, []string{"k"}, 41, "v")
	if err != nil {
		t.Fatal(err)
	}
	for i := len(ps) - 1; i >= 0; i-- {
		v, err := ps[i].Wait()
		if err != nil {
			t.Fatal(err)
		}
		a, err := store.Slice(v, 4)
		if err != nil || a[0] != "k" || a[1] != int64(42+i) || a[2] != "v" || a[3] != "OK" {
			t.Fatalf("Wait = %#v, %v", v, err)
		}
		if i == 0 && !equalReplies(v, want) {
			t.Fatalf("Wait = %#v, Eval = %#v", v, want)
		}
	}
	if n := s.Pool().ActiveCount(); n != s.Pool().IdleCount() {
		t.Fatalf("%d connections active, %d idle: Wait did not give them back", n, s.Pool().IdleCount())
	}
}

func equalReplies(a, b any) bool {
	x, ok1 := a.([]any)
	y, ok2 := b.([]any)
	if !ok1 || !ok2 || len(x) != len(y) {
		return false
	}
	for i := range x {
		if x[i] != y[i] {
			return false
		}
	}
	return true
}

func TestSendEval_loads_the_script_on_NOSCRIPT(t *testing.T) {
	_, s := openReal(t)
	ctx := t.Context()
	sc := store.NewScript(`return 'loaded ' .. ARGV[1]`)
	for range 2 {
		if _, err := s.Do(ctx, "SCRIPT", "FLUSH"); err != nil {
			t.Fatal(err)
		}
		p, err := s.SendEval(ctx, sc, nil, "x")
		if err != nil {
			t.Fatal(err)
		}
		v, err := p.Wait()
		if err != nil || v != "loaded x" {
			t.Fatalf("Wait after SCRIPT FLUSH = %#v, %v", v, err)
		}
	}
	// Loaded now: EVALSHA succeeds on its own.
	p, err := s.SendEval(ctx, sc, nil, "y")
	if err != nil {
		t.Fatal(err)
	}
	if v, err := p.Wait(); err != nil || v != "loaded y" {
		t.Fatalf("Wait = %#v, %v", v, err)
	}
}

func TestSendEval_error_reply_is_a_RedisError(t *testing.T) {
	_, s := openReal(t)
	ctx := t.Context()
	p, err := s.SendEval(ctx, store.NewScript(`return redis.error_reply('BOOM it failed')`), []string{"k"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.Wait()
	var re *store.RedisError
	if !errors.As(err, &re) || !strings.Contains(re.Msg, "BOOM") {
		t.Fatalf("Wait = %v, want *store.RedisError", err)
	}
	// The connection is usable after an error reply.
	if err := s.Set(ctx, "k", []byte("v"), 0); err != nil {
		t.Fatal(err)
	}
}

func TestSendEval_refuses_an_invalid_key(t *testing.T) {
	_, s := openReal(t)
	p, err := s.SendEval(t.Context(), sendScript, []string{""}, 1, "v")
	if !errors.Is(err, store.ErrInvalidKey) || p != nil {
		t.Fatalf("SendEval with an empty key = %v, %v; want ErrInvalidKey", p, err)
	}
	if _, err := s.SendEval(t.Context(), sendScript, []string{"k"}, struct{}{}); err == nil {
		t.Fatal("SendEval with an unsupported argument succeeded")
	}
}

func TestSendEval_server_killed_before_Wait_is_unavailable(t *testing.T) {
	srv, s := openReal(t)
	sc := store.NewScript(`local t = redis.call('TIME') while true do local n = redis.call('TIME') if (n[1]-t[1])*1000000 + (n[2]-t[2]) > 300000 then break end end return 1`)
	p, err := s.SendEval(t.Context(), sc, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv.Kill()
	if _, err := p.Wait(); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("Wait on a killed server = %v, want ErrUnavailable", err)
	}
	if _, err := s.SendEval(t.Context(), sendScript, []string{"k"}, 1, "v"); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("SendEval to a killed server = %v, want ErrUnavailable", err)
	}
}

func TestSendEval_Wait_returns_at_the_deadline_of_a_paused_server(t *testing.T) {
	srv, s := openReal(t)
	if err := s.Ping(t.Context()); err != nil {
		t.Fatal(err)
	}
	srv.Pause()
	defer srv.Resume()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	p, err := s.SendEval(ctx, sendScript, []string{"k"}, 1, "v")
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.Wait()
	el := time.Since(start)
	if !errors.Is(err, store.ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Wait on a paused server = %v, want ErrUnavailable and DeadlineExceeded", err)
	}
	if el > 200*time.Millisecond+2*time.Second {
		t.Fatalf("Wait returned after %v, past its 200ms bound", el)
	}
	srv.Resume()
	// The connection with the unread reply was dropped: the next call
	// gets its own reply, not the stale one.
	v, err := s.Eval(t.Context(), store.NewScript(`return 'fresh'`), nil)
	if err != nil || v != "fresh" {
		t.Fatalf("Eval after the timed-out Wait = %#v, %v", v, err)
	}
}

func TestSendEval_past_deadline_sends_nothing(t *testing.T) {
	_, s := openReal(t)
	ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	if _, err := s.SendEval(ctx, sendScript, []string{"k"}, 1, "v"); !errors.Is(err, store.ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("SendEval past its deadline = %v", err)
	}
}

func TestSendEval_Wait_twice_is_an_error(t *testing.T) {
	_, s := openReal(t)
	p, err := s.SendEval(t.Context(), sendScript, []string{"k"}, 1, "v")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Wait(); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Wait(); err == nil {
		t.Fatal("second Wait succeeded")
	}
}

func TestSendEval_Wait_after_the_deadline_returns_a_reply_that_arrived(t *testing.T) {
	_, s := openReal(t)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	p, err := s.SendEval(ctx, sendScript, []string{"k"}, 1, "v")
	if err != nil {
		t.Fatal(err)
	}
	<-ctx.Done()
	v, err := p.Wait()
	if a, e := store.Slice(v, 4); err != nil || e != nil || a[1] != int64(2) {
		t.Fatalf("Wait after the deadline = %#v, %v", v, err)
	}
}
