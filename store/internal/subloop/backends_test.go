package subloop_test

import (
	"testing"
	"time"

	"github.com/rediware/rediware/internal/redistest"
	"github.com/rediware/rediware/store"
	"github.com/rediware/rediware/store/goredis"
	"github.com/rediware/rediware/store/redigo"
)

// The two backends' Conn adapters against a real redis-server: what the
// fake connection cannot show is that each client's pong and subscription
// confirmations are told apart from messages, and that a ping goes out while
// a Receive waits.

type backend struct {
	name string
	open func(t *testing.T, url string, health time.Duration) store.Store
}

var backends = []backend{
	{"goredis", func(t *testing.T, url string, health time.Duration) store.Store {
		s, err := goredis.Open(url, goredis.Options{SubscriptionHealthInterval: health})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}},
	{"redigo", func(t *testing.T, url string, health time.Duration) store.Store {
		s, err := redigo.Open(url, redigo.Options{SubscriptionHealthInterval: health})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}},
}

// publishReceived publishes payload on ch until it arrives on sub (the
// server may still be coming back), skipping nothing: the first message
// must be payload.
func publishReceived(t *testing.T, s store.Store, sub store.Subscription, ch, payload string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		n, err := s.Publish(t.Context(), ch, []byte(payload))
		if err == nil && n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Publish: %d receivers, %v", n, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	select {
	case m := <-sub.Messages():
		if m.Kind != store.Published || string(m.Payload) != payload {
			t.Fatalf("message = %v %q, want published %q", m.Kind, m.Payload, payload)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no message within 5s")
	}
}

func TestBackends_keep_a_quiet_healthy_subscription(t *testing.T) {
	srv := redistest.Start(t)
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			s := b.open(t, srv.URL(), 200*time.Millisecond)
			sub, err := s.Subscribe(t.Context(), []string{"quiet"}, []string{"quiet.*"})
			if err != nil {
				t.Fatal(err)
			}
			defer sub.Close()
			// Six health intervals of silence but for the pongs: a pong
			// taken for a message, or not taken as life, would show here as
			// a message or a Reconnected ahead of the published one.
			time.Sleep(1200 * time.Millisecond)
			publishReceived(t, s, sub, "quiet", "still here")
		})
	}
}

func TestBackends_replace_the_connection_of_a_silent_server(t *testing.T) {
	srv := redistest.Start(t)
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			s := b.open(t, srv.URL(), 50*time.Millisecond)
			sub, err := s.Subscribe(t.Context(), []string{"ch"}, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer sub.Close()
			srv.Pause()
			time.Sleep(600 * time.Millisecond) // > 2 health intervals, with room for a loaded machine
			srv.Resume()
			select {
			case m := <-sub.Messages():
				if m.Kind != store.Reconnected {
					t.Fatalf("first message after a silent server = %v %q, want Reconnected", m.Kind, m.Payload)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("no Reconnected after the server went silent")
			}
			publishReceived(t, s, sub, "ch", "after")
		})
	}
}
