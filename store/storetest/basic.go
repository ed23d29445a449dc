package storetest

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/rediware/rediware/store"
)

var basicTests = []subtest{
	{"GetMissing", testGetMissing},
	{"SetGet", testSetGet},
	{"GetValueBelongsToCaller", testGetValueBelongsToCaller},
	{"SetEmptyValue", testSetEmptyValue},
	{"SetOverwrites", testSetOverwrites},
	{"SetTTL", testSetTTL},
	{"SetSubSecondTTLExpires", testSetSubSecondTTLExpires},
	{"SetZeroTTLClearsExpiry", testSetZeroTTLClearsExpiry},
	{"SetNX", testSetNX},
	{"SetNXTTL", testSetNXTTL},
	{"DeleteMany", testDeleteMany},
	{"DeleteNone", testDeleteNone},
	{"Expire", testExpire},
	{"ExpireMissing", testExpireMissing},
	{"TTLMissing", testTTLMissing},
	{"TTLNoExpiry", testTTLNoExpiry},
	{"InvalidKeys", testInvalidKeys},
	{"KeyAtLimit", testKeyAtLimit},
	{"InvalidTTL", testInvalidTTL},
	{"Ping", testPing},
	{"ClosedStore", testClosedStore},
}

func mustSet(t *testing.T, s store.Store, key string, val []byte, ttl time.Duration) {
	t.Helper()
	if err := s.Set(t.Context(), key, val, ttl); err != nil {
		t.Fatalf("Set(%q): %v", key, err)
	}
}

func mustGet(t *testing.T, s store.Store, key string) ([]byte, bool) {
	t.Helper()
	v, found, err := s.Get(t.Context(), key)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	return v, found
}

func testGetMissing(t *testing.T, r *runner) {
	s, p := r.store(t)
	v, found, err := s.Get(t.Context(), p+"missing")
	if err != nil || found || v != nil {
		t.Fatalf("Get missing = %q, %v, %v; want nil, false, nil", v, found, err)
	}
}

func testSetGet(t *testing.T, r *runner) {
	s, p := r.store(t)
	mustSet(t, s, p+"k", []byte("value"), 0)
	v, found := mustGet(t, s, p+"k")
	if !found || string(v) != "value" {
		t.Fatalf("Get = %q, %v; want value, true", v, found)
	}
}

// testGetValueBelongsToCaller: callers may keep and modify what Get
// returns (responsecache decodes entries without copying).
func testGetValueBelongsToCaller(t *testing.T, r *runner) {
	s, p := r.store(t)
	mustSet(t, s, p+"k", []byte("value"), 0)
	v1, _ := mustGet(t, s, p+"k")
	v2, _ := mustGet(t, s, p+"k")
	for i := range v1 {
		v1[i] = 'x'
	}
	v3, _ := mustGet(t, s, p+"k")
	if string(v2) != "value" || string(v3) != "value" {
		t.Fatalf("after changing one Get's value, others read %q and %q; want value", v2, v3)
	}
}

func testSetEmptyValue(t *testing.T, r *runner) {
	s, p := r.store(t)
	mustSet(t, s, p+"k", nil, 0)
	v, found := mustGet(t, s, p+"k")
	if !found || len(v) != 0 {
		t.Fatalf("Get of empty value = %q, %v; want empty, true", v, found)
	}
}

func testSetOverwrites(t *testing.T, r *runner) {
	s, p := r.store(t)
	mustSet(t, s, p+"k", []byte("one"), time.Minute)
	mustSet(t, s, p+"k", []byte("two"), 0)
	v, found := mustGet(t, s, p+"k")
	if !found || string(v) != "two" {
		t.Fatalf("Get = %q, %v; want two", v, found)
	}
	ttl, found, err := s.TTL(t.Context(), p+"k")
	if err != nil || !found || ttl != store.NoExpiry {
		t.Fatalf("TTL after Set without ttl = %v, %v, %v; want NoExpiry (Set replaces the TTL)", ttl, found, err)
	}
}

func testSetTTL(t *testing.T, r *runner) {
	s, p := r.store(t)
	mustSet(t, s, p+"k", []byte("v"), 90*time.Second)
	ttl, found, err := s.TTL(t.Context(), p+"k")
	if err != nil || !found {
		t.Fatalf("TTL = %v, %v, %v", ttl, found, err)
	}
	if ttl <= 80*time.Second || ttl > 90*time.Second {
		t.Fatalf("TTL = %v, want in (80s, 90s]", ttl)
	}
	// Millisecond precision: 1500ms is not rounded to whole seconds.
	mustSet(t, s, p+"ms", []byte("v"), 1500*time.Millisecond)
	ttl, _, err = s.TTL(t.Context(), p+"ms")
	if err != nil || ttl <= time.Second || ttl > 1500*time.Millisecond {
		t.Fatalf("TTL of a 1500ms key = %v, %v; want in (1s, 1.5s]", ttl, err)
	}
}

