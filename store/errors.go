package store

import (
	"errors"
	"strings"
)

var (
	// ErrUnavailable wraps every failure to reach Redis or to get its answer
	// in time: connection refused or reset, a timeout, a context deadline, a
	// pool exhausted, a cluster that is down. The operation may or may not
	// have been applied.
	ErrUnavailable = errors.New("store: redis unavailable")

	// ErrInvalidKey is returned, before anything is sent, for an empty key or
	// one longer than the store's limit.
	ErrInvalidKey = errors.New("store: invalid key")

	// ErrInvalidTTL is returned for a negative TTL in Set or SetNX, or a
	// non-positive one in Expire.
	ErrInvalidTTL = errors.New("store: invalid ttl")

	// ErrTxConflict is returned by Tx.Exec when a watched key changed.
	ErrTxConflict = errors.New("store: transaction aborted: watched key changed")

	// ErrClosed is returned by a store used after Close.
	ErrClosed = errors.New("store: closed")

	// ErrUnexpectedReply is returned when a reply does not have the type a
	// caller asked for (see Int64, String, Slice).
	ErrUnexpectedReply = errors.New("store: unexpected reply type")
)

// RedisError is an error reply from Redis, such as "WRONGTYPE Operation
// against a key holding the wrong kind of value". Check for it with
// errors.As.
type RedisError struct {
	Msg string // the full error text as Redis sent it
}

func (e *RedisError) Error() string { return "store: redis: " + e.Msg }

// Prefix returns the error's code, the first word of the message
// ("WRONGTYPE", "NOSCRIPT", "ERR").
func (e *RedisError) Prefix() string {
	if i := strings.IndexByte(e.Msg, ' '); i >= 0 {
		return e.Msg[:i]
	}
	return e.Msg
}

// IsRedisError reports whether err is a Redis error reply whose code is
// prefix, for example IsRedisError(err, "BUSYGROUP").
func IsRedisError(err error, prefix string) bool {
	if err == nil {
		return false
	}
	if re, ok := err.(*RedisError); ok { // the usual case, without errors.As's allocation
		return re.Prefix() == prefix
	}
	var re *RedisError
	return errors.As(err, &re) && re.Prefix() == prefix
}
