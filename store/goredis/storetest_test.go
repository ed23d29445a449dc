package goredis_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/rediware/rediware/internal/redistest"
	"github.com/rediware/rediware/store"
	"github.com/rediware/rediware/store/goredis"
	"github.com/rediware/rediware/store/storetest"
)

func TestMain(m *testing.M) {
	redis.SetLogger(quietLogger{}) // the failure tests make go-redis log every failed dial
	redistest.Main(m)
}

type quietLogger struct{}

func (quietLogger) Printf(context.Context, string, ...any) {}

// miniClock moves both of miniredis's clocks: the one TTLs use
// (FastForward) and the wall clock its stream idle times use.
func miniClock(m *miniredis.Miniredis) func(time.Duration) {
	return func(d time.Duration) {
		m.FastForward(d)
		time.Sleep(d)
	}
}

// serverHooks lets the failure subtests kill, restart and pause srv.
func serverHooks(srv *redistest.Server) storetest.Option {
	return storetest.WithServer(storetest.Server{
		Kill: srv.Kill, Restart: srv.Restart, Pause: srv.Pause, Resume: srv.Resume,
	})
}

func TestConformance_miniredis(t *testing.T) {
	m := miniredis.RunT(t)
	addr := m.Addr()
	storetest.Run(t, func(t *testing.T) store.Store {
		c := redis.NewClient(&redis.Options{Addr: addr})
		t.Cleanup(func() { c.Close() })
		return goredis.New(c)
	},
		storetest.WithClock(miniClock(m)),
		storetest.WithServer(storetest.Server{Kill: m.Close, Restart: func() { m.Restart() }}),
		// miniredis lacks these; the redis-server runs cover them.
		storetest.Skip("miniredis ignores SCAN's COUNT hint and returns every key in one batch",
			"Scan/CountHint"),
		storetest.Skip("miniredis's Lua engine fails scripts with a nil pointer dereference while the server is closed and restarted under load",
			"Failure/KilledMidCall"),
	)
}

// TestConformance_redis uses a client with ContextTimeoutEnabled: without
// it go-redis ignores context deadlines.
func TestConformance_redis(t *testing.T) {
	srv := redistest.Start(t)
	storetest.Run(t, func(t *testing.T) store.Store {
		c := redis.NewClient(&redis.Options{Addr: srv.Addr(), ContextTimeoutEnabled: true})
		t.Cleanup(func() { c.Close() })
		return goredis.New(c)
	}, serverHooks(srv))
}

// TestConformance_redis_Open runs the suite on stores from goredis.Open,
// with the client options Open chooses.
func TestConformance_redis_Open(t *testing.T) {
	srv := redistest.Start(t)
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := goredis.Open(srv.URL(), goredis.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}, serverHooks(srv))
}

func TestConformance_redis_AutoPipeline(t *testing.T) {
	srv := redistest.Start(t)
	storetest.Run(t, func(t *testing.T) store.Store {
		c := redis.NewClient(&redis.Options{Addr: srv.Addr(), ContextTimeoutEnabled: true})
		s, err := goredis.NewWithOptions(c, goredis.Options{AutoPipeline: true})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close(); c.Close() })
		return s
	}, serverHooks(srv), knownAutoPipelineBugs)
}

func TestConformance_cluster(t *testing.T) {
	cl := redistest.SharedCluster(t)
	storetest.Run(t, func(t *testing.T) store.Store {
		c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: cl.Addrs()})
		t.Cleanup(func() { c.Close() })
		return goredis.New(c)
	}, storetest.WithCluster())
}

// TestConformance_redis_AsyncAutoPipelinePrototype runs the suite on a
// prototype of the fix proposed for Options{AutoPipeline: true}: single
// commands go through go-redis's deferred AsyncAutoPipeline with Submit and
// AutoFuture.WaitContext(ctx), which stops waiting at the context's end,
// instead of the blocking AutoPipeliner, whose wait ignores the context.
// BenchmarkAutoPipeline64 measures both.
func TestConformance_redis_AsyncAutoPipelinePrototype(t *testing.T) {
	srv := redistest.Start(t)
	storetest.Run(t, func(t *testing.T) store.Store {
		c := redis.NewClient(&redis.Options{Addr: srv.Addr(), ContextTimeoutEnabled: true})
		ap, err := c.AsyncAutoPipeline()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ap.Close(); c.Close() })
		return &asyncAPStore{Store: goredis.New(c), ap: ap}
	}, serverHooks(srv))
}

// asyncAPStore overrides the single-command methods of a Store; the rest
// (Subscribe, Scan, Do, Pipeline, Watch, streams) run on the plain client,
// as they do under Options{AutoPipeline: true}.
type asyncAPStore struct {
	*goredis.Store
	ap *redis.AutoPipeliner
}

