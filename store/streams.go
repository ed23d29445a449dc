package store

import (
	"context"
	"time"
)

// Streamer is an optional power of a Store: the Redis Streams commands a
// durable queue needs (a consumer group with at-least-once delivery).
type Streamer interface {
	// XAdd appends fields to stream with an auto-generated ID and returns
	// the ID. maxLen > 0 trims the stream approximately (MAXLEN ~).
	XAdd(ctx context.Context, stream string, maxLen int64, fields map[string]string) (string, error)

	// XGroupCreate creates group on stream starting at start ("0" or "$"),
	// creating the stream if needed. An existing group is not an error.
	XGroupCreate(ctx context.Context, stream, group, start string) error

	// XReadGroup reads up to count new messages (ID ">") for consumer,
	// blocking up to block when there are none (0 means do not block). No
	// messages is (nil, nil).
	XReadGroup(ctx context.Context, stream, group, consumer string, count int64, block time.Duration) ([]StreamMessage, error)

	// XAck acknowledges ids and returns how many were pending.
	XAck(ctx context.Context, stream, group string, ids ...string) (int64, error)

	// XAutoClaim transfers to consumer up to count pending messages idle for
	// at least minIdle, scanning from start ("0-0" for the beginning). It
	// returns the cursor for the next call ("0-0" when the scan is complete)
	// and the claimed messages. Messages deleted while pending are skipped.
	XAutoClaim(ctx context.Context, stream, group, consumer string, minIdle time.Duration, start string, count int64) (next string, msgs []StreamMessage, err error)
}

// StreamMessage is one entry of a stream.
type StreamMessage struct {
	ID     string
	Fields map[string]string
}
