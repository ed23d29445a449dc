package redigo_test

import (
	"testing"
	"time"

	"github.com/rediware/rediware/internal/redistest"
	"github.com/rediware/rediware/store"
	"github.com/rediware/rediware/store/redigo"
)

// A server that stops answering without closing the connection is found by
// the health ping: the subscription reconnects once the server answers
// again, reports Reconnected, and receives again.
func TestSubscribe_silent_server_is_detected_by_the_health_ping(t *testing.T) {
	srv := redistest.Start(t)
	s, err := redigo.Open(srv.URL(), redigo.Options{SubscriptionHealthInterval: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	sub, err := s.Subscribe(t.Context(), []string{"ch"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()

	srv.Pause()
	time.Sleep(500 * time.Millisecond) // > 2 health intervals of silence
	srv.Resume()

	select {
	case m := <-sub.Messages():
		if m.Kind != store.Reconnected {
			t.Fatalf("first message after a silent server = %+v, want Reconnected", m)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no Reconnected after the server went silent")
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := s.Publish(t.Context(), "ch", []byte("after")); err == nil {
			break
		} else if time.Now().After(deadline) {
			t.Fatal(err)
		}
	}
	select {
	case m := <-sub.Messages():
		if m.Kind != store.Published || string(m.Payload) != "after" {
			t.Fatalf("message = %+v", m)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no message after the reconnect")
	}
}

func TestStore_Close_ends_subscriptions(t *testing.T) {
	_, s := newMini(t)
	sub, err := s.Subscribe(t.Context(), []string{"ch"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	select {
	case _, ok := <-sub.Messages():
		if ok {
			t.Fatal("a message after Close")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Messages not closed by Store.Close")
	}
	if _, err := s.Subscribe(t.Context(), []string{"ch"}, nil); err == nil {
		t.Fatal("Subscribe after Close succeeded")
	}
}
