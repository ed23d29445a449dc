package subloop_test

import (
	"context"
	"errors"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rediware/rediware/store"
	"github.com/rediware/rediware/store/internal/subloop"
)

// hour is a health interval that never passes in a test.
const hour = time.Hour

func TestStart_delivers_messages_that_raced_the_confirmations_first(t *testing.T) {
	c := newConn()
	c.early = []store.Message{msg("early")}
	l := start(t, t.Context(), newDialer(conns(c)), subloop.Config{HealthInterval: hour})
	c.publish(msg("late"))
	expectPublished(t, l, "early")
	expectPublished(t, l, "late")
}

func TestStart_returns_only_after_every_confirmation(t *testing.T) {
	c := newConn()
	c.stuck = true
	d := newDialer(conns(c))
	l := subloop.New(subloop.Config{Dial: d.Dial, Channels: []string{"a", "b"}, Patterns: []string{"p*"}, HealthInterval: hour})
	defer l.Close()
	started := make(chan error, 1)
	go func() { started <- l.Start(t.Context()) }()
	<-c.subbed
	for range 2 {
		c.pushes <- push{ev: subloop.Event{Kind: subloop.Confirmed}}
	}
	c.pushes <- push{ev: subloop.Event{Kind: subloop.Alive}} // not a confirmation
	select {
	case err := <-started:
		t.Fatalf("Start returned (%v) with 2 of 3 confirmations", err)
	case <-time.After(50 * time.Millisecond):
	}
	c.pushes <- push{ev: subloop.Event{Kind: subloop.Confirmed}}
	if err := <-started; err != nil {
		t.Fatal(err)
	}
}

func TestLoop_delivers_Reconnected_after_the_old_and_before_the_new_connections_messages(t *testing.T) {
	c1, c2 := newConn(), newConn()
	c2.early = []store.Message{msg("early2")}
	l := start(t, t.Context(), newDialer(conns(c1, c2)), subloop.Config{HealthInterval: hour})
	c1.publish(msg("one"))
	c1.publish(msg("two"))
	c1.drop()
	expectPublished(t, l, "one")
	expectPublished(t, l, "two")
	expectReconnected(t, l)
	expectPublished(t, l, "early2")
	c2.publish(msg("three"))
	expectPublished(t, l, "three")
	waitClosed(t, c1)
}

func TestLoop_resubscribes_the_same_channels_and_patterns(t *testing.T) {
	var (
		mu   sync.Mutex
		subs [][]string
	)
	c1, c2 := newConn(), newConn()
	d := newDialer(conns(c1, c2))
	l := subloop.New(subloop.Config{
		Dial: func(ctx context.Context) (subloop.Conn, error) {
			c, err := d.Dial(ctx)
			if err != nil {
				return nil, err
			}
			return recording{c, func(ch, pat []string) {
				mu.Lock()
				subs = append(subs, append(slices.Clone(ch), pat...))
				mu.Unlock()
			}}, nil
		},
		Channels: []string{"a", "b"}, Patterns: []string{"p*"}, HealthInterval: hour,
	})
	if err := l.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	c1.drop()
	expectReconnected(t, l)
	mu.Lock()
	defer mu.Unlock()
	want := [][]string{{"a", "b", "p*"}, {"a", "b", "p*"}}
	if len(subs) != 2 || !slices.Equal(subs[0], want[0]) || !slices.Equal(subs[1], want[1]) {
		t.Fatalf("subscriptions = %q, want %q", subs, want)
	}
}

// recording is a Conn that reports its Subscribe calls.
type recording struct {
	subloop.Conn
	saw func(channels, patterns []string)
}

func (r recording) Subscribe(ctx context.Context, channels, patterns []string) error {
	r.saw(channels, patterns)
	return r.Conn.Subscribe(ctx, channels, patterns)
}

