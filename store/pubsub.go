package store

// Subscription is a live pub/sub subscription returned by Store.Subscribe.
//
// Pub/sub is at-most-once: while the connection is down, messages are lost.
// A Subscription therefore reconnects by itself, resubscribes, and then
// delivers a Message of kind [Reconnected] before any message received on
// the new connection. A subscriber that holds local state derived from
// messages (a local cache tier, say) must treat Reconnected as "anything may
// have changed" and flush that state.
type Subscription interface {
	// Messages returns the channel on which messages and Reconnected events
	// arrive. It is closed after Close, or when the Subscribe context ends.
	// A subscriber that stops reading blocks delivery for that subscription
	// only.
	Messages() <-chan Message

	// Close unsubscribes and releases the connection. It is safe to call
	// more than once.
	Close() error
}

// MessageKind tells a message from a reconnect event.
type MessageKind uint8

const (
	// Published is a message published on a subscribed channel or pattern.
	Published MessageKind = iota
	// Reconnected reports that the subscription's connection was lost and
	// is back: messages published meanwhile were missed.
	Reconnected
)

// String returns "published" or "reconnected".
func (k MessageKind) String() string {
	if k == Reconnected {
		return "reconnected"
	}
	return "published"
}

// Message is one delivery on a Subscription.
type Message struct {
	Kind    MessageKind
	Channel string // the channel it was published on (empty for Reconnected)
	Pattern string // the matching pattern, for pattern subscriptions
	Payload []byte
}
