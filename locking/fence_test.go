package locking_test

import (
	"errors"
	"testing"
	"time"

	"github.com/rediware/rediware/locking"
)

func TestFencedSet_rejects_a_holder_whose_lock_expired(t *testing.T) {
	_, s := server(t)
	lk := locking.New(s)
	ctx := t.Context()
	old, err := lk.Obtain(ctx, "report", 300*time.Millisecond, nil) // long enough to be obtained on a loaded machine
	if err != nil {
		t.Fatal(err)
	}
	if err := locking.FencedSet(ctx, s, "report:data", []byte("old v1"), old.Fence(), 0); err != nil {
		t.Fatal(err)
	}
	waitGone(t, s, "{lock:report}:owner") // a "GC pause": the lock expires
	next, err := lk.Obtain(ctx, "report", time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := locking.FencedSet(ctx, s, "report:data", []byte("new"), next.Fence(), 0); err != nil {
		t.Fatal(err)
	}
	// The old holder wakes up and writes.
	err = locking.FencedSet(ctx, s, "report:data", []byte("old v2"), old.Fence(), 0)
	if !errors.Is(err, locking.ErrStaleFence) {
		t.Fatalf("stale write = %v, want ErrStaleFence", err)
	}
	v, fence, found, err := locking.FencedGet(ctx, s, "report:data")
	if err != nil || !found || string(v) != "new" || fence != next.Fence() {
		t.Fatalf("FencedGet = %q %d %v %v", v, fence, found, err)
	}
}

func TestFencedSet_same_holder_may_write_again(t *testing.T) {
	_, s := server(t)
	ctx := t.Context()
	for _, v := range []string{"a", "b"} {
		if err := locking.FencedSet(ctx, s, "k", []byte(v), 7, 0); err != nil {
			t.Fatal(err)
		}
	}
	if v, _, _, _ := locking.FencedGet(ctx, s, "k"); string(v) != "b" {
		t.Fatalf("value = %q", v)
	}
}

func TestFencedSet_ttl(t *testing.T) {
	_, s := server(t)
	ctx := t.Context()
	if err := locking.FencedSet(ctx, s, "k", []byte("v"), 1, time.Minute); err != nil {
		t.Fatal(err)
	}
	if ttl, found, err := s.TTL(ctx, "k"); err != nil || !found || ttl <= 50*time.Second {
		t.Fatalf("TTL = %v %v %v", ttl, found, err)
	}
	if err := locking.FencedSet(ctx, s, "k", []byte("v"), 0, 0); err == nil {
		t.Fatal("fence 0 accepted")
	}
}

func TestFencedGet_missing_and_foreign_keys(t *testing.T) {
	_, s := server(t)
	ctx := t.Context()
	if _, _, found, err := locking.FencedGet(ctx, s, "missing"); err != nil || found {
		t.Fatalf("missing: found=%v err=%v", found, err)
	}
	if err := s.Set(ctx, "plain", []byte("x"), 0); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := locking.FencedGet(ctx, s, "plain"); err == nil {
		t.Fatal("FencedGet of a string key: no error")
	}
}
