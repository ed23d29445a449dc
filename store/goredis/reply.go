package goredis

import (
	"math/big"
	"strconv"

	"github.com/redis/go-redis/v9"

	"github.com/rediware/rediware/store"
)

// normalise converts a go-redis reply to the store's reply types (see
// store.Reply). go-redis already returns int64, string, nil and []any for
// RESP2; RESP3 adds booleans, doubles, big numbers and maps.
func normalise(v any) any {
	switch x := v.(type) {
	case nil, int64, string:
		return v
	case []any:
		for i, e := range x {
			x[i] = normalise(e)
		}
		return x
	case bool:
		if x {
			return int64(1)
		}
		return nil
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case *big.Int:
		return x.String()
	case map[any]any:
		out := make([]any, 0, 2*len(x))
		for k, e := range x {
			out = append(out, normalise(k), normalise(e))
		}
		return out
	case map[string]any:
		out := make([]any, 0, 2*len(x))
		for k, e := range x {
			out = append(out, k, normalise(e))
		}
		return out
	case redis.Error:
		return &store.RedisError{Msg: x.Error()}
	case error:
		return &store.RedisError{Msg: x.Error()}
	case []byte:
		return string(x)
	default:
		return v
	}
}
