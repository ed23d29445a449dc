package goredis

import (
	"context"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rediware/rediware/store"
)

// Subscribe implements store.Store. The subscription owns one connection;
// when it fails (or stays silent past a health ping) the subscription
// opens a new one, resubscribes, and delivers a store.Reconnected message
// before any message from the new connection.
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
	ps, pending, err := sub.open(ctx)
	if err != nil {
		return nil, err
	}
	loopCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	sub.cancel = cancel
	s.subsMu.Lock()
	if s.subs == nil {
		s.subs = make(map[*subscription]struct{})
	}
	s.subs[sub] = struct{}{}
	s.subsMu.Unlock()
	go func() {
		// The subscription ends with the Subscribe context too.
		select {
		case <-ctx.Done():
			sub.Close()
		case <-sub.done:
		}
	}()
	go sub.loop(loopCtx, ps, pending)
	return sub, nil
}

type subscription struct {
	s                  *Store
	channels, patterns []string
	out                chan store.Message
	done               chan struct{}
	cancel             context.CancelFunc
	closeOnce          sync.Once

	mu sync.Mutex
	ps *redis.PubSub
}

// open makes a PubSub and waits until every subscription is confirmed. It
// returns the messages that arrived meanwhile, for the caller to deliver
// after it reports the (re)connection.
func (sub *subscription) open(ctx context.Context) (*redis.PubSub, []store.Message, error) {
	ps := sub.s.client.Subscribe(ctx)
	want := 0
	if len(sub.channels) > 0 {
		if err := ps.Subscribe(ctx, sub.channels...); err != nil {
			ps.Close()
			return nil, nil, wrapErr(err)
		}
		want += len(sub.channels)
	}
	if len(sub.patterns) > 0 {
		if err := ps.PSubscribe(ctx, sub.patterns...); err != nil {
			ps.Close()
			return nil, nil, wrapErr(err)
		}
		want += len(sub.patterns)
	}
	var pending []store.Message
	for confirmed := 0; confirmed < want; {
		m, err := ps.Receive(ctx)
		if err != nil {
			ps.Close()
			return nil, nil, wrapErr(err)
		}
		switch m := m.(type) {
		case *redis.Subscription:
			confirmed++
		case *redis.Message:
			// A message can race the confirmations of a second pattern.
			pending = append(pending, convert(m))
		}
	}
	sub.mu.Lock()
	sub.ps = ps
	sub.mu.Unlock()
	return ps, pending, nil
}

func convert(m *redis.Message) store.Message {
	return store.Message{Kind: store.Published, Channel: m.Channel, Pattern: m.Pattern, Payload: []byte(m.Payload)}
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

func (sub *subscription) loop(ctx context.Context, ps *redis.PubSub, pending []store.Message) {
	defer close(sub.out)
	for _, m := range pending {
		if !sub.deliver(ctx, m) {
			return
		}
	}
	interval := sub.s.opts.SubscriptionHealthInterval
	pinged := false
	for {
		m, err := ps.ReceiveTimeout(ctx, interval)
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			pinged = false
			if msg, ok := m.(*redis.Message); ok {
				if !sub.deliver(ctx, convert(msg)) {
					return
				}
			}
			continue
		}
		if isTimeout(err) && !pinged {
			// Silence: ask the server; its answer resets the timer.
			if perr := ps.Ping(ctx); perr == nil {
				pinged = true
				continue
			}
		}
		// The connection is broken (or silent after a ping): replace it.
		ps.Close()
		ps, pending = sub.reopen(ctx)
		if ps == nil {
			return
		}
		pinged = false
		if !sub.deliver(ctx, store.Message{Kind: store.Reconnected}) {
			return
		}
		for _, m := range pending {
			if !sub.deliver(ctx, m) {
				return
			}
		}
	}
}

// reopen retries open with capped exponential backoff until it succeeds or
// the subscription is closed.
func (sub *subscription) reopen(ctx context.Context) (*redis.PubSub, []store.Message) {
	backoff := 20 * time.Millisecond
	for {
		octx, cancel := context.WithTimeout(ctx, 2*time.Second)
		ps, pending, err := sub.open(octx)
		cancel()
		if err == nil {
			return ps, pending
		}
		select {
		case <-ctx.Done():
			return nil, nil
		case <-time.After(backoff):
		}
		if backoff *= 2; backoff > time.Second {
			backoff = time.Second
		}
	}
}

func (sub *subscription) Messages() <-chan store.Message { return sub.out }

func (sub *subscription) Close() error {
	sub.closeOnce.Do(func() {
		sub.s.subsMu.Lock()
		delete(sub.s.subs, sub)
		sub.s.subsMu.Unlock()
		close(sub.done)
		sub.cancel()
		sub.mu.Lock()
		if sub.ps != nil {
			sub.ps.Close()
		}
		sub.mu.Unlock()
	})
	return nil
}
