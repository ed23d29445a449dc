package pubsub

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/rediware/rediware/store"
	"github.com/rediware/rediware/store/cache"
)

// Publish encodes v as JSON and publishes it on channel. It returns how
// many subscribers received it (0 is not an error: pub/sub is
// fire-and-forget).
func Publish[T any](ctx context.Context, s store.Store, channel string, v T) (int64, error) {
	return PublishWith(ctx, s, cache.JSON[T](), channel, v)
}

// PublishWith is Publish with another codec.
func PublishWith[T any](ctx context.Context, s store.Store, codec cache.Codec[T], channel string, v T) (int64, error) {
	b, err := codec.Append(nil, v)
	if err != nil {
		return 0, fmt.Errorf("pubsub: encode: %w", err)
	}
	return s.Publish(ctx, channel, b)
}

// Message is one delivery of a typed subscription.
type Message[T any] struct {
	// Reconnected reports that the subscription's connection was lost and
	// is back: messages published meanwhile were missed. The other fields
	// are empty. Rebuild any state derived from messages.
	Reconnected bool
	Channel     string
	Pattern     string // the matching pattern, for pattern subscriptions
	Value       T
	// Err is set, and Value is zero, when the payload could not be
	// decoded (a publisher with another type, say), including when the
	// codec panicked on it. Such a message is delivered rather than
	// dropped, so it can be seen and counted.
	Err error
	// Raw is the payload as received.
	Raw []byte
}

// Options configures a typed subscription. The zero value means all
// defaults.
type Options[T any] struct {
	// Codec decodes payloads. Default: JSON.
	Codec cache.Codec[T]
	// OnReconnect, if set, is called (from the delivery goroutine, before
	// the Reconnected message is delivered) each time the subscription
	// reconnects.
	OnReconnect func()
	// Buffer is the capacity of the Messages channel. Default: 64.
	Buffer int
}

// Subscription is a typed subscription. Close it when done.
type Subscription[T any] struct {
	sub  store.Subscription
	out  chan Message[T]
	once sync.Once
	stop chan struct{}
	done chan struct{}
}

// Subscribe subscribes to channels and glob patterns and decodes each
// message as JSON into a T. It returns once the server has confirmed every
// subscription. The subscription survives reconnects and reports each one
// as a Message with Reconnected set (and to Options.OnReconnect).
func Subscribe[T any](ctx context.Context, s store.Store, channels, patterns []string, opts Options[T]) (*Subscription[T], error) {
	if len(channels) == 0 && len(patterns) == 0 {
		return nil, errors.New("pubsub: nothing to subscribe to")
	}
	codec := opts.Codec
	if codec == nil {
		codec = cache.JSON[T]()
	}
	buf := opts.Buffer
	if buf <= 0 {
		buf = 64
	}
	sub, err := s.Subscribe(ctx, channels, patterns)
	if err != nil {
		return nil, err
	}
	ts := &Subscription[T]{sub: sub, out: make(chan Message[T], buf), stop: make(chan struct{}), done: make(chan struct{})}
	go ts.loop(codec, opts.OnReconnect)
	return ts, nil
}

func (ts *Subscription[T]) loop(codec cache.Codec[T], onReconnect func()) {
	defer close(ts.done)
	defer close(ts.out)
	for m := range ts.sub.Messages() {
		var tm Message[T]
		if m.Kind == store.Reconnected {
			if onReconnect != nil {
				onReconnect()
			}
			tm.Reconnected = true
		} else {
			tm.Channel, tm.Pattern, tm.Raw = m.Channel, m.Pattern, m.Payload
			if err := decode(codec, m.Payload, &tm.Value); err != nil {
				var zero T
				tm.Value, tm.Err = zero, fmt.Errorf("pubsub: decode message on %q: %w", m.Channel, err)
			}
		}
		select {
		case ts.out <- tm:
		case <-ts.stop:
			return
		}
	}
}

// decode runs the codec, turning a panic (a decoder that trusts its input)
// into an error: a hostile or foreign payload must not crash the process
// from the delivery goroutine, where no caller could recover it.
func decode[T any](codec cache.Codec[T], b []byte, v *T) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("codec panicked: %v", p)
		}
	}()
	return codec.Unmarshal(b, v)
}

// Messages returns the channel of deliveries. It is closed after Close, or
// when the Subscribe context ends.
func (ts *Subscription[T]) Messages() <-chan Message[T] { return ts.out }

// Close unsubscribes. It is safe to call more than once.
func (ts *Subscription[T]) Close() error {
	var err error
	ts.once.Do(func() {
		close(ts.stop)
		err = ts.sub.Close()
		<-ts.done
	})
	return err
}
