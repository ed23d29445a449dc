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
