package cache

import (
	"context"
	"time"

	"github.com/rediware/rediware/store"
)

// guarded is a store.Store whose calls go through a circuit breaker: while
// it is open they fail at once with store.ErrCircuitOpen (which wraps
// store.ErrUnavailable) instead of each waiting for Redis to time out.
type guarded struct {
	store.Store
	b *store.Breaker
}

func (g guarded) Get(ctx context.Context, key string) ([]byte, bool, error) {
	if !g.b.Allow() {
		return nil, false, store.ErrCircuitOpen
	}
	v, ok, err := g.Store.Get(ctx, key)
	g.b.Record(err)
	return v, ok, err
}

func (g guarded) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if !g.b.Allow() {
		return store.ErrCircuitOpen
	}
	err := g.Store.Set(ctx, key, value, ttl)
	g.b.Record(err)
	return err
}

func (g guarded) SetNX(ctx context.Context, key string, value []byte, ttl time.Duration) (bool, error) {
	if !g.b.Allow() {
		return false, store.ErrCircuitOpen
	}
	ok, err := g.Store.SetNX(ctx, key, value, ttl)
	g.b.Record(err)
	return ok, err
}

func (g guarded) Delete(ctx context.Context, keys ...string) (int64, error) {
	if !g.b.Allow() {
		return 0, store.ErrCircuitOpen
	}
	n, err := g.Store.Delete(ctx, keys...)
	g.b.Record(err)
	return n, err
}

func (g guarded) Eval(ctx context.Context, script *store.Script, keys []string, args ...any) (any, error) {
	if !g.b.Allow() {
		return nil, store.ErrCircuitOpen
	}
	v, err := g.Store.Eval(ctx, script, keys, args...)
	g.b.Record(err)
	return v, err
}

func (g guarded) Publish(ctx context.Context, channel string, msg []byte) (int64, error) {
	if !g.b.Allow() {
		return 0, store.ErrCircuitOpen
	}
	n, err := g.Store.Publish(ctx, channel, msg)
	g.b.Record(err)
	return n, err
}

func (g guarded) Scan(ctx context.Context, pattern string, count int, fn func(keys []string) error) error {
	if !g.b.Allow() {
		return store.ErrCircuitOpen
	}
	err := g.Store.Scan(ctx, pattern, count, fn)
	g.b.Record(err)
	return err
}

// pipeline runs cmds on the raw store if it is a store.Pipeliner, through
// the breaker if there is one.
func (c *Cache[V]) pipeline(ctx context.Context, cmds [][]any) ([]store.Result, bool, error) {
	p, ok := c.raw.(store.Pipeliner)
	if !ok {
		return nil, false, nil
	}
	if c.o.Breaker != nil && !c.o.Breaker.Allow() {
		return nil, true, store.ErrCircuitOpen
	}
	res, err := p.Pipeline(ctx, cmds...)
	if c.o.Breaker != nil {
		c.o.Breaker.Record(err)
	}
	return res, true, err
}

// redisCtx bounds one Redis call on the GetOrLoad path by
// Options.RedisTimeout, so that a slow Redis leaves the caller time to
// load.
func (c *Cache[V]) redisCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	if c.o.RedisTimeout <= 0 {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, c.o.RedisTimeout)
}
