package subloop_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rediware/rediware/store"
	"github.com/rediware/rediware/store/internal/subloop"
)

var (
	errConnClosed = errors.New("fake: use of closed connection")
	errDropped    = errors.New("fake: connection reset by peer")
	errDial       = errors.New("fake: connection refused")
)

// push is what the fake server sends: an event, or the end of the
// connection (err).
type push struct {
	ev  subloop.Event
	err error
}

// fakeConn is a pub/sub connection to a fake server. Its zero options
// confirm every subscription and answer pings.
type fakeConn struct {
	silent  bool            // pings get no answer
	stuck   bool            // Subscribe gets no confirmation
	early   []store.Message // pushed right after the first confirmation
	pushes  chan push       // the server's pushes, in order
	pinged  chan struct{}   // one send per Ping
	closed  chan struct{}   // closed by Close
	subbed  chan struct{}   // closed by Subscribe
	once    sync.Once
	subOnce sync.Once
	pings   atomic.Int32
}

func newConn() *fakeConn {
	return &fakeConn{
		pushes: make(chan push, 256),
		pinged: make(chan struct{}, 256),
		closed: make(chan struct{}),
		subbed: make(chan struct{}),
	}
}

func (c *fakeConn) Subscribe(_ context.Context, channels, patterns []string) error {
	if c.isClosed() {
		return errConnClosed
	}
	c.subOnce.Do(func() { close(c.subbed) })
	if c.stuck {
		return nil
	}
	for i := range len(channels) + len(patterns) {
		c.pushes <- push{ev: subloop.Event{Kind: subloop.Confirmed}}
		if i == 0 {
			for _, m := range c.early {
				c.publish(m)
			}
		}
	}
	return nil
}

func (c *fakeConn) Receive() (subloop.Event, error) {
	if c.isClosed() {
		return subloop.Event{}, errConnClosed
	}
	select {
	case p := <-c.pushes:
		return p.ev, p.err
	case <-c.closed:
		return subloop.Event{}, errConnClosed
	}
}

func (c *fakeConn) Ping(context.Context) error {
	if c.isClosed() {
		return errConnClosed
	}
	c.pings.Add(1)
	c.pinged <- struct{}{}
	if !c.silent {
		c.pushes <- push{ev: subloop.Event{Kind: subloop.Alive}}
	}
	return nil
}

func (c *fakeConn) Close() error {
	c.once.Do(func() { close(c.closed) })
	return nil
}

func (c *fakeConn) isClosed() bool {
	select {
	case <-c.closed:
		return true
	default:
		return false
	}
}

// publish makes the server push m.
func (c *fakeConn) publish(m store.Message) {
	m.Kind = store.Published
	c.pushes <- push{ev: subloop.Event{Kind: subloop.Published, Message: m}}
}

// drop makes the server end the connection after what it pushed already.
func (c *fakeConn) drop() { c.pushes <- push{err: errDropped} }

// dialer hands out connections: plan(n) answers the n-th dial (from 0).
type dialer struct {
	plan     func(n int) (*fakeConn, error)
	attempts atomic.Int32
	dialed   chan *fakeConn // every connection handed out
}

func newDialer(plan func(n int) (*fakeConn, error)) *dialer {
	return &dialer{plan: plan, dialed: make(chan *fakeConn, 256)}
}

// conns is a plan that hands out cs in turn, then fails.
func conns(cs ...*fakeConn) func(n int) (*fakeConn, error) {
	return func(n int) (*fakeConn, error) {
		if n < len(cs) {
			return cs[n], nil
		}
		return nil, errDial
	}
}

func (d *dialer) Dial(context.Context) (subloop.Conn, error) {
	n := int(d.attempts.Add(1)) - 1
	c, err := d.plan(n)
	if err != nil {
		return nil, err
	}
	d.dialed <- c
	return c, nil
}

// next returns the next connection handed out.
func (d *dialer) next(t *testing.T) *fakeConn {
	t.Helper()
	select {
	case c := <-d.dialed:
		return c
	case <-time.After(5 * time.Second):
		t.Fatal("no dial within 5s")
	}
	panic("unreachable")
}

// start starts a Loop over d on channel "ch" and pattern "p*", ending it
// with the test.
func start(t *testing.T, ctx context.Context, d *dialer, cfg subloop.Config) *subloop.Loop {
	t.Helper()
	cfg.Dial = d.Dial
	cfg.Channels, cfg.Patterns = []string{"ch"}, []string{"p*"}
	l := subloop.New(cfg)
	if err := l.Start(ctx); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// receive returns the next message of l, failing after 5s or if Messages
// is closed.
func receive(t *testing.T, l *subloop.Loop) store.Message {
	t.Helper()
	select {
	case m, ok := <-l.Messages():
		if !ok {
			t.Fatal("Messages closed")
		}
		return m
	case <-time.After(5 * time.Second):
		t.Fatal("no message within 5s")
	}
	panic("unreachable")
}

// expectPublished receives a published message with payload want.
func expectPublished(t *testing.T, l *subloop.Loop, want string) {
	t.Helper()
	if m := receive(t, l); m.Kind != store.Published || string(m.Payload) != want {
		t.Fatalf("message = %v %q, want published %q", m.Kind, m.Payload, want)
	}
}

// expectReconnected receives a Reconnected message.
func expectReconnected(t *testing.T, l *subloop.Loop) {
	t.Helper()
	if m := receive(t, l); m.Kind != store.Reconnected {
		t.Fatalf("message = %v %q, want reconnected", m.Kind, m.Payload)
	}
}

// drained waits for Messages to be closed, failing after 5s or on a
// message.
func drained(t *testing.T, l *subloop.Loop) {
	t.Helper()
	select {
	case m, ok := <-l.Messages():
		if ok {
			t.Fatalf("message %v %q, want Messages closed", m.Kind, m.Payload)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Messages not closed within 5s")
	}
}

// waitClosed fails unless c is closed within 5s.
func waitClosed(t *testing.T, c *fakeConn) {
	t.Helper()
	select {
	case <-c.closed:
	case <-time.After(5 * time.Second):
		t.Fatal("connection not closed within 5s")
	}
}

func msg(payload string) store.Message {
	return store.Message{Kind: store.Published, Channel: "ch", Payload: []byte(payload)}
}
