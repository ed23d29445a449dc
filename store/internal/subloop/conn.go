package subloop

import (
	"context"

	"github.com/rediware/rediware/store"
)

// Conn is one pub/sub connection of a backend. The loop calls Receive from
// one goroutine and Subscribe, Ping and Close from another, so a Conn must
// allow one reader alongside one writer (both go-redis and redigo do).
type Conn interface {
	// Subscribe sends SUBSCRIBE for channels (when any) and PSUBSCRIBE for
	// patterns (when any). It does not wait for the confirmations: they
	// arrive through Receive, one per channel and pattern.
	Subscribe(ctx context.Context, channels, patterns []string) error

	// Receive blocks until the server pushes something or the connection
	// fails. It takes no context: the loop bounds it by closing the
	// connection, so Close must make a blocked Receive return an error.
	Receive() (Event, error)

	// Ping sends a PING; the answer arrives through Receive as an Alive
	// event. It need not wait for that answer.
	Ping(ctx context.Context) error

	// Close closes the connection. The loop may call it more than once and
	// while Receive is blocked.
	Close() error
}

// Kind tells what a Conn received.
type Kind uint8

const (
	// Alive is a reply that proves the connection alive and means nothing
	// else: the answer to a Ping, say.
	Alive Kind = iota
	// Confirmed is the server's confirmation of one channel or pattern.
	Confirmed
	// Published is a published message, in Event.Message.
	Published
)

// Event is one push received on a Conn.
type Event struct {
	Kind    Kind
	Message store.Message // for Published
}
