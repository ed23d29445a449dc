package responsecache

import (
	"context"
	"errors"
	"testing"
	"time"
)

type ctxKey struct{}

func TestReadContext_keeps_values_and_is_bounded_by_the_store_timeout(t *testing.T) {
	c := New(nil, Options{StoreTimeout: 40 * time.Millisecond})
	parent := context.WithValue(context.Background(), ctxKey{}, "v")
	ctx, cancel := c.readContext(parent)
	if cancel != nil {
		t.Fatal("a parent without a deadline should share the read deadline")
	}
	if ctx.Value(ctxKey{}) != "v" {
		t.Fatal("the request's values are lost")
	}
	d, ok := ctx.Deadline()
	if left := time.Until(d); !ok || left > 40*time.Millisecond || left < 30*time.Millisecond {
		t.Fatalf("deadline in %v (%v), want within the store timeout and at least 7/8 of it", left, ok)
	}
	child, stop := context.WithCancel(ctx) // as a client hook may derive one
	defer stop()
	select {
	case <-child.Done():
	case <-time.After(time.Second):
		t.Fatal("the read context did not expire at its deadline")
	}
	if !errors.Is(ctx.Err(), context.DeadlineExceeded) || !errors.Is(context.Cause(ctx), context.DeadlineExceeded) || !errors.Is(child.Err(), context.DeadlineExceeded) {
		t.Fatalf("Err %v, Cause %v, derived %v", ctx.Err(), context.Cause(ctx), child.Err())
	}
	// A later read gets a fresh deadline, not the expired one.
	ctx2, _ := c.readContext(parent)
	if ctx2.Err() != nil {
		t.Fatal("a new read started with an expired context")
	}
}

func TestReadContext_keeps_a_tighter_deadline_of_the_caller(t *testing.T) {
	c := New(nil, Options{StoreTimeout: time.Second})
	parent, cancelParent := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancelParent()
	ctx, cancel := c.readContext(parent)
	if cancel == nil {
		t.Fatal("want a context of its own under a caller's deadline")
	}
	defer cancel()
	if d, _ := ctx.Deadline(); time.Until(d) > 10*time.Millisecond {
		t.Fatalf("deadline in %v, want the caller's 10ms", time.Until(d))
	}
	cancelParent()
	if ctx.Err() == nil {
		t.Fatal("cancelling the caller's context did not end the read")
	}
}
