package redigo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gomodule/redigo/redis"

	"github.com/rediware/rediware/store"
)

// Pipeline implements store.Pipeliner: the commands are sent on one
// connection and flushed together, then their replies read in order.
func (s *Store) Pipeline(ctx context.Context, cmds ...[]any) ([]store.Result, error) {
	if len(cmds) == 0 {
		return nil, nil
	}
	names, args, err := splitCommands(cmds)
	if err != nil {
		return nil, err
	}
	c, err := s.conn(ctx)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	for i := range cmds {
		if err := c.Send(names[i], args[i]...); err != nil {
			return nil, wrapErr(err)
		}
	}
	if err := c.Flush(); err != nil {
		return nil, wrapErr(err)
	}
	out := make([]store.Result, len(cmds))
	for i := range out {
		v, err := s.receive(ctx, c)
		if err != nil && !isReplyErr(err) {
			return nil, wrapErr(err)
		}
		out[i] = result(v, err)
	}
	return out, nil
}

func splitCommands(cmds [][]any) ([]string, [][]any, error) {
	names := make([]string, len(cmds))
	args := make([][]any, len(cmds))
	for i, c := range cmds {
		var err error
		if names[i], args[i], err = splitCommand(c); err != nil {
			return nil, nil, fmt.Errorf("command %d: %w", i, err)
		}
	}
	return names, args, nil
}

// receive reads one reply within ctx, bounded like doConn. A Redis error
// reply is returned as the redis.Error, not wrapped.
func (s *Store) receive(ctx context.Context, c redis.Conn) (any, error) {
	if dl, ok := ctx.Deadline(); ok {
		timeout, byDeadline := time.Until(dl), true
		if timeout <= 0 {
			return nil, context.DeadlineExceeded
		}
		if s.readTimeout > 0 && s.readTimeout < timeout {
			timeout, byDeadline = s.readTimeout, false
		}
		v, err := redis.ReceiveWithTimeout(c, timeout)
		if err != nil && byDeadline && isTimeout(err) {
			err = fmt.Errorf("%w: %w", context.DeadlineExceeded, err)
		}
		return v, err
	}
	if ctx.Done() == nil {
		return c.Receive()
	}
	return redis.ReceiveContext(c, ctx)
}

func isReplyErr(err error) bool {
	var re redis.Error
	return errors.As(err, &re)
}

func result(v any, err error) store.Result {
	if err != nil {
		return store.Result{Err: wrapErr(err)}
	}
	return store.Result{Value: normalise(v)}
}

// Watch implements store.Watcher: WATCH keys on one connection, call fn,
// and UNWATCH (by returning the connection to the pool) when it returns.
func (s *Store) Watch(ctx context.Context, fn func(tx store.Tx) error, keys ...string) error {
	if err := s.checkKeys(keys...); err != nil {
		return err
	}
	c, err := s.conn(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	if len(keys) > 0 {
		args := make([]any, len(keys))
		for i, k := range keys {
			args[i] = k
		}
		if _, err := s.doConn(ctx, c, "WATCH", args...); err != nil {
			return err
		}
	}
	return fn(&tx{s: s, c: c})
}

type tx struct {
	s *Store
	c redis.Conn
}

func (x *tx) Do(ctx context.Context, args ...any) (any, error) {
	cmd, rest, err := splitCommand(args)
	if err != nil {
		return nil, err
	}
	v, err := x.s.doConn(ctx, x.c, cmd, rest...)
	if err != nil {
		return nil, err
	}
	return normalise(v), nil
}

// Exec sends MULTI, the commands and EXEC in one flush. A nil EXEC reply
// means a watched key changed: store.ErrTxConflict.
func (x *tx) Exec(ctx context.Context, cmds ...[]any) ([]store.Result, error) {
	names, args, err := splitCommands(cmds)
	if err != nil {
		return nil, err
	}
	c := x.c
	if err := c.Send("MULTI"); err != nil {
		return nil, wrapErr(err)
	}
	for i := range cmds {
		if err := c.Send(names[i], args[i]...); err != nil {
			return nil, wrapErr(err)
		}
	}
	if err := c.Send("EXEC"); err != nil {
		return nil, wrapErr(err)
	}
	if err := c.Flush(); err != nil {
		return nil, wrapErr(err)
	}
	// MULTI's OK, then QUEUED or an error per command, then EXEC's reply.
	queued := make([]error, len(cmds))
	for i := -1; i < len(cmds); i++ {
		_, err := x.s.receive(ctx, c)
		if err != nil && !isReplyErr(err) {
			return nil, wrapErr(err)
		}
		if i >= 0 {
			queued[i] = err
		}
	}
	v, err := x.s.receive(ctx, c)
	if err != nil && !isReplyErr(err) {
		return nil, wrapErr(err)
	}
	out := make([]store.Result, len(cmds))
	if err != nil {
		// EXECABORT: a command was refused while queueing; nothing ran.
		for i := range out {
			if queued[i] != nil {
				out[i].Err = wrapErr(queued[i])
			} else {
				out[i].Err = wrapErr(err)
			}
		}
		return out, nil
	}
	if v == nil {
		return nil, store.ErrTxConflict
	}
	a, ok := v.([]any)
	if !ok || len(a) != len(cmds) {
		return nil, fmt.Errorf("%w: EXEC returned %T", store.ErrUnexpectedReply, v)
	}
	for i, e := range a {
		if re, ok := e.(redis.Error); ok {
			out[i].Err = &store.RedisError{Msg: string(re)}
		} else {
			out[i].Value = normalise(e)
		}
	}
	return out, nil
}
