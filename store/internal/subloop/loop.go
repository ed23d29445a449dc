package subloop

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/rediware/rediware/store"
)

// Defaults of the Config fields.
const (
	DefaultHealthInterval = 5 * time.Second
	DefaultMinBackoff     = 20 * time.Millisecond
	DefaultMaxBackoff     = time.Second
	DefaultOpenTimeout    = 2 * time.Second
)

// bufferSize is how many messages wait in Messages for a slow reader before
// the loop stops receiving.
const bufferSize = 64

// Config configures a Loop. Dial and at least one channel or pattern are
// required; every other field has a working zero value.
type Config struct {
	// Dial opens a new connection, not yet subscribed, bounded by ctx. Its
	// errors, and those of the Conn's methods, should already be classed
	// (store.ErrUnavailable, ...): Start returns them as they are.
	Dial func(ctx context.Context) (Conn, error)

	// Channels and Patterns are subscribed on every connection.
	Channels, Patterns []string

	// HealthInterval is how long the loop waits for anything from the
	// server before it pings, and how long it then waits for the answer
	// before it replaces the connection. Default: DefaultHealthInterval.
	HealthInterval time.Duration

	// MinBackoff is the wait after the first failed reconnect attempt; it
	// doubles after each further failure up to MaxBackoff, and starts from
	// MinBackoff again after a reconnect. Defaults: DefaultMinBackoff and
	// DefaultMaxBackoff.
	MinBackoff, MaxBackoff time.Duration

	// OpenTimeout bounds each reconnect attempt: dial, subscribe and the
	// confirmations. Default: DefaultOpenTimeout.
	OpenTimeout time.Duration

	// After returns a channel that fires after the given backoff. Default:
	// time.After; tests replace it to see the backoffs without waiting.
	After func(time.Duration) <-chan time.Time

	// OnClose, when set, is called once when the Loop closes: by Close, by
	// the end of Start's context, or by a failed Start.
	OnClose func()
}

// Loop is a store.Subscription that keeps its connection alive. Make one
// with New and start it with Start.
type Loop struct {
	cfg  Config
	out  chan store.Message
	done chan struct{} // closed by Close, under mu

	mu      sync.Mutex
	ctx     context.Context // reconnects' and pings' context, ended by Close
	cancel  context.CancelFunc
	conn    Conn        // the connection being opened or in use; Close closes it
	unwatch func() bool // stops watching Start's context
	started bool

	closeOnce sync.Once
}

var _ store.Subscription = (*Loop)(nil)

// New returns a Loop for cfg, not started: it neither connects nor starts
// a goroutine.
func New(cfg Config) *Loop {
	if cfg.HealthInterval <= 0 {
		cfg.HealthInterval = DefaultHealthInterval
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = DefaultMinBackoff
	}
	if cfg.MaxBackoff < cfg.MinBackoff {
		cfg.MaxBackoff = max(DefaultMaxBackoff, cfg.MinBackoff)
	}
	if cfg.OpenTimeout <= 0 {
		cfg.OpenTimeout = DefaultOpenTimeout
	}
	if cfg.After == nil {
		cfg.After = time.After
	}
	return &Loop{cfg: cfg, out: make(chan store.Message, bufferSize), done: make(chan struct{})}
}

var errStarted = errors.New("subloop: Start called twice")

// Start opens the first connection with ctx and returns once the server
// has confirmed every channel and pattern, so that a message published
// after Start returns is delivered. The Loop then runs until Close or the
// end of ctx. When Start fails the Loop is closed; after Close, Start fails
// with store.ErrClosed.
func (l *Loop) Start(ctx context.Context) error {
	l.mu.Lock()
	if l.started {
		l.mu.Unlock()
		return errStarted
	}
	l.started = true
	if l.isDone() {
		l.mu.Unlock()
		close(l.out)
		return store.ErrClosed
	}
	// Reconnects keep ctx's values but not its end, which closes the Loop.
	l.ctx, l.cancel = context.WithCancel(context.WithoutCancel(ctx))
	l.mu.Unlock()

	c, pending, err := l.open(ctx)
	if err != nil {
		l.Close()
		close(l.out)
		return err
	}
	l.mu.Lock()
	if !l.isDone() {
		l.unwatch = context.AfterFunc(ctx, func() { l.Close() })
	}
	l.mu.Unlock()
	go l.run(c, pending)
	return nil
}

// Messages implements store.Subscription.
func (l *Loop) Messages() <-chan store.Message { return l.out }

// Close implements store.Subscription. It does not wait for the loop to
// end: Messages is closed soon after.
func (l *Loop) Close() error {
	l.closeOnce.Do(func() {
		l.mu.Lock()
		close(l.done)
		c, cancel, unwatch := l.conn, l.cancel, l.unwatch
		l.mu.Unlock()
		if cancel != nil {
			cancel()
		}
		if unwatch != nil {
			unwatch()
		}
		if c != nil {
			c.Close()
		}
		if l.cfg.OnClose != nil {
			l.cfg.OnClose()
		}
	})
	return nil
}

