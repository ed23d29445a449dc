package writebehind_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/rediware/rediware/internal/redistest"
	"github.com/rediware/rediware/store/redigo"
	"github.com/rediware/rediware/store/writebehind"
)

// The queue runs on the redigo backend too (streams, scripts, reclaim).
func TestQueue_on_redigo_backend(t *testing.T) {
	srv := redistest.Start(t)
	ctx := t.Context()
	pool, err := redigo.NewPool(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pool.Close() })
	s := redigo.New(pool)
	d := newDB()
	failOnce := true
	crashCtx, crash := context.WithCancel(ctx)
	w1, err := writebehind.New(s, func(ctx context.Context, op writebehind.Op[int]) error {
		if failOnce && op.Key == "k3" {
			failOnce = false
			crash()
			return errors.New("crashed")
		}
		return d.apply(ctx, op)
	}, writebehind.Options[int]{Consumer: "w1", ClaimIdle: 100 * time.Millisecond, ClaimInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		if _, err := w1.Write(ctx, fmt.Sprint("k", i), i); err != nil {
			t.Fatal(err)
		}
	}
	_ = w1.Run(crashCtx)
	w2, _ := writebehind.New(s, d.apply, writebehind.Options[int]{Consumer: "w2", ClaimIdle: 100 * time.Millisecond, ClaimInterval: 20 * time.Millisecond})
	go func() { _ = w2.Run(ctx) }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if rows, _ := d.snapshot(); len(rows) == 10 {
			break
		}
		if time.Now().After(deadline) {
			rows, _ := d.snapshot()
			t.Fatalf("only %d of 10 applied", len(rows))
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := w2.Close(ctx); err != nil {
		t.Fatal(err)
	}
}

// On the redigo backend too, a worker recreates its group after Redis
// restarted without its data.
func TestQueue_on_redigo_backend_recreates_group_after_restart(t *testing.T) {
	srv := redistest.Start(t)
	ctx := t.Context()
	pool, err := redigo.NewPool(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pool.Close() })
	s := redigo.New(pool)
	d := newDB()
	q, _ := writebehind.New(s, d.apply, writebehind.Options[int]{Block: 50 * time.Millisecond})
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	go func() { _ = q.Run(runCtx) }()
	deadline := time.Now().Add(30 * time.Second)
	if _, err := q.Write(ctx, "before", 1); err != nil {
		t.Fatal(err)
	}
	for { // the group exists and the worker reads it
		if rows, _ := d.snapshot(); rows["before"] == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("write before the restart never applied")
		}
		time.Sleep(10 * time.Millisecond)
	}
	srv.Restart()
	for {
		if _, err := q.Write(ctx, "after", 2); err == nil {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("Write after restart: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	for {
		if rows, _ := d.snapshot(); rows["after"] == 2 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("write after the restart never applied")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
