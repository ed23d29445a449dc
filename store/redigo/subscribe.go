package redigo

import (
	"context"
	"sync"
	"time"

	"github.com/gomodule/redigo/redis"

	"github.com/rediware/rediware/store"
)

// Subscribe implements store.Store. The subscription dials its own
// connection with the pool's Dial function (it is not taken from the pool,
// so it neither counts against MaxActive nor goes back to it), pings the
// server every SubscriptionHealthInterval, and when the connection fails
// or stays silent for two intervals it dials again, resubscribes, and
// delivers a store.Reconnected message before any message from the new
// connection.
func (s *Store) Subscribe(ctx context.Context, channels, patterns []string) (store.Subscription, error) {
	if len(channels) == 0 && len(patterns) == 0 {
		return nil, errSubscribeNothing
	}
	if s.closed.Load() {
		return nil, store.ErrClosed
	}
	sub := &subscription{
		s:        s,
		channels: channels,
		patterns: patterns,
		out:      make(chan store.Message, 64),
		done:     make(chan struct{}),
	}
	c, early, err := sub.open(ctx)
	if err != nil {
		return nil, err
	}
	loopCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	sub.cancel = cancel
	if !s.track(sub) {
		cancel()
		c.Close()
		return nil, store.ErrClosed
	}
	go func() {
		// The subscription ends with the Subscribe context too.
		select {
		case <-ctx.Done():
			sub.Close()
		case <-sub.done:
		}
	}()
	go sub.loop(loopCtx, c, early)
	return sub, nil
}

type subscription struct {
	s                  *Store
	channels, patterns []string
	out                chan store.Message
	done               chan struct{}
	cancel             context.CancelFunc
	closeOnce          sync.Once

	mu   sync.Mutex
	conn redis.Conn // the current connection, closed by Close
}

// dial opens a connection outside the pool, bounded by ctx.
func (s *Store) dial(ctx context.Context) (redis.Conn, error) {
	if s.pool.DialContext != nil {
		c, err := s.pool.DialContext(ctx)
		return c, wrapErr(err)
	}
	if s.pool.Dial == nil {
		return nil, errNoDial
	}
	// Dial takes no context: run it aside and stop waiting at ctx's end.
	type res struct {
		c   redis.Conn
		err error
	}
	ch := make(chan res, 1)
	go func() {
		c, err := s.pool.Dial()
		ch <- res{c, err}
	}()
	select {
	case r := <-ch:
		return r.c, wrapErr(r.err)
	case <-ctx.Done():
		go func() {
			if r := <-ch; r.c != nil {
				r.c.Close()
			}
		}()
		return nil, wrapErr(ctx.Err())
	}
}

// open dials, subscribes, and waits until the server has confirmed every
// channel and pattern. Messages that arrive between confirmations are
// returned, to be delivered after a Reconnected event.
func (sub *subscription) open(ctx context.Context) (redis.Conn, []store.Message, error) {
	c, err := sub.s.dial(ctx)
	if err != nil {
		return nil, nil, err
	}
	psc := redis.PubSubConn{Conn: c}
	fail := func(err error) (redis.Conn, []store.Message, error) {
		c.Close()
		return nil, nil, wrapErr(err)
	}
	want := 0
	if len(sub.channels) > 0 {
		if err := psc.Subscribe(strArgs(sub.channels)...); err != nil {
			return fail(err)
		}
		want += len(sub.channels)
	}
	if len(sub.patterns) > 0 {
		if err := psc.PSubscribe(strArgs(sub.patterns)...); err != nil {
			return fail(err)
		}
		want += len(sub.patterns)
	}
	var early []store.Message
	for confirmed := 0; confirmed < want; {
		switch m := psc.ReceiveContext(ctx).(type) {
		case error:
			return fail(m)
		case redis.Subscription:
			confirmed++
		case redis.Message:
			early = append(early, convert(m))
		}
	}
	sub.mu.Lock()
	select {
	case <-sub.done:
		sub.mu.Unlock()
		return fail(store.ErrClosed)
	default:
	}
	sub.conn = c
	sub.mu.Unlock()
	return c, early, nil
}

func strArgs(ss []string) []any {
	a := make([]any, len(ss))
	for i, s := range ss {
		a[i] = s
	}
	return a
}

func convert(m redis.Message) store.Message {
	return store.Message{Kind: store.Published, Channel: m.Channel, Pattern: m.Pattern, Payload: m.Data}
}

func (sub *subscription) deliver(ctx context.Context, m store.Message) bool {
	select {
	case sub.out <- m:
		return true
	case <-ctx.Done():
		return false
	case <-sub.done:
		return false
	}
}

func (sub *subscription) loop(ctx context.Context, c redis.Conn, early []store.Message) {
	defer close(sub.out)
	interval := sub.s.opts.SubscriptionHealthInterval
	for {
		for _, m := range early {
			if !sub.deliver(ctx, m) {
				c.Close()
				return
			}
		}
		sub.receive(ctx, c, interval)
		c.Close()
		if ctx.Err() != nil {
			return
		}
		select {
		case <-sub.done:
			return
		default:
		}
		// The connection failed or went silent: replace it.
		var ok bool
		c, early, ok = sub.reopen(ctx)
		if !ok {
			return
		}
		if !sub.deliver(ctx, store.Message{Kind: store.Reconnected}) {
			c.Close()
			return
		}
	}
}

// receive delivers messages from c until it fails, stays silent for two
// health intervals despite the pings, or ctx ends.
func (sub *subscription) receive(ctx context.Context, c redis.Conn, interval time.Duration) {
	psc := redis.PubSubConn{Conn: c}
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		// redigo allows one writer alongside one reader on a connection.
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				if psc.Ping("") != nil {
					return // the reader sees the broken connection too
				}
			}
		}
	}()
	for {
		switch m := psc.ReceiveWithTimeout(2 * interval).(type) {
		case error:
			return
		case redis.Message:
			if !sub.deliver(ctx, convert(m)) {
				return
			}
		}
	}
}

// reopen retries open with capped exponential backoff until it succeeds or
// the subscription is closed.
func (sub *subscription) reopen(ctx context.Context) (redis.Conn, []store.Message, bool) {
	backoff := 20 * time.Millisecond
	for {
		octx, cancel := context.WithTimeout(ctx, 2*time.Second)
		c, early, err := sub.open(octx)
		cancel()
		if err == nil {
			return c, early, true
		}
		select {
		case <-ctx.Done():
			return nil, nil, false
		case <-time.After(backoff):
		}
		if backoff *= 2; backoff > time.Second {
			backoff = time.Second
		}
	}
}

func (sub *subscription) Messages() <-chan store.Message { return sub.out }

// track registers sub to be closed by Store.Close; false if the Store is
// already closed.
func (s *Store) track(sub *subscription) bool {
	s.subsMu.Lock()
	defer s.subsMu.Unlock()
	if s.closed.Load() {
		return false
	}
	if s.subs == nil {
		s.subs = make(map[*subscription]struct{})
	}
	s.subs[sub] = struct{}{}
	return true
}

func (sub *subscription) Close() error {
	sub.closeOnce.Do(func() {
		sub.s.subsMu.Lock()
		delete(sub.s.subs, sub)
		sub.s.subsMu.Unlock()
		sub.mu.Lock()
		close(sub.done)
		if sub.conn != nil {
			sub.conn.Close()
		}
		sub.mu.Unlock()
		sub.cancel()
	})
	return nil
}