func testSetSubSecondTTLExpires(t *testing.T, r *runner) {
	s, p := r.store(t)
	mustSet(t, s, p+"k", []byte("v"), 100*time.Millisecond)
	if _, found := mustGet(t, s, p+"k"); !found {
		t.Fatal("key with a 100ms TTL missing at once")
	}
	r.cfg.advance(250 * time.Millisecond)
	if v, found := mustGet(t, s, p+"k"); found {
		t.Fatalf("key with a 100ms TTL still there after 250ms: %q", v)
	}
}

func testSetZeroTTLClearsExpiry(t *testing.T, r *runner) {
	s, p := r.store(t)
	mustSet(t, s, p+"k", []byte("v"), 100*time.Millisecond)
	mustSet(t, s, p+"k", []byte("v2"), 0)
	r.cfg.advance(250 * time.Millisecond)
	if v, found := mustGet(t, s, p+"k"); !found || string(v) != "v2" {
		t.Fatalf("Get after Set with ttl 0 = %q, %v; want v2 without expiry", v, found)
	}
}

func testSetNX(t *testing.T, r *runner) {
	s, p := r.store(t)
	ctx := t.Context()
	ok, err := s.SetNX(ctx, p+"k", []byte("first"), 0)
	if err != nil || !ok {
		t.Fatalf("SetNX on a missing key = %v, %v; want true", ok, err)
	}
	ok, err = s.SetNX(ctx, p+"k", []byte("second"), 0)
	if err != nil || ok {
		t.Fatalf("SetNX on an existing key = %v, %v; want false", ok, err)
	}
	if v, _ := mustGet(t, s, p+"k"); string(v) != "first" {
		t.Fatalf("value after a refused SetNX = %q, want first", v)
	}
}

func testSetNXTTL(t *testing.T, r *runner) {
	s, p := r.store(t)
	ctx := t.Context()
	ok, err := s.SetNX(ctx, p+"k", []byte("v"), 100*time.Millisecond)
	if err != nil || !ok {
		t.Fatalf("SetNX = %v, %v", ok, err)
	}
	ttl, found, err := s.TTL(ctx, p+"k")
	if err != nil || !found || ttl <= 0 || ttl > 100*time.Millisecond {
		t.Fatalf("TTL after SetNX with 100ms = %v, %v, %v", ttl, found, err)
	}
	r.cfg.advance(250 * time.Millisecond)
	ok, err = s.SetNX(ctx, p+"k", []byte("again"), 0)
	if err != nil || !ok {
		t.Fatalf("SetNX after the key expired = %v, %v; want true", ok, err)
	}
}

func testDeleteMany(t *testing.T, r *runner) {
	s, p := r.store(t)
	// Plain keys without a hash tag: on Cluster they span slots, which
	// Delete must handle.
	var keys []string
	for i := range 20 {
		k := p + string(rune('a'+i))
		keys = append(keys, k)
		mustSet(t, s, k, []byte("v"), 0)
	}
	n, err := s.Delete(t.Context(), append(keys, p+"missing1", p+"missing2")...)
	if err != nil || n != int64(len(keys)) {
		t.Fatalf("Delete = %d, %v; want %d", n, err, len(keys))
	}
	for _, k := range keys {
		if _, found := mustGet(t, s, k); found {
			t.Fatalf("%q still there after Delete", k)
		}
	}
	n, err = s.Delete(t.Context(), keys[0])
	if err != nil || n != 0 {
		t.Fatalf("Delete of a deleted key = %d, %v; want 0, nil", n, err)
	}
}

func testDeleteNone(t *testing.T, r *runner) {
	s, _ := r.store(t)
	n, err := s.Delete(t.Context())
	if err != nil || n != 0 {
		t.Fatalf("Delete() = %d, %v; want 0, nil", n, err)
	}
}

func testExpire(t *testing.T, r *runner) {
	s, p := r.store(t)
	ctx := t.Context()
	mustSet(t, s, p+"k", []byte("v"), 0)
	ok, err := s.Expire(ctx, p+"k", 100*time.Millisecond)
	if err != nil || !ok {
		t.Fatalf("Expire = %v, %v; want true", ok, err)
	}
	ttl, found, err := s.TTL(ctx, p+"k")
	if err != nil || !found || ttl <= 0 || ttl > 100*time.Millisecond {
		t.Fatalf("TTL after Expire(100ms) = %v, %v, %v", ttl, found, err)
	}
	r.cfg.advance(250 * time.Millisecond)
	if _, found := mustGet(t, s, p+"k"); found {
		t.Fatal("key still there after its Expire TTL")
	}
}

func testExpireMissing(t *testing.T, r *runner) {
	s, p := r.store(t)
	ok, err := s.Expire(t.Context(), p+"missing", time.Second)
	if err != nil || ok {
		t.Fatalf("Expire of a missing key = %v, %v; want false, nil", ok, err)
	}
}

func testTTLMissing(t *testing.T, r *runner) {
	s, p := r.store(t)
	ttl, found, err := s.TTL(t.Context(), p+"missing")
	if err != nil || found || ttl != 0 {
		t.Fatalf("TTL of a missing key = %v, %v, %v; want 0, false, nil", ttl, found, err)
	}
}

