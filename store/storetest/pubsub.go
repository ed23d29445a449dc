package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/rediware/rediware/store"
)

var pubsubTests = []subtest{
	{"Channels", testPubSubChannels},
	{"Patterns", testPubSubPatterns},
	{"DeliveredAfterSubscribeReturns", testPubSubDeliveredAfterReturn},
	{"CloseEndsMessages", testPubSubCloseEndsMessages},
	{"ContextEndsMessages", testPubSubContextEndsMessages},
	{"NothingToSubscribe", testPubSubNothing},
}

// receive returns the next message of sub, failing the test after wait.
func receive(t *testing.T, sub store.Subscription, wait time.Duration) store.Message {
	t.Helper()
	select {
	case m, ok := <-sub.Messages():
		if !ok {
			t.Fatal("Messages closed")
		}
		return m
	case <-time.After(wait):
		t.Fatalf("no message within %v", wait)
	}
	panic("unreachable")
}

// receivePublished skips Reconnected events (which a healthy run does not
// produce, but which the contract allows at any time).
func receivePublished(t *testing.T, sub store.Subscription, wait time.Duration) store.Message {
	t.Helper()
	deadline := time.Now().Add(wait)
	for {
		m := receive(t, sub, time.Until(deadline))
		if m.Kind == store.Published {
			return m
		}
	}
}

func mustPublish(t *testing.T, s store.Store, ch, msg string) int64 {
	t.Helper()
	n, err := s.Publish(t.Context(), ch, []byte(msg))
	if err != nil {
		t.Fatalf("Publish(%q): %v", ch, err)
	}
	return n
}

func testPubSubChannels(t *testing.T, r *runner) {
	s, p := r.store(t)
	sub, err := s.Subscribe(t.Context(), []string{p + "a", p + "b"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	if n := mustPublish(t, s, p+"a", "one"); n != 1 && !r.cfg.cluster {
		// On Cluster, PUBLISH counts the subscribers of the node it ran on.
		t.Errorf("Publish reached %d subscribers, want 1", n)
	}
	mustPublish(t, s, p+"other", "ignored")
	mustPublish(t, s, p+"b", "two")
	expectMessages(t, sub,
		store.Message{Channel: p + "a", Payload: []byte("one")},
		store.Message{Channel: p + "b", Payload: []byte("two")})
	if kind := store.Published.String(); kind != "published" {
		t.Fatalf("Published.String() = %q", kind)
	}
}

func testPubSubPatterns(t *testing.T, r *runner) {
	s, p := r.store(t)
	sub, err := s.Subscribe(t.Context(), []string{p + "plain"}, []string{p + "news.*", p + "alert.?"})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	mustPublish(t, s, p+"news.sport", "goal")
	mustPublish(t, s, p+"alert.long", "ignored") // ? is one character
	mustPublish(t, s, p+"alert.1", "fire")
	mustPublish(t, s, p+"plain", "hi")
	expectMessages(t, sub,
		store.Message{Channel: p + "news.sport", Pattern: p + "news.*", Payload: []byte("goal")},
		store.Message{Channel: p + "alert.1", Pattern: p + "alert.?", Payload: []byte("fire")},
		store.Message{Channel: p + "plain", Payload: []byte("hi")})
}

// expectMessages receives len(want) published messages and checks they are
// want, in any order: on Cluster, messages on different channels can travel
// different paths between nodes, so their order is not kept. Nothing else
// may arrive meanwhile.
func expectMessages(t *testing.T, sub store.Subscription, want ...store.Message) {
	t.Helper()
	key := func(m store.Message) string { return m.Channel + "\x00" + m.Pattern + "\x00" + string(m.Payload) }
	left := map[string]int{}
	for _, m := range want {
		left[key(m)]++
	}
	for range want {
		m := receivePublished(t, sub, 5*time.Second)
		if left[key(m)] == 0 {
			t.Fatalf("unexpected message {channel %q pattern %q payload %q}", m.Channel, m.Pattern, m.Payload)
		}
		left[key(m)]--
	}
}

func testPubSubDeliveredAfterReturn(t *testing.T, r *runner) {
	s, p := r.store(t)
	// Many rounds: a Subscribe that returned before the server confirmed
	// would lose the first message now and then.
	for i := range 20 {
		ch := p + "round" + string(rune('a'+i))
		sub, err := s.Subscribe(t.Context(), []string{ch}, []string{ch + ".*"})
		if err != nil {
			t.Fatal(err)
		}
		if n := mustPublish(t, s, ch+".x", "m"); n != 1 && !r.cfg.cluster {
			sub.Close()
			t.Fatalf("round %d: Publish right after Subscribe reached %d subscribers, want 1", i, n)
		}
		m := receivePublished(t, sub, 5*time.Second)
		sub.Close()
		if m.Channel != ch+".x" {
			t.Fatalf("round %d: message on %q", i, m.Channel)
		}
	}
}

// drained waits for Messages to be closed, failing after wait.
func drained(t *testing.T, sub store.Subscription, wait time.Duration) {
	t.Helper()
	timeout := time.After(wait)
	for {
		select {
		case _, ok := <-sub.Messages():
			if !ok {
				return
			}
		case <-timeout:
			t.Fatalf("Messages not closed within %v", wait)
		}
	}
}

func testPubSubCloseEndsMessages(t *testing.T, r *runner) {
	s, p := r.store(t)
	sub, err := s.Subscribe(t.Context(), []string{p + "c"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := sub.Close(); err != nil {
		t.Fatal(err)
	}
	drained(t, sub, 5*time.Second)
	if err := sub.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	// The server forgets the subscriber (eventually: Close need not wait).
	deadline := time.Now().Add(5 * time.Second)
	for mustPublish(t, s, p+"c", "x") != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the channel still has a subscriber 5s after Close")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func testPubSubContextEndsMessages(t *testing.T, r *runner) {
	s, p := r.store(t)
	ctx, cancel := context.WithCancel(t.Context())
	sub, err := s.Subscribe(ctx, []string{p + "c"}, nil)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	defer sub.Close()
	cancel()
	drained(t, sub, 5*time.Second)
}

func testPubSubNothing(t *testing.T, r *runner) {
	s, _ := r.store(t)
	sub, err := s.Subscribe(t.Context(), nil, nil)
	if err == nil {
		sub.Close()
		t.Fatal("Subscribe to nothing succeeded, want an error")
	}
}
