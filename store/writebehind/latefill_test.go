package writebehind_test

import (
	"context"
	"testing"
	"time"

	"github.com/rediware/rediware/internal/redistest"
	"github.com/rediware/rediware/store/writebehind"
)

// When a late cache update of an older write clears the entry (a newer
// write is already in the database), a read that loaded the database
// before the newer write was applied must not put its older value back.
func TestQueue_late_cache_update_defeats_a_fill_that_read_the_older_row(t *testing.T) {
	srv := redistest.Start(t)
	s := newStore(t, srv)
	ctx := t.Context()
	g := newGatedCache(s, 1)
	d := newDB()
	q, _ := writebehind.New(s, d.apply, writebehind.Options[int]{Cache: g})
	first := make(chan error, 1)
	go func() { _, err := q.Write(ctx, "k", 1); first <- err }()
	<-g.reached // 1 is enqueued; its cache Set waits

	// A reader misses and reads the database before 2 is applied.
	loaded, finishLoad := make(chan struct{}), make(chan struct{})
	read := make(chan error, 1)
	go func() {
		_, err := g.GetOrLoad(ctx, "k", func(context.Context) (int, error) {
			rows, _ := d.snapshot()
			close(loaded)
			<-finishLoad
			return rows["k"], nil // the row as it was: 0
		}, time.Hour)
		read <- err
	}()
	<-loaded

	if _, err := q.Write(ctx, "k", 2); err != nil {
		t.Fatal(err)
	}
	drain(t, q)
	close(g.release) // 1's late cache update clears the entry
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	close(finishLoad) // the reader's fill of the older row comes last
	if err := <-read; err != nil {
		t.Fatal(err)
	}
	if v, ok, _ := g.Get(ctx, "k"); ok && v != 2 {
		t.Fatalf("cache holds %d after the database was written with 2", v)
	}
}
