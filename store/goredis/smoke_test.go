package goredis_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/rediware/rediware/store"
	"github.com/rediware/rediware/store/goredis"
)

func newMini(t *testing.T) (*miniredis.Miniredis, *goredis.Store) {
	t.Helper()
	m := miniredis.RunT(t)
	c := redis.NewClient(&redis.Options{Addr: m.Addr()})
	t.Cleanup(func() { c.Close() })
	return m, goredis.New(c)
}

func TestStore_smoke(t *testing.T) {
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
	sc := store.NewScript(`return {KEYS[1], tonumber(ARGV[1]) + 1, redis.call('GET', KEYS[1])}`)
	r, err := s.Eval(ctx, sc, []string{"k"}, 41)
	if err != nil {
		t.Fatal(err)
	}
	a, err := store.Slice(r, 3)
	if err != nil || a[0] != "k" || a[1] != int64(42) || a[2] != "v" {
		t.Fatalf("Eval = %#v, %v", r, err)
	}
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

func TestOpen_badURLs(t *testing.T) {
	for _, raw := range []string{
		"",
		"localhost:6379",
		"http://localhost:6379",
		"redis://user:s3cret@localhost:notaport",
		"redis://localhost:6379/notadb",
		"redis://localhost:6379?dialer_retries=zero",
		"redis+cluster://",
		"redis+cluster://a:1,,b:2",
		"redis+sentinel://host:26379",
		"redis+sentinel://host/mymaster",
		"redis+sentinel://host:26379/mymaster/x",
	} {
		t.Run(raw, func(t *testing.T) {
			s, err := goredis.Open(raw, goredis.Options{})
			if err == nil {
				s.Close()
				t.Fatalf("Open(%q) succeeded", raw)
			}
			if !errors.Is(err, goredis.ErrBadURL) {
				t.Errorf("error %v does not wrap ErrBadURL", err)
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("error leaks the password: %v", err)
			}
		})
	}
}

func TestOpen_goodURLs(t *testing.T) {
	for _, raw := range []string{
		"redis://localhost:6379/0",
		"redis://user:pass@localhost:6379/2?dial_timeout=1s&dialer_retries=1&dialer_retry_timeout=10ms",
		"rediss://localhost:6380",
		"redis+cluster://localhost:7000,localhost:7001,localhost:7002",
		"redis+sentinel://user:pass@localhost:26379,localhost:26380/mymaster/1",
	} {
		t.Run(raw, func(t *testing.T) {
			s, err := goredis.Open(raw, goredis.Options{})
			if err != nil {
				t.Fatalf("Open(%q): %v", raw, err)
			}
			s.Close()
		})
	}
}