func testTTLNoExpiry(t *testing.T, r *runner) {
	s, p := r.store(t)
	mustSet(t, s, p+"k", []byte("v"), 0)
	ttl, found, err := s.TTL(t.Context(), p+"k")
	if err != nil || !found || ttl != store.NoExpiry {
		t.Fatalf("TTL without expiry = %v, %v, %v; want NoExpiry, true, nil", ttl, found, err)
	}
}

func testInvalidKeys(t *testing.T, r *runner) {
	s, p := r.store(t)
	ctx := t.Context()
	sc := store.NewScript("return 1")
	for name, key := range map[string]string{
		"empty":    "",
		"too long": p + strings.Repeat("x", r.cfg.maxKeyLen),
	} {
		calls := map[string]func() error{
			"Get":    func() error { _, _, err := s.Get(ctx, key); return err },
			"Set":    func() error { return s.Set(ctx, key, []byte("v"), 0) },
			"SetNX":  func() error { _, err := s.SetNX(ctx, key, []byte("v"), 0); return err },
			"Delete": func() error { _, err := s.Delete(ctx, p+"ok", key); return err },
			"Expire": func() error { _, err := s.Expire(ctx, key, time.Second); return err },
			"TTL":    func() error { _, _, err := s.TTL(ctx, key); return err },
			"Eval":   func() error { _, err := s.Eval(ctx, sc, []string{p + "ok", key}); return err },
		}
		if st, ok := s.(store.Streamer); ok {
			calls["XAdd"] = func() error { _, err := st.XAdd(ctx, key, 0, map[string]string{"f": "v"}); return err }
		}
		for call, fn := range calls {
			if err := fn(); !errors.Is(err, store.ErrInvalidKey) {
				t.Errorf("%s with a %s key: %v, want ErrInvalidKey", call, name, err)
			}
		}
	}
	if _, found := mustGet(t, s, p+"ok"); found {
		t.Fatal("a call refused for an invalid key wrote something")
	}
}

func testKeyAtLimit(t *testing.T, r *runner) {
	s, p := r.store(t)
	key := p + strings.Repeat("k", r.cfg.maxKeyLen-len(p))
	mustSet(t, s, key, []byte("v"), 0)
	if v, found := mustGet(t, s, key); !found || string(v) != "v" {
		t.Fatalf("Get of a key of exactly the limit = %q, %v", v, found)
	}
}

func testInvalidTTL(t *testing.T, r *runner) {
	s, p := r.store(t)
	ctx := t.Context()
	mustSet(t, s, p+"k", []byte("v"), 0)
	for call, fn := range map[string]func() error{
		"Set(-1s)":    func() error { return s.Set(ctx, p+"k", []byte("x"), -time.Second) },
		"SetNX(-1ns)": func() error { _, err := s.SetNX(ctx, p+"new", []byte("x"), -1); return err },
		"Expire(0)":   func() error { _, err := s.Expire(ctx, p+"k", 0); return err },
		"Expire(-1s)": func() error { _, err := s.Expire(ctx, p+"k", -time.Second); return err },
	} {
		if err := fn(); !errors.Is(err, store.ErrInvalidTTL) {
			t.Errorf("%s: %v, want ErrInvalidTTL", call, err)
		}
	}
	if v, _ := mustGet(t, s, p+"k"); !bytes.Equal(v, []byte("v")) {
		t.Fatalf("value after refused calls = %q, want v", v)
	}
	if ttl, _, _ := s.TTL(ctx, p+"k"); ttl != store.NoExpiry {
		t.Fatalf("TTL after refused Expire calls = %v, want NoExpiry", ttl)
	}
	if _, found := mustGet(t, s, p+"new"); found {
		t.Fatal("SetNX with a negative TTL wrote the key")
	}
}

func testPing(t *testing.T, r *runner) {
	s, _ := r.store(t)
	pg := power[store.Pinger](t, s)
	if err := pg.Ping(t.Context()); err != nil {
		t.Fatalf("Ping: %v", err)
	}
}

// After Close, a store.Closer fails every call with store.ErrClosed, as the
// Closer contract says, and ends its subscriptions.
func testClosedStore(t *testing.T, r *runner) {
	s, p := r.store(t)
	c := power[store.Closer](t, s)
	ctx := t.Context()
	sub, err := s.Subscribe(ctx, []string{p + "ch"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if _, _, err := s.Get(ctx, p+"k"); !errors.Is(err, store.ErrClosed) {
		t.Errorf("Get after Close: %v, want ErrClosed", err)
	}
	if err := s.Set(ctx, p+"k", []byte("v"), 0); !errors.Is(err, store.ErrClosed) {
		t.Errorf("Set after Close: %v, want ErrClosed", err)
	}
	if _, err := s.Eval(ctx, store.NewScript("return 1"), nil); !errors.Is(err, store.ErrClosed) {
		t.Errorf("Eval after Close: %v, want ErrClosed", err)
	}
	select {
	case _, open := <-sub.Messages():
		for open {
			_, open = <-sub.Messages()
		}
	case <-time.After(10 * time.Second):
		t.Error("a subscription outlived Close of its store")
	}
}