func TestLoop_backoff_doubles_up_to_the_cap_and_restarts_after_a_reconnect(t *testing.T) {
	c1, c2, c3 := newConn(), newConn(), newConn()
	d := newDialer(func(n int) (*fakeConn, error) {
		switch n {
		case 0:
			return c1, nil
		case 7:
			return c2, nil
		case 10:
			return c3, nil
		}
		return nil, errDial // 1-6 and 8-9
	})
	var (
		mu    sync.Mutex
		waits []time.Duration
	)
	after := func(d time.Duration) <-chan time.Time {
		mu.Lock()
		waits = append(waits, d)
		mu.Unlock()
		ch := make(chan time.Time, 1)
		ch <- time.Time{}
		return ch
	}
	ms := time.Millisecond
	l := start(t, t.Context(), d, subloop.Config{HealthInterval: hour, MinBackoff: 10 * ms, MaxBackoff: 80 * ms, After: after})
	expectWaits := func(want ...time.Duration) {
		t.Helper()
		mu.Lock()
		defer mu.Unlock()
		if !slices.Equal(waits, want) {
			t.Fatalf("backoffs = %v, want %v", waits, want)
		}
		waits = nil
	}
	c1.drop()
	expectReconnected(t, l)
	expectWaits(10*ms, 20*ms, 40*ms, 80*ms, 80*ms, 80*ms)
	c2.drop()
	expectReconnected(t, l)
	expectWaits(10*ms, 20*ms)
}

func TestLoop_pings_a_silent_connection_and_replaces_it_without_an_answer(t *testing.T) {
	c1, c2 := newConn(), newConn()
	c1.silent = true
	d := newDialer(conns(c1, c2))
	l := start(t, t.Context(), d, subloop.Config{HealthInterval: 20 * time.Millisecond})
	expectReconnected(t, l)
	waitClosed(t, c1)
	if n := c1.pings.Load(); n != 1 {
		t.Fatalf("%d pings on the silent connection, want 1", n)
	}
	c2.publish(msg("after"))
	expectPublished(t, l, "after")
}

func TestLoop_keeps_a_silent_connection_that_answers_pings(t *testing.T) {
	c := newConn()
	d := newDialer(conns(c))
	l := start(t, t.Context(), d, subloop.Config{HealthInterval: 10 * time.Millisecond})
	// Without the answers resetting the timer, the second silence after the
	// first ping would replace the connection.
	for range 4 {
		select {
		case <-c.pinged:
		case <-time.After(5 * time.Second):
			t.Fatal("no ping within 5s")
		}
	}
	if n := d.attempts.Load(); n != 1 {
		t.Fatalf("%d dials, want 1", n)
	}
	select {
	case m := <-l.Messages():
		t.Fatalf("message %v %q on a healthy connection", m.Kind, m.Payload)
	default:
	}
	c.publish(msg("still"))
	expectPublished(t, l, "still")
}

// failingPing is a Conn whose Ping fails as on a broken connection.
type failingPing struct{ *fakeConn }

func (failingPing) Ping(context.Context) error { return errDropped }

func TestLoop_replaces_the_connection_when_the_ping_fails(t *testing.T) {
	c1, c2 := newConn(), newConn()
	d := newDialer(conns(c1, c2))
	l := subloop.New(subloop.Config{
		Dial: func(ctx context.Context) (subloop.Conn, error) {
			c, err := d.Dial(ctx)
			if c == c1 {
				return failingPing{c1}, nil
			}
			return c, err
		},
		Channels: []string{"ch"}, HealthInterval: 10 * time.Millisecond,
	})
	if err := l.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	expectReconnected(t, l)
	waitClosed(t, c1)
}

func TestLoop_ends_with_the_Start_context(t *testing.T) {
	c := newConn()
	var closes atomic.Int32
	ctx, cancel := context.WithCancel(t.Context())
	l := start(t, ctx, newDialer(conns(c)), subloop.Config{HealthInterval: hour, OnClose: func() { closes.Add(1) }})
	cancel()
	drained(t, l)
	waitClosed(t, c)
	l.Close()
	if n := closes.Load(); n != 1 {
		t.Fatalf("OnClose called %d times, want 1", n)
	}
}

func TestClose_ends_Messages_and_closes_the_connection(t *testing.T) {
	c := newConn()
	var closes atomic.Int32
	l := start(t, t.Context(), newDialer(conns(c)), subloop.Config{HealthInterval: hour, OnClose: func() { closes.Add(1) }})
	c.publish(msg("unread"))
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	waitClosed(t, c)
	// A message received before Close may still come out; then the end.
	for {
		select {
		case _, ok := <-l.Messages():
			if ok {
				continue
			}
		case <-time.After(5 * time.Second):
			t.Fatal("Messages not closed within 5s")
		}
		break
	}
	if n := closes.Load(); n != 1 {
		t.Fatalf("OnClose called %d times, want 1", n)
	}
}

func TestClose_while_waiting_to_reconnect_ends_the_loop(t *testing.T) {
	c := newConn()
	waiting := make(chan struct{}, 1)
	after := func(time.Duration) <-chan time.Time {
		waiting <- struct{}{}
		return nil // never fires
	}
	l := start(t, t.Context(), newDialer(conns(c)), subloop.Config{HealthInterval: hour, After: after})
	c.drop()
	<-waiting
	l.Close()
	drained(t, l)
}

