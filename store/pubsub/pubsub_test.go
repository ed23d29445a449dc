package pubsub_test

import (
	"encoding/binary"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rediware/rediware/internal/redistest"
	"github.com/rediware/rediware/store/cache"
	"github.com/rediware/rediware/store/goredis"
	"github.com/rediware/rediware/store/pubsub"
)

func TestMain(m *testing.M) { redistest.Main(m) }

type shipped struct {
	OrderID int `json:"order_id"`
	UserID  int `json:"user_id"`
}

func newStore(t *testing.T, srv *redistest.Server) *goredis.Store {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: srv.Addr(), MaxRetries: -1})
	t.Cleanup(func() { c.Close() })
	s, _ := goredis.NewWithOptions(c, goredis.Options{SubscriptionHealthInterval: 200 * time.Millisecond})
	return s
}

func next[T any](t *testing.T, sub *pubsub.Subscription[T]) pubsub.Message[T] {
	t.Helper()
	select {
	case m, ok := <-sub.Messages():
		if !ok {
			t.Fatal("subscription closed")
		}
		return m
	case <-time.After(30 * time.Second):
		t.Fatal("no message")
	}
	panic("unreachable")
}

func TestSubscribe_channels_and_patterns_typed(t *testing.T) {
	srv := redistest.Start(t)
	s := newStore(t, srv)
	ctx := t.Context()
	sub, err := pubsub.Subscribe[shipped](ctx, s, []string{"orders"}, []string{"user:*:notify"}, pubsub.Options[shipped]{})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	if n, err := pubsub.Publish(ctx, s, "orders", shipped{7, 42}); err != nil || n != 1 {
		t.Fatalf("Publish = %d %v", n, err)
	}
	m := next(t, sub)
	if m.Channel != "orders" || m.Value != (shipped{7, 42}) || m.Err != nil {
		t.Fatalf("message %+v", m)
	}
	_, _ = pubsub.Publish(ctx, s, "user:42:notify", shipped{8, 42})
	m = next(t, sub)
	if m.Pattern != "user:*:notify" || m.Channel != "user:42:notify" || m.Value.OrderID != 8 {
		t.Fatalf("pattern message %+v", m)
	}
	_, _ = s.Publish(ctx, "orders", []byte("not json"))
	if m = next(t, sub); m.Err == nil || string(m.Raw) != "not json" {
		t.Fatalf("undecodable message %+v, want Err", m)
	}
}

func TestSubscribe_surfaces_reconnects(t *testing.T) {
	srv := redistest.Start(t)
	s := newStore(t, srv)
	ctx := t.Context()
	var calls atomic.Int32
	sub, err := pubsub.Subscribe(ctx, s, []string{"c"}, nil, pubsub.Options[int]{OnReconnect: func() { calls.Add(1) }})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	srv.Restart()
	if m := next(t, sub); !m.Reconnected {
		t.Fatalf("got %+v, want a reconnect", m)
	}
	if calls.Load() != 1 {
		t.Fatalf("OnReconnect called %d times", calls.Load())
	}
	// And messages flow again on the new connection.
	_, _ = pubsub.Publish(ctx, s, "c", 5)
	if m := next(t, sub); m.Value != 5 {
		t.Fatalf("after reconnect got %+v", m)
	}
}

func TestSubscription_Close_closes_Messages(t *testing.T) {
	srv := redistest.Start(t)
	s := newStore(t, srv)
	sub, err := pubsub.Subscribe(t.Context(), s, []string{"c"}, nil, pubsub.Options[int]{})
	if err != nil {
		t.Fatal(err)
	}
	_ = sub.Close()
	_ = sub.Close()
	select {
	case _, ok := <-sub.Messages():
		if ok {
			t.Fatal("message after Close")
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Messages not closed")
	}
}

// fragile's UnmarshalBinary panics on a short buffer, as hand-written
// decoders often do.
type fragile struct{ N uint64 }

func (f *fragile) MarshalBinary() ([]byte, error) {
	return binary.BigEndian.AppendUint64(nil, f.N), nil
}
func (f *fragile) UnmarshalBinary(b []byte) error {
	f.N = binary.BigEndian.Uint64(b)
	return nil
}

func TestSubscribe_codec_panic_is_a_decode_error(t *testing.T) {
	srv := redistest.Start(t)
	s := newStore(t, srv)
	ctx := t.Context()
	codec := cache.Binary[fragile]()
	sub, err := pubsub.Subscribe(ctx, s, []string{"c"}, nil, pubsub.Options[fragile]{Codec: codec})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	_, _ = s.Publish(ctx, "c", []byte{1, 2})
	if m := next(t, sub); m.Err == nil || m.Value != (fragile{}) || string(m.Raw) != "\x01\x02" {
		t.Fatalf("undecodable message %+v, want Err", m)
	}
	_, _ = pubsub.PublishWith(ctx, s, codec, "c", fragile{9})
	if m := next(t, sub); m.Err != nil || m.Value.N != 9 {
		t.Fatalf("after a bad message got %+v", m)
	}
}
