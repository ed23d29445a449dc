package redigo

import (
	"context"
	"fmt"
	"time"

	"github.com/gomodule/redigo/redis"

	"github.com/rediware/rediware/store"
)

// XAdd implements store.Streamer.
func (s *Store) XAdd(ctx context.Context, stream string, maxLen int64, fields map[string]string) (string, error) {
	if err := store.CheckKey(stream, s.opts.MaxKeyLen); err != nil {
		return "", err
	}
	args := make([]any, 0, 5+2*len(fields))
	args = append(args, stream)
	if maxLen > 0 {
		args = append(args, "MAXLEN", "~", maxLen)
	}
	args = append(args, "*")
	for k, v := range fields {
		args = append(args, k, v)
	}
	v, err := s.do(ctx, "XADD", args...)
	if err != nil {
		return "", err
	}
	id, _, err := store.String(normalise(v))
	return id, err
}

// XGroupCreate implements store.Streamer.
func (s *Store) XGroupCreate(ctx context.Context, stream, group, start string) error {
	if err := store.CheckKey(stream, s.opts.MaxKeyLen); err != nil {
		return err
	}
	_, err := s.do(ctx, "XGROUP", "CREATE", stream, group, start, "MKSTREAM")
	if store.IsRedisError(err, "BUSYGROUP") {
		return nil
	}
	return err
}

// XReadGroup implements store.Streamer. While it blocks, it waits at most
// until the context's deadline; the connection's read timeout is extended
// to cover block.
func (s *Store) XReadGroup(ctx context.Context, stream, group, consumer string, count int64, block time.Duration) ([]store.StreamMessage, error) {
	if err := store.CheckKey(stream, s.opts.MaxKeyLen); err != nil {
		return nil, err
	}
	args := make([]any, 0, 10)
	args = append(args, "GROUP", group, consumer)
	if count > 0 {
		args = append(args, "COUNT", count)
	}
	if block > 0 {
		args = append(args, "BLOCK", pxArg(block))
	}
	args = append(args, "STREAMS", stream, ">")
	var v any
	var err error
	if block > 0 {
		v, err = s.doBlocking(ctx, block, "XREADGROUP", args...)
	} else {
		v, err = s.do(ctx, "XREADGROUP", args...)
	}
	if err != nil || v == nil {
		return nil, err
	}
	streams, err := store.Slice(normalise(v), 0)
	if err != nil {
		return nil, err
	}
	var out []store.StreamMessage
	for _, st := range streams {
		pair, err := store.Slice(st, 2)
		if err != nil {
			return nil, err
		}
		ms, err := messages(pair[1])
		if err != nil {
			return nil, err
		}
		out = append(out, ms...)
	}
	return out, nil
}

// doBlocking runs a blocking command whose server-side wait is block. The
// read deadline is the context's deadline, or block plus a margin without
// one, instead of the connection's read timeout, which may be shorter
// than block.
func (s *Store) doBlocking(ctx context.Context, block time.Duration, cmd string, args ...any) (any, error) {
	c, err := s.conn(ctx)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	timeout := block + time.Second
	if dl, ok := ctx.Deadline(); ok {
		timeout = time.Until(dl)
		if timeout <= 0 {
			return nil, wrapErr(context.DeadlineExceeded)
		}
	}
	v, err := redis.DoWithTimeout(c, timeout, cmd, args...)
	if err != nil {
		if ctx.Err() != nil && !isReplyErr(err) {
			err = fmt.Errorf("%w (%w)", ctx.Err(), err)
		}
		return nil, wrapErr(err)
	}
	return v, nil
}

// messages parses an array of [id, [field, value, ...]] entries. Entries
// whose fields are nil (deleted while pending) are skipped.
func messages(v any) ([]store.StreamMessage, error) {
	entries, err := store.Slice(v, 0)
	if err != nil {
		return nil, err
	}
	out := make([]store.StreamMessage, 0, len(entries))
	for _, e := range entries {
		pair, err := store.Slice(e, 2)
		if err != nil {
			return nil, err
		}
		id, _, err := store.String(pair[0])
		if err != nil {
			return nil, err
		}
		if pair[1] == nil {
			continue
		}
		kv, err := store.Slice(pair[1], 0)
		if err != nil {
			return nil, err
		}
		f := make(map[string]string, len(kv)/2)
		for i := 0; i+1 < len(kv); i += 2 {
			k, _, err1 := store.String(kv[i])
			val, _, err2 := store.String(kv[i+1])
			if err1 != nil || err2 != nil {
				return nil, fmt.Errorf("%w: stream field of %s", store.ErrUnexpectedReply, id)
			}
			f[k] = val
		}
		out = append(out, store.StreamMessage{ID: id, Fields: f})
	}
	return out, nil
}

// XAck implements store.Streamer.
func (s *Store) XAck(ctx context.Context, stream, group string, ids ...string) (int64, error) {
	if err := store.CheckKey(stream, s.opts.MaxKeyLen); err != nil {
		return 0, err
	}
	if len(ids) == 0 {
		return 0, nil
	}
	args := make([]any, 0, 2+len(ids))
	args = append(args, stream, group)
	for _, id := range ids {
		args = append(args, id)
	}
	v, err := s.do(ctx, "XACK", args...)
	if err != nil {
		return 0, err
	}
	return store.Int64(v)
}

// XAutoClaim implements store.Streamer.
func (s *Store) XAutoClaim(ctx context.Context, stream, group, consumer string, minIdle time.Duration, start string, count int64) (string, []store.StreamMessage, error) {
	if err := store.CheckKey(stream, s.opts.MaxKeyLen); err != nil {
		return "", nil, err
	}
	if start == "" {
		start = "0-0"
	}
	args := []any{stream, group, consumer, pxArg(minIdle), start}
	if count > 0 {
		args = append(args, "COUNT", count)
	}
	v, err := s.do(ctx, "XAUTOCLAIM", args...)
	if err != nil {
		return "", nil, err
	}
	a, err := store.Slice(normalise(v), 2)
	if err != nil {
		return "", nil, err
	}
	next, _, err := store.String(a[0])
	if err != nil {
		return "", nil, err
	}
	ms, err := messages(a[1])
	if err != nil {
		return "", nil, err
	}
	return next, ms, nil
}
