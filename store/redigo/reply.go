package redigo

import (
	"encoding"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/gomodule/redigo/redis"

	"github.com/rediware/rediware/store"
)

// normalise converts a redigo reply to the store's reply types (see
// store.Reply), as store/goredis does for go-redis: integers stay int64,
// bulk strings ([]byte) become string, status replies are already string,
// nil stays nil, arrays are normalised element by element, and an error
// inside an array (an EXEC or Lua reply) becomes *store.RedisError.
func normalise(v any) any {
	switch x := v.(type) {
	case []byte:
		return string(x)
	case []any:
		for i, e := range x {
			x[i] = normalise(e)
		}
		return x
	case redis.Error:
		return &store.RedisError{Msg: string(x)}
	default:
		return v
	}
}

// encodeArg converts an argument the way go-redis writes it, so that both
// backends send the same bytes: floats in 'f' format, bools as 1/0,
// time.Time as RFC 3339, time.Duration as nanoseconds, BinaryMarshaler by
// its bytes. Types go-redis refuses are refused here too.
func encodeArg(v any) (any, error) {
	switch x := v.(type) {
	case nil, string, []byte, int, int64:
		return v, nil
	case int8, int16, int32, uint, uint8, uint16, uint32, uint64, uintptr:
		return v, nil // redigo prints them in decimal, as go-redis does
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), nil
	case float32:
		return strconv.FormatFloat(float64(x), 'f', -1, 64), nil
	case bool:
		if x {
			return int64(1), nil
		}
		return int64(0), nil
	case time.Time:
		return x.Format(time.RFC3339Nano), nil
	case time.Duration:
		return x.Nanoseconds(), nil
	case net.IP:
		return []byte(x), nil
	case encoding.BinaryMarshaler:
		return x.MarshalBinary()
	case *string:
		if x == nil {
			return "", nil
		}
		return *x, nil
	case *int:
		if x == nil {
			return int64(0), nil
		}
		return int64(*x), nil
	case *int64:
		if x == nil {
			return int64(0), nil
		}
		return *x, nil
	case *float64:
		if x == nil {
			return "0", nil
		}
		return strconv.FormatFloat(*x, 'f', -1, 64), nil
	case *bool:
		if x == nil || !*x {
			return int64(0), nil
		}
		return int64(1), nil
	default:
		return nil, fmt.Errorf("redigo: can't marshal %T (implement encoding.BinaryMarshaler)", v)
	}
}

// encodeArgs appends the encoded args to dst.
func encodeArgs(dst []any, args []any) ([]any, error) {
	for _, a := range args {
		e, err := encodeArg(a)
		if err != nil {
			return nil, err
		}
		dst = append(dst, e)
	}
	return dst, nil
}
