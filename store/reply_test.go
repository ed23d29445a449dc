package store_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/rediware/rediware/store"
)

func TestInt64(t *testing.T) {
	for _, tc := range []struct {
		in   any
		want int64
		ok   bool
	}{
		{int64(42), 42, true},
		{"-7", -7, true},
		{"x", 0, false},
		{nil, 0, false},
		{[]any{int64(1)}, 0, false},
	} {
		got, err := store.Int64(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("Int64(%#v) = %d, %v", tc.in, got, err)
		}
		if err != nil && !errors.Is(err, store.ErrUnexpectedReply) {
			t.Errorf("Int64(%#v) error %v does not wrap ErrUnexpectedReply", tc.in, err)
		}
	}
}

func TestString_nil_is_not_found(t *testing.T) {
	if s, ok, err := store.String(nil); s != "" || ok || err != nil {
		t.Fatalf("String(nil) = %q, %v, %v", s, ok, err)
	}
	if s, ok, err := store.String(int64(5)); s != "5" || !ok || err != nil {
		t.Fatalf("String(5) = %q, %v, %v", s, ok, err)
	}
	if _, _, err := store.String([]any{}); !errors.Is(err, store.ErrUnexpectedReply) {
		t.Fatalf("String(array) err = %v", err)
	}
}

func TestSlice_and_Int64s(t *testing.T) {
	if _, err := store.Slice([]any{int64(1)}, 2); !errors.Is(err, store.ErrUnexpectedReply) {
		t.Errorf("short array: %v", err)
	}
	if a, err := store.Slice(nil, 0); err != nil || a != nil {
		t.Errorf("Slice(nil, 0) = %v, %v", a, err)
	}
	if _, err := store.Slice(nil, 1); err == nil {
		t.Error("Slice(nil, 1) accepted")
	}
	got, err := store.Int64s([]any{int64(1), "2"}, 2)
	if err != nil || got[0] != 1 || got[1] != 2 {
		t.Errorf("Int64s = %v, %v", got, err)
	}
	if _, err := store.Int64s([]any{int64(1), "two"}, 2); !errors.Is(err, store.ErrUnexpectedReply) {
		t.Errorf("Int64s with a bad element: %v", err)
	}
}

func TestRedisError_prefix(t *testing.T) {
	err := fmt.Errorf("eval: %w", &store.RedisError{Msg: "NOSCRIPT No matching script"})
	if !store.IsRedisError(err, "NOSCRIPT") || !store.IsNoScript(err) {
		t.Fatal("wrapped NOSCRIPT not recognised")
	}
	if store.IsRedisError(err, "ERR") || store.IsNoScript(errors.New("timeout")) || store.IsNoScript(nil) {
		t.Fatal("false positive")
	}
}

func ExampleKeyspace() {
	ks := store.Keyspace{Prefix: "rl"}
	fmt.Println(ks.Key("user42", "tokens"))
	fmt.Println(ks.Key("user42", "ts"))
	fmt.Println(store.Slot(ks.Key("user42", "tokens")) == store.Slot(ks.Key("user42", "ts")))
	// Output:
	// {rl:user42}:tokens
	// {rl:user42}:ts
	// true
}

func ExampleNewScript() {
	s := store.NewScript("return redis.call('GET', KEYS[1])")
	fmt.Println(s.SHA1())
	// Output: d3c21d0c2b9ca22f82737626a27bcaf5d288f99f
}

func TestPTTL(t *testing.T) {
	for _, tc := range []struct {
		ms    int64
		ttl   time.Duration
		found bool
	}{
		{-2, 0, false},
		{-1, store.NoExpiry, true},
		{0, 0, true},
		{1500, 1500 * time.Millisecond, true},
	} {
		if ttl, found := store.PTTL(tc.ms); ttl != tc.ttl || found != tc.found {
			t.Errorf("PTTL(%d) = %v, %v; want %v, %v", tc.ms, ttl, found, tc.ttl, tc.found)
		}
	}
}
