package redigo

import (
	"errors"
	"fmt"
	"strings"

	"github.com/gomodule/redigo/redis"

	"github.com/rediware/rediware/store"
)

// wrapErr maps a redigo error to the store's error classes exactly as
// store/goredis does: a Redis error reply becomes *store.RedisError, a
// closed pool store.ErrClosed, and every other failure (network, timeout,
// context, pool exhausted) store.ErrUnavailable, with the original error
// kept in the chain for errors.Is.
func wrapErr(err error) error {
	if err == nil {
		return nil
	}
	var re redis.Error
	if errors.As(err, &re) {
		return &store.RedisError{Msg: string(re)}
	}
	if errors.Is(err, store.ErrClosed) {
		return err
	}
	if strings.Contains(err.Error(), "closed pool") {
		// redigo's "get on closed pool" error is not exported.
		return fmt.Errorf("%w: %w", store.ErrClosed, err)
	}
	return fmt.Errorf("%w: %w", store.ErrUnavailable, err)
}

var (
	errNoCommand        = errors.New("redigo: Do needs a command name")
	errSubscribeNothing = errors.New("redigo: subscribe needs at least one channel or pattern")
	errNoDial           = errors.New("redigo: the pool has neither Dial nor DialContext, so a subscription cannot open its own connection")
)
