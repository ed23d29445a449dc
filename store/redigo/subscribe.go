package redigo

import (
	"context"

	"github.com/gomodule/redigo/redis"

	"github.com/rediware/rediware/store"
	"github.com/rediware/rediware/store/internal/subloop"
)

// Subscribe implements store.Store. The subscription dials its own
// connection with the pool's Dial function (it is not taken from the pool,
// so it neither counts against MaxActive nor goes back to it). It pings the
// server after SubscriptionHealthInterval of silence, and when the
// connection fails or the ping gets no answer within another interval it
// dials again, resubscribes, and delivers a store.Reconnected message
// before any message from the new connection.
func (s *Store) Subscribe(ctx context.Context, channels, patterns []string) (store.Subscription, error) {
	if len(channels) == 0 && len(patterns) == 0 {
		return nil, errSubscribeNothing
	}
	return s.subs.Subscribe(ctx, subloop.Config{
		Dial:           s.dialPubSub,
		Channels:       channels,
		Patterns:       patterns,
		HealthInterval: s.opts.SubscriptionHealthInterval,
	})
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

func (s *Store) dialPubSub(ctx context.Context) (subloop.Conn, error) {
	c, err := s.dial(ctx)
	if err != nil {
		return nil, err
	}
	return pubSubConn{redis.PubSubConn{Conn: c}}, nil
}

// pubSubConn is a subloop.Conn over a redigo connection: redigo allows one
// writer alongside one reader.
type pubSubConn struct{ psc redis.PubSubConn }

func (c pubSubConn) Subscribe(_ context.Context, channels, patterns []string) error {
	if len(channels) > 0 {
		if err := c.psc.Subscribe(strArgs(channels)...); err != nil {
			return wrapErr(err)
		}
	}
	if len(patterns) > 0 {
		if err := c.psc.PSubscribe(strArgs(patterns)...); err != nil {
			return wrapErr(err)
		}
	}
	return nil
}

func (c pubSubConn) Receive() (subloop.Event, error) {
	// No deadline (the loop closes a silent connection), not even the
	// pool's read timeout, which a quiet channel would outlast.
	switch m := c.psc.ReceiveWithTimeout(0).(type) {
	case redis.Message:
		return subloop.Event{Kind: subloop.Published, Message: convert(m)}, nil
	case redis.Subscription:
		return subloop.Event{Kind: subloop.Confirmed}, nil
	case error:
		return subloop.Event{}, wrapErr(m)
	}
	return subloop.Event{Kind: subloop.Alive}, nil // a pong
}

func (c pubSubConn) Ping(context.Context) error { return wrapErr(c.psc.Ping("")) }

func (c pubSubConn) Close() error { return c.psc.Close() }

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
