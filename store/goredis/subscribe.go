package goredis

import (
	"context"

	"github.com/redis/go-redis/v9"

	"github.com/rediware/rediware/store"
	"github.com/rediware/rediware/store/internal/subloop"
)

// Subscribe implements store.Store. The subscription owns one connection;
// when it fails (or stays silent past a health ping) the subscription
// opens a new one, resubscribes, and delivers a store.Reconnected message
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

// dialPubSub makes a PubSub; it connects on Subscribe (on Cluster, to the
// node of the first channel).
func (s *Store) dialPubSub(ctx context.Context) (subloop.Conn, error) {
	// Receive's context: no deadline, but Close ends it, and with it the
	// redial go-redis makes by itself after a read error.
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	return &pubSubConn{ps: s.client.Subscribe(ctx), ctx: rctx, cancel: cancel}, nil
}

// pubSubConn is a subloop.Conn over a go-redis PubSub, which allows pings
// and subscriptions while a Receive waits.
type pubSubConn struct {
	ps     *redis.PubSub
	ctx    context.Context
	cancel context.CancelFunc
}

func (c *pubSubConn) Subscribe(ctx context.Context, channels, patterns []string) error {
	if len(channels) > 0 {
		if err := c.ps.Subscribe(ctx, channels...); err != nil {
			return wrapErr(err)
		}
	}
	if len(patterns) > 0 {
		if err := c.ps.PSubscribe(ctx, patterns...); err != nil {
			return wrapErr(err)
		}
	}
	return nil
}

func (c *pubSubConn) Receive() (subloop.Event, error) {
	m, err := c.ps.Receive(c.ctx)
	if err != nil {
		return subloop.Event{}, wrapErr(err)
	}
	switch m := m.(type) {
	case *redis.Message:
		return subloop.Event{Kind: subloop.Published, Message: convert(m)}, nil
	case *redis.Subscription:
		return subloop.Event{Kind: subloop.Confirmed}, nil
	}
	return subloop.Event{Kind: subloop.Alive}, nil // a pong
}

func (c *pubSubConn) Ping(ctx context.Context) error { return wrapErr(c.ps.Ping(ctx)) }

func (c *pubSubConn) Close() error {
	c.cancel()
	return c.ps.Close()
}

func convert(m *redis.Message) store.Message {
	return store.Message{Kind: store.Published, Channel: m.Channel, Pattern: m.Pattern, Payload: []byte(m.Payload)}
}
