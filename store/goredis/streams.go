package goredis

import (
	"context"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rediware/rediware/store"
)

// XAdd implements store.Streamer.
func (s *Store) XAdd(ctx context.Context, stream string, maxLen int64, fields map[string]string) (string, error) {
	if err := store.CheckKey(stream, s.opts.MaxKeyLen); err != nil {
		return "", err
	}
	vals := make([]any, 0, 2*len(fields))
	for k, v := range fields {
		vals = append(vals, k, v)
	}
	a := &redis.XAddArgs{Stream: stream, Values: vals}
	if maxLen > 0 {
		a.MaxLen, a.Approx = maxLen, true
	}
	id, err := s.client.XAdd(ctx, a).Result()
	return id, wrapErr(err)
}

// XGroupCreate implements store.Streamer.
func (s *Store) XGroupCreate(ctx context.Context, stream, group, start string) error {
	if err := store.CheckKey(stream, s.opts.MaxKeyLen); err != nil {
		return err
	}
	err := wrapErr(s.client.XGroupCreateMkStream(ctx, stream, group, start).Err())
	if store.IsRedisError(err, "BUSYGROUP") {
		return nil
	}
	return err
}

// XReadGroup implements store.Streamer.
func (s *Store) XReadGroup(ctx context.Context, stream, group, consumer string, count int64, block time.Duration) ([]store.StreamMessage, error) {
	if err := store.CheckKey(stream, s.opts.MaxKeyLen); err != nil {
		return nil, err
	}
	if block <= 0 {
		block = -1 // go-redis: no BLOCK argument
	}
	res, err := s.client.XReadGroup(ctx, &redis.XReadGroupArgs{
		Group: group, Consumer: consumer, Streams: []string{stream, ">"}, Count: count, Block: block,
	}).Result()
	if err == redis.Nil {
		return nil, nil
	}
	if err != nil {
		return nil, wrapErr(err)
	}
	var out []store.StreamMessage
	for _, st := range res {
		out = append(out, messages(st.Messages)...)
	}
	return out, nil
}

func messages(ms []redis.XMessage) []store.StreamMessage {
	out := make([]store.StreamMessage, 0, len(ms))
	for _, m := range ms {
		if len(m.Values) == 0 {
			continue // deleted while pending (XAUTOCLAIM on Redis 6.2)
		}
		f := make(map[string]string, len(m.Values))
		for k, v := range m.Values {
			if sv, ok := v.(string); ok {
				f[k] = sv
			}
		}
		out = append(out, store.StreamMessage{ID: m.ID, Fields: f})
	}
	return out
}

// XAck implements store.Streamer.
func (s *Store) XAck(ctx context.Context, stream, group string, ids ...string) (int64, error) {
	if err := store.CheckKey(stream, s.opts.MaxKeyLen); err != nil {
		return 0, err
	}
	if len(ids) == 0 {
		return 0, nil
	}
	n, err := s.client.XAck(ctx, stream, group, ids...).Result()
	return n, wrapErr(err)
}

// XAutoClaim implements store.Streamer.
func (s *Store) XAutoClaim(ctx context.Context, stream, group, consumer string, minIdle time.Duration, start string, count int64) (string, []store.StreamMessage, error) {
	if err := store.CheckKey(stream, s.opts.MaxKeyLen); err != nil {
		return "", nil, err
	}
	if start == "" {
		start = "0-0"
	}
	ms, next, err := s.client.XAutoClaim(ctx, &redis.XAutoClaimArgs{
		Stream: stream, Group: group, Consumer: consumer, MinIdle: minIdle, Start: start, Count: count,
	}).Result()
	if err != nil {
		return "", nil, wrapErr(err)
	}
	return next, messages(ms), nil
}
