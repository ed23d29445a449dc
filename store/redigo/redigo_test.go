package redigo_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/gomodule/redigo/redis"

	"github.com/rediware/rediware/store"
	"github.com/rediware/rediware/store/redigo"
)

func miniPool(t *testing.T, m *miniredis.Miniredis) *redis.Pool {
	t.Helper()
	addr := m.Addr()
	p := &redis.Pool{
		DialContext: func(ctx context.Context) (redis.Conn, error) {
			return redis.DialContext(ctx, "tcp", addr)
		},
		MaxIdle: 4, MaxActive: 16, Wait: true,
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func newMini(t *testing.T) (*miniredis.Miniredis, *redigo.Store) {
	t.Helper()
	m := miniredis.RunT(t)
	return m, redigo.New(miniPool(t, m))
}

func TestStore_get_set_eval(t *testing.T) {
	_, s := newMini(t)
	ctx := t.Context()
	if _, found, err := s.Get(ctx, "k"); err != nil || found {
		t.Fatalf("Get missing = %v, %v", found, err)
	}
	if err := s.Set(ctx, "k", []byte("v"), time.Minute); err != nil {
		t.Fatal(err)
	}
	v, found, err := s.Get(ctx, "k")
	if err != nil || !found || string(v) != "v" {
		t.Fatalf("Get = %q %v %v", v, found, err)
	}
	sc := store.NewScript(`return {KEYS[1], tonumber(ARGV[1]) + 1, redis.call('GET', KEYS[1]), ARGV[2], ARGV[3]}`)
	r, err := s.Eval(ctx, sc, []string{"k"}, 41, 0.5, true)
	if err != nil {
		t.Fatal(err)
	}
	a, err := store.Slice(r, 5)
	if err != nil || a[0] != "k" || a[1] != int64(42) || a[2] != "v" || a[3] != "0.5" || a[4] != "1" {
		t.Fatalf("Eval = %#v, %v", r, err)
	}
}

func TestStore_Do_unsupported_argument(t *testing.T) {
	_, s := newMini(t)
	_, err := s.Do(t.Context(), "SET", "k", struct{}{})
	if err == nil || errors.Is(err, store.ErrUnavailable) || !strings.Contains(err.Error(), "can't marshal") {
		t.Fatalf("Do with a struct argument: %v, want a marshal error", err)
	}
}

func TestStore_Do_error_reply(t *testing.T) {
	_, s := newMini(t)
	ctx := t.Context()
	if _, err := s.Do(ctx, "LPUSH", "l", "x"); err != nil {
		t.Fatal(err)
	}
	_, err := s.Do(ctx, "GET", "l")
	if !store.IsRedisError(err, "WRONGTYPE") {
		t.Fatalf("GET on a list: %v, want WRONGTYPE *store.RedisError", err)
	}
}

func TestStore_unavailable(t *testing.T) {
	m, s := newMini(t)
	m.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_, _, err := s.Get(ctx, "k")
	if !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("Get on closed server: %v, want ErrUnavailable", err)
	}
}

func TestStore_pool_exhausted_waits_only_until_deadline(t *testing.T) {
	m := miniredis.RunT(t)
	p := miniPool(t, m)
	p.MaxActive = 1
	s := redigo.New(p)
	held := p.Get() // the only connection
	defer held.Close()
	if _, err := held.Do("PING"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, _, err := s.Get(ctx, "k")
	if !errors.Is(err, store.ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Get with the pool exhausted: %v, want ErrUnavailable wrapping DeadlineExceeded", err)
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Fatalf("Get waited %v past a 100ms deadline", el)
	}
}

func TestStore_Close_then_calls_fail_with_ErrClosed(t *testing.T) {
	m := miniredis.RunT(t)
	s := redigo.NewWithOptions(miniPool(t, m), redigo.Options{OwnsPool: true})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Get(t.Context(), "k"); !errors.Is(err, store.ErrClosed) {
		t.Fatalf("Get after Close: %v, want ErrClosed", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

func TestStore_Subscribe_delivers_after_return(t *testing.T) {
	_, s := newMini(t)
	ctx := t.Context()
	sub, err := s.Subscribe(ctx, []string{"ch"}, []string{"p.*"})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	if _, err := s.Publish(ctx, "p.x", []byte("hello")); err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-sub.Messages():
		if m.Kind != store.Published || m.Channel != "p.x" || m.Pattern != "p.*" || string(m.Payload) != "hello" {
			t.Fatalf("message = %+v", m)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("no message")
	}
	sub.Close()
	for range sub.Messages() {
	}
}

func TestStore_Do_refuses_connection_state_commands(t *testing.T) {
	_, s := newMini(t)
	ctx := t.Context()
	for _, cmd := range []string{"MULTI", "watch", "SUBSCRIBE", "SELECT"} {
		if _, err := s.Do(ctx, cmd, "x"); err == nil || errors.Is(err, store.ErrUnavailable) {
			t.Errorf("Do(%s): %v, want a refusal", cmd, err)
		}
	}
	// The pool is not poisoned: a plain command still answers normally.
	if v, err := s.Do(ctx, "SET", "k", "v"); err != nil || v != "OK" {
		t.Fatalf("SET after refusals = %#v, %v", v, err)
	}
}
