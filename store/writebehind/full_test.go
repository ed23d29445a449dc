package writebehind_test

import (
	"errors"
	"testing"

	"github.com/rediware/rediware/internal/redistest"
	"github.com/rediware/rediware/store/writebehind"
)

// With no worker keeping up, a queue bounded by MaxPending refuses writes
// instead of growing without bound in Redis's memory.
func TestQueue_Write_refuses_when_MaxPending_writes_are_queued(t *testing.T) {
	srv := redistest.Start(t)
	s := newStore(t, srv)
	ctx := t.Context()
	d := newDB()
	q, _ := writebehind.New(s, d.apply, writebehind.Options[int]{MaxPending: 3})
	for i := range 3 {
		if _, err := q.Write(ctx, "k", i); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := q.Write(ctx, "k", 3); !errors.Is(err, writebehind.ErrQueueFull) {
		t.Fatalf("fourth Write = %v, want ErrQueueFull", err)
	}
	if n, err := q.Pending(ctx); err != nil || n != 3 {
		t.Fatalf("Pending = %d %v, want 3", n, err)
	}
	if err := q.Close(ctx); err != nil { // drains
		t.Fatal(err)
	}
	if rows, _ := d.snapshot(); rows["k"] != 2 {
		t.Fatalf("database %v, want k=2 (the refused write never queued)", rows)
	}
}

// A WriteWithID refused because the queue is full does not use up its
// idempotency key: the client's retry is accepted once there is room.
func TestQueue_WriteWithID_refused_when_full_can_be_retried(t *testing.T) {
	srv := redistest.Start(t)
	s := newStore(t, srv)
	ctx := t.Context()
	d := newDB()
	q, _ := writebehind.New(s, d.apply, writebehind.Options[int]{MaxPending: 1})
	if err := q.WriteWithID(ctx, "a", "req-1", 1); err != nil {
		t.Fatal(err)
	}
	if err := q.WriteWithID(ctx, "b", "req-2", 2); !errors.Is(err, writebehind.ErrQueueFull) {
		t.Fatalf("WriteWithID = %v, want ErrQueueFull", err)
	}
	w, _ := writebehind.New(s, d.apply, writebehind.Options[int]{}) // a worker drains the queue
	if err := w.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := q.WriteWithID(ctx, "b", "req-2", 2); err != nil {
		t.Fatalf("retry of the refused WriteWithID = %v", err)
	}
}
