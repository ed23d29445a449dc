package writebehind_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rediware/rediware/internal/redistest"
	"github.com/rediware/rediware/store/writebehind"
)

// failBad fails every write of a key starting with "bad" and applies the
// others to d.
func failBad(d *db) writebehind.Apply[int] {
	return func(ctx context.Context, op writebehind.Op[int]) error {
		if strings.HasPrefix(op.Key, "bad") {
			return errors.New("db: rejected")
		}
		return d.apply(ctx, op)
	}
}

func TestQueue_dead_letter_stream_keeps_the_newest_DeadLetterMaxLen(t *testing.T) {
	srv := redistest.Start(t)
	s := newStore(t, srv)
	ctx := t.Context()
	d := newDB()
	var dead atomic.Int32
	q, _ := writebehind.New(s, failBad(d), writebehind.Options[int]{
		MaxAttempts: 1, DeadLetterMaxLen: 5,
		Hook: func(e writebehind.Event) {
			if e.Kind == writebehind.DeadLettered {
				dead.Add(1)
			}
		},
	})
	const n = 40
	for i := range n {
		if _, err := q.Write(ctx, fmt.Sprint("bad", i), i); err != nil {
			t.Fatal(err)
		}
		if err := q.WriteWithID(ctx, fmt.Sprint("good", i), fmt.Sprint("req", i), i); err != nil {
			t.Fatal(err)
		}
	}
	// The bound is on dead letters only: nothing unacknowledged is trimmed.
	if p, _ := q.Pending(ctx); p != 2*n {
		t.Fatalf("%d entries pending before any worker ran, want %d", p, 2*n)
	}
	if err := q.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if dead.Load() != n {
		t.Fatalf("%d dead-lettered, want %d", dead.Load(), n)
	}
	msgs, err := s.Client().XRange(ctx, q.DeadLetters(), "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 5 {
		t.Fatalf("%d dead letters kept, want 5", len(msgs))
	}
	for i, m := range msgs {
		if want := fmt.Sprint("bad", n-5+i); m.Values["k"] != want {
			t.Fatalf("dead letter %d is %v, want %s (the newest kept)", i, m.Values["k"], want)
		}
	}
	rows, calls := d.snapshot()
	if len(rows) != n || calls != n {
		t.Fatalf("%d good rows in %d applies, want %d in %d", len(rows), calls, n, n)
	}
	if p, _ := q.Pending(ctx); p != 0 {
		t.Fatalf("%d entries left in the stream", p)
	}
}

func TestQueue_dead_letter_stream_is_bounded_by_default(t *testing.T) {
	srv := redistest.Start(t)
	s := newStore(t, srv)
	ctx := t.Context()
	// Fill the dead-letter stream past the default bound directly (as a
	// long-lived queue would), then dead-letter one more write.
	q, _ := writebehind.New(s, failBad(newDB()), writebehind.Options[int]{MaxAttempts: 1})
	const over = writebehind.DefaultDeadLetterMaxLen + 50
	pipe := s.Client().Pipeline()
	for i := range over {
		pipe.XAdd(ctx, &redis.XAddArgs{Stream: q.DeadLetters(), Values: []any{"k", fmt.Sprint("old", i)}})
	}
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := q.Write(ctx, "bad", 1); err != nil {
		t.Fatal(err)
	}
	if err := q.Close(ctx); err != nil {
		t.Fatal(err)
	}
	n, err := s.Client().XLen(ctx, q.DeadLetters()).Result()
	if err != nil {
		t.Fatal(err)
	}
	if n != writebehind.DefaultDeadLetterMaxLen {
		t.Fatalf("%d dead letters, want the default bound %d", n, writebehind.DefaultDeadLetterMaxLen)
	}
	last, _ := s.Client().XRevRangeN(ctx, q.DeadLetters(), "+", "-", 1).Result()
	if len(last) != 1 || last[0].Values["k"] != "bad" {
		t.Fatalf("newest dead letter %v, want the write just dead-lettered", last)
	}
}

func TestQueue_dead_letter_stream_unbounded_when_DeadLetterMaxLen_negative(t *testing.T) {
	srv := redistest.Start(t)
	s := newStore(t, srv)
	ctx := t.Context()
	q, _ := writebehind.New(s, failBad(newDB()), writebehind.Options[int]{MaxAttempts: 1, DeadLetterMaxLen: -1})
	for i := range 30 {
		_, _ = q.Write(ctx, fmt.Sprint("bad", i), i)
	}
	if err := q.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if n, _ := s.Client().XLen(ctx, q.DeadLetters()).Result(); n != 30 {
		t.Fatalf("%d dead letters, want all 30", n)
	}
}

func TestQueue_dead_letter_stream_drops_entries_older_than_DeadLetterMaxAge(t *testing.T) {
	srv := redistest.Start(t)
	s := newStore(t, srv)
	ctx := t.Context()
	opts := writebehind.Options[int]{MaxAttempts: 1, DeadLetterMaxAge: 200 * time.Millisecond}
	q1, _ := writebehind.New(s, failBad(newDB()), opts)
	for i := range 3 {
		_, _ = q1.Write(ctx, fmt.Sprint("bad-old", i), i)
	}
	if err := q1.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if n, _ := s.Client().XLen(ctx, q1.DeadLetters()).Result(); n != 3 {
		t.Fatalf("%d dead letters, want 3", n)
	}
	time.Sleep(300 * time.Millisecond) // the three are now older than the age bound
	q2, _ := writebehind.New(s, failBad(newDB()), opts)
	_, _ = q2.Write(ctx, "bad-new", 1)
	if err := q2.Close(ctx); err != nil {
		t.Fatal(err)
	}
	msgs, _ := s.Client().XRange(ctx, q2.DeadLetters(), "-", "+").Result()
	if len(msgs) != 1 || msgs[0].Values["k"] != "bad-new" {
		t.Fatalf("dead letters %v, want only the new one", msgs)
	}
}