func (l *Loop) isDone() bool {
	select {
	case <-l.done:
		return true
	default:
		return false
	}
}

// open dials, subscribes, and waits until the server has confirmed every
// channel and pattern; the end of ctx or Close interrupts it by closing the
// connection. Messages that arrive between the confirmations are returned,
// to be delivered after the caller reports the (re)connection.
func (l *Loop) open(ctx context.Context) (Conn, []store.Message, error) {
	c, err := l.cfg.Dial(ctx)
	if err != nil {
		return nil, nil, l.openErr(ctx, err)
	}
	l.mu.Lock()
	if l.isDone() {
		l.mu.Unlock()
		c.Close()
		return nil, nil, store.ErrClosed
	}
	l.conn = c
	l.mu.Unlock()

	stop := context.AfterFunc(ctx, func() { c.Close() })
	pending, err := l.subscribe(ctx, c)
	if !stop() && err == nil {
		err = ctx.Err() // ctx ended just as the last confirmation came
	}
	if err != nil {
		c.Close()
		return nil, nil, l.openErr(ctx, err)
	}
	return c, pending, nil
}

func (l *Loop) subscribe(ctx context.Context, c Conn) ([]store.Message, error) {
	if err := c.Subscribe(ctx, l.cfg.Channels, l.cfg.Patterns); err != nil {
		return nil, err
	}
	var pending []store.Message
	for want := len(l.cfg.Channels) + len(l.cfg.Patterns); want > 0; {
		ev, err := c.Receive()
		if err != nil {
			return nil, err
		}
		switch ev.Kind {
		case Confirmed:
			want--
		case Published:
			// A message can race the confirmation of a later channel.
			pending = append(pending, ev.Message)
		}
	}
	return pending, nil
}

// openErr classes a failure of open: a closed Loop is store.ErrClosed, and
// the end of ctx (which shows as a closed connection) store.ErrUnavailable.
func (l *Loop) openErr(ctx context.Context, err error) error {
	if l.isDone() {
		return store.ErrClosed
	}
	if ctx.Err() != nil && !errors.Is(err, store.ErrUnavailable) {
		return fmt.Errorf("%w: %w", store.ErrUnavailable, ctx.Err())
	}
	return err
}

func (l *Loop) deliver(m store.Message) bool {
	select {
	case l.out <- m:
		return true
	case <-l.done:
		return false
	}
}

// run delivers the messages of one connection after another until Close.
// pending are the messages received while c was opened.
func (l *Loop) run(c Conn, pending []store.Message) {
	defer close(l.out)
	for {
		for _, m := range pending {
			if !l.deliver(m) {
				c.Close()
				return
			}
		}
		l.serve(c)
		c, pending = l.reopen()
		if c == nil {
			return
		}
		if !l.deliver(store.Message{Kind: store.Reconnected}) {
			c.Close()
			return
		}
	}
}

// serve delivers what c receives until c fails, stays silent for a health
// interval after a ping, or the Loop closes. It closes c and returns once
// its reading goroutine has ended.
func (l *Loop) serve(c Conn) {
	type received struct {
		ev  Event
		err error
	}
	recv := make(chan received)
	quit := make(chan struct{})
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		for {
			ev, err := c.Receive()
			select {
			case recv <- received{ev, err}:
			case <-quit:
				return
			}
			if err != nil {
				return
			}
		}
	}()
	defer func() {
		c.Close() // ends a blocked Receive
		close(quit)
		<-readerDone
	}()

	interval := l.cfg.HealthInterval
	timer := time.NewTimer(interval)
	defer timer.Stop()
	pinged := false
	for {
		select {
		case r := <-recv:
			if r.err != nil {
				return
			}
			if r.ev.Kind == Published && !l.deliver(r.ev.Message) {
				return
			}
			pinged = false
			timer.Reset(interval)
		case <-timer.C:
			if pinged {
				return // no answer to the ping
			}
			// Silence: ask the server; its answer resets the timer.
			ctx, cancel := context.WithTimeout(l.ctx, interval)
			err := c.Ping(ctx)
			cancel()
			if err != nil {
				return
			}
			pinged = true
			timer.Reset(interval)
		case <-l.done:
			return
		}
	}
}

// reopen retries open with capped exponential backoff until it succeeds or
// the Loop is closed (then it returns a nil Conn).
func (l *Loop) reopen() (Conn, []store.Message) {
	backoff := l.cfg.MinBackoff
	for !l.isDone() {
		ctx, cancel := context.WithTimeout(l.ctx, l.cfg.OpenTimeout)
		c, pending, err := l.open(ctx)
		cancel()
		if err == nil {
			return c, pending
		}
		select {
		case <-l.done:
			return nil, nil
		case <-l.cfg.After(backoff):
		}
		backoff = min(2*backoff, l.cfg.MaxBackoff)
	}
	return nil, nil
}
