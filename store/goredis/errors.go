package goredis

import (
	"errors"
	"fmt"
	"io"
	"net"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/rediware/rediware/store"
)

// wrapErr maps a go-redis error to the store's error classes: a Redis error
// reply becomes *store.RedisError, a closed client store.ErrClosed, and every
// other failure (network, timeout, context, pool) store.ErrUnavailable, with
// the original error kept in the chain for errors.Is.
func wrapErr(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, redis.ErrClosed) {
		return fmt.Errorf("%w: %w", store.ErrClosed, err)
	}
	var re redis.Error
	if errors.As(err, &re) {
		return &store.RedisError{Msg: re.Error()}
	}
	if strings.HasPrefix(err.Error(), "redis: can't marshal") {
		return fmt.Errorf("goredis: bad argument: %w", err) // the caller's bug, not an outage
	}
	return fmt.Errorf("%w: %w", store.ErrUnavailable, err)
}

var errSubscribeNothing = errors.New("goredis: subscribe needs at least one channel or pattern")

func isNetErr(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}
