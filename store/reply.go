package store

import (
	"fmt"
	"strconv"
	"time"
)

// Reply documents how every Store normalises Redis replies, whichever client
// runs underneath. It has no methods; it exists to hold this table.
//
//	Redis reply               Go value
//	integer                   int64
//	bulk string, status       string
//	nil bulk / nil array      nil
//	array                     []any (elements normalised the same way)
//	error                     *RedisError (returned as the error)
//	RESP3 boolean             int64 1 / nil (as Redis 2 converts Lua booleans)
//	RESP3 double              string (as RESP2 sends it)
//	RESP3 map                 []any of alternating keys and values
//
// Use [Int64], [String], [Bytes] and [Slice] to read replies without
// unchecked type assertions.
type Reply struct{}

// Int64 returns v as an int64. It accepts int64 and a decimal string; any
// other type is ErrUnexpectedReply.
func Int64(v any) (int64, error) {
	switch x := v.(type) {
	case int64:
		return x, nil
	case string:
		n, err := strconv.ParseInt(x, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%w: %q is not an integer", ErrUnexpectedReply, x)
		}
		return n, nil
	default:
		return 0, fmt.Errorf("%w: want integer, got %T", ErrUnexpectedReply, v)
	}
}

// String returns v as a string. It accepts string and int64; nil is
// ("", false, nil).
func String(v any) (s string, ok bool, err error) {
	switch x := v.(type) {
	case nil:
		return "", false, nil
	case string:
		return x, true, nil
	case int64:
		return strconv.FormatInt(x, 10), true, nil
	default:
		return "", false, fmt.Errorf("%w: want string, got %T", ErrUnexpectedReply, v)
	}
}

// Slice returns v as an array reply, and checks it has at least min
// elements. nil is an empty array.
func Slice(v any, min int) ([]any, error) {
	switch x := v.(type) {
	case nil:
		if min > 0 {
			return nil, fmt.Errorf("%w: want array of %d, got nil", ErrUnexpectedReply, min)
		}
		return nil, nil
	case []any:
		if len(x) < min {
			return nil, fmt.Errorf("%w: want array of at least %d, got %d", ErrUnexpectedReply, min, len(x))
		}
		return x, nil
	default:
		return nil, fmt.Errorf("%w: want array, got %T", ErrUnexpectedReply, v)
	}
}

// Int64s returns an array reply of integers.
func Int64s(v any, min int) ([]int64, error) {
	a, err := Slice(v, min)
	if err != nil {
		return nil, err
	}
	out := make([]int64, len(a))
	for i, e := range a {
		if out[i], err = Int64(e); err != nil {
			return nil, fmt.Errorf("element %d: %w", i, err)
		}
	}
	return out, nil
}

// PTTL interprets a PTTL reply in milliseconds as Store.TTL reports it: -2
// (missing) is (0, false), -1 (no expiry) is (NoExpiry, true). Backends
// share it so that they cannot drift apart.
func PTTL(ms int64) (time.Duration, bool) {
	switch {
	case ms == -2:
		return 0, false
	case ms == -1:
		return NoExpiry, true
	default:
		return time.Duration(ms) * time.Millisecond, true
	}
}
