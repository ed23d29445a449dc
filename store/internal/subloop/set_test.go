package subloop_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rediware/rediware/store"
	"github.com/rediware/rediware/store/internal/subloop"
)

func setConfig(d *dialer) subloop.Config {
	return subloop.Config{Dial: d.Dial, Channels: []string{"ch"}, HealthInterval: hour}
}

func TestSet_Close_closes_every_loop_and_refuses_new_ones(t *testing.T) {
	var set subloop.Set
	c1, c2 := newConn(), newConn()
	d := newDialer(conns(c1, c2))
	sub1, err := set.Subscribe(t.Context(), setConfig(d))
	if err != nil {
		t.Fatal(err)
	}
	sub2, err := set.Subscribe(t.Context(), setConfig(d))
	if err != nil {
		t.Fatal(err)
	}
	set.Close()
	for _, sub := range []store.Subscription{sub1, sub2} {
		drained(t, sub.(*subloop.Loop))
	}
	waitClosed(t, c1)
	waitClosed(t, c2)
	if _, err := set.Subscribe(t.Context(), setConfig(d)); !errors.Is(err, store.ErrClosed) {
		t.Fatalf("Subscribe after Close = %v, want ErrClosed", err)
	}
	if n := d.attempts.Load(); n != 2 {
		t.Fatalf("%d dials, want 2 (none after Close)", n)
	}
	set.Close()
}

func TestSet_forgets_a_loop_that_closes(t *testing.T) {
	var set subloop.Set
	d := newDialer(conns(newConn(), newConn()))
	sub, err := set.Subscribe(t.Context(), setConfig(d))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	if _, err := set.Subscribe(ctx, setConfig(d)); err != nil {
		t.Fatal(err)
	}
	if n := set.Len(); n != 2 {
		t.Fatalf("Len = %d, want 2", n)
	}
	sub.Close()
	cancel()
	deadline := time.Now().Add(5 * time.Second)
	for set.Len() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("Len = %d 5s after both loops closed, want 0", set.Len())
		}
		time.Sleep(time.Millisecond)
	}
}

func TestSet_forgets_a_loop_whose_Start_failed(t *testing.T) {
	var set subloop.Set
	if _, err := set.Subscribe(t.Context(), setConfig(newDialer(conns()))); !errors.Is(err, errDial) {
		t.Fatalf("Subscribe = %v, want the dial error", err)
	}
	if n := set.Len(); n != 0 {
		t.Fatalf("Len = %d, want 0", n)
	}
}

func TestSet_Subscribe_calls_the_configured_OnClose_too(t *testing.T) {
	var set subloop.Set
	var closes atomic.Int32
	cfg := setConfig(newDialer(conns(newConn())))
	cfg.OnClose = func() { closes.Add(1) }
	sub, err := set.Subscribe(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	sub.Close()
	if n, l := closes.Load(), set.Len(); n != 1 || l != 0 {
		t.Fatalf("OnClose called %d times and Len = %d, want 1 and 0", n, l)
	}
}