func (s *asyncAPStore) run(ctx context.Context, cmd redis.Cmder) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%w: %w", store.ErrUnavailable, err)
	}
	// WaitContext returns the command's own error once it has run, or the
	// context's error if the context ended first (the result must then
	// not be read: the batch may still be filling it in).
	err := s.ap.Submit(ctx, cmd).WaitContext(ctx)
	if err != nil && ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
		return fmt.Errorf("%w: %w", store.ErrUnavailable, err)
	}
	switch {
	case err == nil || err == redis.Nil:
		return err
	case isRedisErr(err):
		return &store.RedisError{Msg: err.Error()}
	default:
		return fmt.Errorf("%w: %w", store.ErrUnavailable, err)
	}
}

func isRedisErr(err error) bool {
	var re redis.Error
	return errors.As(err, &re)
}

func pxArgs(args []any, ttl time.Duration) []any {
	if ttl > 0 {
		args = append(args, "px", max(ttl.Milliseconds(), 1))
	}
	return args
}

func (s *asyncAPStore) Get(ctx context.Context, key string) ([]byte, bool, error) {
	if err := store.CheckKey(key, 0); err != nil {
		return nil, false, err
	}
	cmd := redis.NewStringCmd(ctx, "get", key)
	if err := s.run(ctx, cmd); err == redis.Nil {
		return nil, false, nil
	} else if err != nil {
		return nil, false, err
	}
	b, _ := cmd.Bytes()
	return b, true, nil
}

func (s *asyncAPStore) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if err := store.CheckKey(key, 0); err != nil {
		return err
	}
	if ttl < 0 {
		return store.ErrInvalidTTL
	}
	return s.run(ctx, redis.NewStatusCmd(ctx, pxArgs([]any{"set", key, value}, ttl)...))
}

func (s *asyncAPStore) SetNX(ctx context.Context, key string, value []byte, ttl time.Duration) (bool, error) {
	if err := store.CheckKey(key, 0); err != nil {
		return false, err
	}
	if ttl < 0 {
		return false, store.ErrInvalidTTL
	}
	err := s.run(ctx, redis.NewStatusCmd(ctx, append(pxArgs([]any{"set", key, value}, ttl), "nx")...))
	if err == redis.Nil {
		return false, nil
	}
	return err == nil, err
}

func (s *asyncAPStore) intCmd(ctx context.Context, args ...any) (int64, error) {
	cmd := redis.NewIntCmd(ctx, args...)
	if err := s.run(ctx, cmd); err != nil {
		return 0, err
	}
	return cmd.Val(), nil
}

func (s *asyncAPStore) Expire(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	if err := store.CheckKey(key, 0); err != nil {
		return false, err
	}
	if ttl <= 0 {
		return false, store.ErrInvalidTTL
	}
	n, err := s.intCmd(ctx, "pexpire", key, max(ttl.Milliseconds(), 1))
	return n == 1, err
}

func (s *asyncAPStore) TTL(ctx context.Context, key string) (time.Duration, bool, error) {
	if err := store.CheckKey(key, 0); err != nil {
		return 0, false, err
	}
	ms, err := s.intCmd(ctx, "pttl", key)
	switch {
	case err != nil || ms == -2:
		return 0, false, err
	case ms == -1:
		return store.NoExpiry, true, nil
	default:
		return time.Duration(ms) * time.Millisecond, true, nil
	}
}

func (s *asyncAPStore) Delete(ctx context.Context, keys ...string) (int64, error) {
	if len(keys) == 0 {
		return 0, nil
	}
	args := []any{"unlink"}
	for _, k := range keys {
		if err := store.CheckKey(k, 0); err != nil {
			return 0, err
		}
		args = append(args, k)
	}
	return s.intCmd(ctx, args...)
}

func (s *asyncAPStore) Publish(ctx context.Context, channel string, msg []byte) (int64, error) {
	return s.intCmd(ctx, "publish", channel, msg)
}

func (s *asyncAPStore) Eval(ctx context.Context, sc *store.Script, keys []string, args ...any) (any, error) {
	a := []any{"evalsha", sc.SHA1(), len(keys)}
	for _, k := range keys {
		if err := store.CheckKey(k, 0); err != nil {
			return nil, err
		}
		a = append(a, k)
	}
	a = append(a, args...)
	cmd := redis.NewCmd(ctx, a...)
	err := s.run(ctx, cmd)
	if store.IsNoScript(err) {
		a[0], a[1] = "eval", sc.Source()
		cmd = redis.NewCmd(ctx, a...)
		err = s.run(ctx, cmd)
	}
	if err == redis.Nil {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return protoNormalise(cmd.Val()), nil
}

// protoNormalise is the RESP2 part of goredis's reply normalisation.
func protoNormalise(v any) any {
	switch x := v.(type) {
	case []any:
		for i, e := range x {
			x[i] = protoNormalise(e)
		}
		return x
	case error:
		return &store.RedisError{Msg: x.Error()}
	default:
		return v
	}
}