func TestClose_while_resubscribing_closes_the_new_connection(t *testing.T) {
	c1, c2 := newConn(), newConn()
	c2.stuck = true // the confirmations never come
	l := start(t, t.Context(), newDialer(conns(c1, c2)), subloop.Config{HealthInterval: hour, OpenTimeout: hour})
	c1.drop()
	<-c2.subbed
	l.Close()
	waitClosed(t, c2)
	drained(t, l)
}

func TestLoop_gives_up_a_reconnect_attempt_after_OpenTimeout(t *testing.T) {
	c1, c2, c3 := newConn(), newConn(), newConn()
	c2.stuck = true
	l := start(t, t.Context(), newDialer(conns(c1, c2, c3)), subloop.Config{HealthInterval: hour, OpenTimeout: 20 * time.Millisecond})
	c1.drop()
	expectReconnected(t, l)
	waitClosed(t, c2)
	c3.publish(msg("on c3"))
	expectPublished(t, l, "on c3")
}

func TestStart_fails_with_the_dial_error(t *testing.T) {
	var closes atomic.Int32
	l := subloop.New(subloop.Config{Dial: newDialer(conns()).Dial, Channels: []string{"ch"}, OnClose: func() { closes.Add(1) }})
	if err := l.Start(t.Context()); !errors.Is(err, errDial) {
		t.Fatalf("Start = %v, want the dial error", err)
	}
	drained(t, l)
	if n := closes.Load(); n != 1 {
		t.Fatalf("OnClose called %d times, want 1", n)
	}
}

func TestStart_fails_with_ErrUnavailable_when_its_context_ends_before_the_confirmations(t *testing.T) {
	c := newConn()
	c.stuck = true
	l := subloop.New(subloop.Config{Dial: newDialer(conns(c)).Dial, Channels: []string{"ch"}})
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	err := startWithin(t, l, ctx)
	if !errors.Is(err, store.ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Start = %v, want ErrUnavailable and DeadlineExceeded", err)
	}
	waitClosed(t, c)
	drained(t, l)
}

func TestStart_fails_with_ErrClosed_when_closed_meanwhile(t *testing.T) {
	c := newConn()
	c.stuck = true
	l := subloop.New(subloop.Config{Dial: newDialer(conns(c)).Dial, Channels: []string{"ch"}})
	go func() {
		<-c.subbed
		l.Close()
	}()
	if err := startWithin(t, l, t.Context()); !errors.Is(err, store.ErrClosed) {
		t.Fatalf("Start = %v, want ErrClosed", err)
	}
	waitClosed(t, c)
}

func TestStart_after_Close_fails_with_ErrClosed(t *testing.T) {
	d := newDialer(conns(newConn()))
	l := subloop.New(subloop.Config{Dial: d.Dial, Channels: []string{"ch"}})
	l.Close()
	if err := l.Start(t.Context()); !errors.Is(err, store.ErrClosed) {
		t.Fatalf("Start = %v, want ErrClosed", err)
	}
	if n := d.attempts.Load(); n != 0 {
		t.Fatalf("%d dials after Close, want 0", n)
	}
	drained(t, l)
}

func TestLoop_leaves_no_goroutine_behind(t *testing.T) {
	before := runtime.NumGoroutine()
	for i := range 20 {
		c1, c2 := newConn(), newConn()
		c1.silent = i%2 == 0
		ctx, cancel := context.WithCancel(t.Context())
		l := start(t, ctx, newDialer(conns(c1, c2)), subloop.Config{HealthInterval: 5 * time.Millisecond})
		if !c1.silent {
			c1.drop()
		}
		expectReconnected(t, l)
		c2.publish(msg("x"))
		expectPublished(t, l, "x")
		if i%3 == 0 {
			cancel()
		} else {
			l.Close()
		}
		drained(t, l)
		cancel()
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("%d goroutines, %d before:\n%s", runtime.NumGoroutine(), before, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// startWithin returns what l.Start(ctx) returns, failing the test if it
// has not returned within 5s.
func startWithin(t *testing.T, l *subloop.Loop, ctx context.Context) error {
	t.Helper()
	ch := make(chan error, 1)
	go func() { ch <- l.Start(ctx) }()
	select {
	case err := <-ch:
		return err
	case <-time.After(5 * time.Second):
		t.Fatal("Start still blocked after 5s")
	}
	panic("unreachable")
}
