package redigo_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/rediware/rediware/internal/redistest"
	"github.com/rediware/rediware/store"
	"github.com/rediware/rediware/store/redigo"
)

// A call to a server that stopped answering fails at its deadline with an
// error that is both ErrUnavailable and context.DeadlineExceeded, whichever
// way the context is bounded.
func TestStore_paused_server_fails_with_DeadlineExceeded(t *testing.T) {
	srv := redistest.Start(t)
	s, err := redigo.Open(srv.URL()+"?read_timeout=10s", redigo.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Set(t.Context(), "k", []byte("v"), 0); err != nil {
		t.Fatal(err)
	}
	srv.Pause()
	defer srv.Resume()
	for name, ctxFn := range map[string]func() (context.Context, context.CancelFunc){
		"deadline": func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), 200*time.Millisecond)
		},
		"cancel without deadline": func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(200*time.Millisecond, cancel)
			return ctx, cancel
		},
	} {
		ctx, cancel := ctxFn()
		start := time.Now()
		_, _, err := s.Get(ctx, "k")
		el := time.Since(start)
		cancel()
		if !errors.Is(err, store.ErrUnavailable) {
			t.Errorf("%s: Get on a paused server: %v, want ErrUnavailable", name, err)
		}
		want := context.DeadlineExceeded
		if name != "deadline" {
			want = context.Canceled
		}
		if !errors.Is(err, want) {
			t.Errorf("%s: Get on a paused server: %v, want %v in the chain", name, err, want)
		}
		if el > 200*time.Millisecond+2*time.Second {
			t.Errorf("%s: Get returned after %v, past its 200ms bound", name, el)
		}
	}
}
