package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/rediware/rediware/store"
)

var contextTests = []subtest{
	{"Canceled", testContextCanceled},
	{"DeadlinePassed", testContextDeadlinePassed},
}

// calls returns one closure per Store method (and per optional power the
// store has), each using ctx.
func calls(s store.Store, p string, ctx context.Context) map[string]func() error {
	sc := store.NewScript("return 1")
	m := map[string]func() error{
		"Get":     func() error { _, _, err := s.Get(ctx, p+"k"); return err },
		"Set":     func() error { return s.Set(ctx, p+"k", []byte("v"), 0) },
		"SetNX":   func() error { _, err := s.SetNX(ctx, p+"k", []byte("v"), 0); return err },
		"Delete":  func() error { _, err := s.Delete(ctx, p+"k"); return err },
		"Expire":  func() error { _, err := s.Expire(ctx, p+"k", time.Second); return err },
		"TTL":     func() error { _, _, err := s.TTL(ctx, p+"k"); return err },
		"Eval":    func() error { _, err := s.Eval(ctx, sc, []string{p + "k"}); return err },
		"Publish": func() error { _, err := s.Publish(ctx, p+"ch", []byte("m")); return err },
		"Scan": func() error {
			return s.Scan(ctx, p+"*", 0, func([]string) error { return nil })
		},
		"Subscribe": func() error {
			sub, err := s.Subscribe(ctx, []string{p + "ch"}, nil)
			if err == nil {
				sub.Close()
			}
			return err
		},
	}
	if d, ok := s.(store.Doer); ok {
		m["Do"] = func() error { _, err := d.Do(ctx, "GET", p+"k"); return err }
	}
	if pl, ok := s.(store.Pipeliner); ok {
		m["Pipeline"] = func() error { _, err := pl.Pipeline(ctx, []any{"GET", p + "k"}); return err }
	}
	if w, ok := s.(store.Watcher); ok {
		m["Watch"] = func() error {
			return w.Watch(ctx, func(tx store.Tx) error {
				_, err := tx.Exec(ctx, []any{"SET", p + "k", "v"})
				return err
			}, p+"k")
		}
	}
	if st, ok := s.(store.Streamer); ok {
		m["XAdd"] = func() error { _, err := st.XAdd(ctx, p+"st", 0, map[string]string{"f": "v"}); return err }
		m["XReadGroup"] = func() error {
			_, err := st.XReadGroup(ctx, p+"st", "g", "c", 1, 50*time.Millisecond)
			return err
		}
	}
	if pg, ok := s.(store.Pinger); ok {
		m["Ping"] = func() error { return pg.Ping(ctx) }
	}
	return m
}

func testContextCanceled(t *testing.T, r *runner) {
	s, p := r.store(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	for name, call := range calls(s, p, ctx) {
		err := call()
		if !errors.Is(err, store.ErrUnavailable) {
			t.Errorf("%s with a canceled context: %v, want ErrUnavailable", name, err)
		}
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a canceled context: %v, want context.Canceled in the chain", name, err)
		}
	}
	if _, found := mustGet(t, s, p+"k"); found {
		t.Fatal("a call with a canceled context wrote the key")
	}
}

func testContextDeadlinePassed(t *testing.T, r *runner) {
	s, p := r.store(t)
	ctx, cancel := context.WithDeadline(t.Context(), time.Now().Add(-time.Second))
	defer cancel()
	for name, call := range calls(s, p, ctx) {
		err := call()
		if !errors.Is(err, store.ErrUnavailable) {
			t.Errorf("%s with a past deadline: %v, want ErrUnavailable", name, err)
		}
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%s with a past deadline: %v, want context.DeadlineExceeded in the chain", name, err)
		}
	}
}
