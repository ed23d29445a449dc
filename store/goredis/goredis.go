package goredis

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rediware/rediware/store"
)

// cmdable is what both a client and an AutoPipeliner offer.
type cmdable interface {
	redis.Cmdable
	Do(ctx context.Context, args ...any) *redis.Cmd
}

// Options configures a Store. The zero value means all defaults.
type Options struct {
	// AutoPipeline sends single commands (GET, SET, EVALSHA, ...) through
	// go-redis's AutoPipeliner, which batches commands issued concurrently
	// by many goroutines into one pipeline. It multiplies throughput under
	// concurrency and costs a little latency for a lone caller.
	// Transactions, pub/sub and scans never go through it.
	//
	// Caveat (go-redis v9.23, experimental API): a batched command waits
	// for its batch without watching its context, so a call to a hung
	// server can outlive its deadline. The Store refuses to send a command
	// whose context is already done, but cannot cut a wait short. Default:
	// false; enable it where throughput under concurrency matters more.
	AutoPipeline bool

	// MaxKeyLen is the longest key accepted, in bytes. Default:
	// store.DefaultMaxKeyLen.
	MaxKeyLen int

	// SubscriptionHealthInterval is how long a subscription waits for a
	// message before it pings the server to check the connection, and how
	// long it then waits for the answer before reconnecting. Default: 5s.
	SubscriptionHealthInterval time.Duration

	// OwnsClient makes Close close the client. Open sets it.
	OwnsClient bool
}

// Store is a store.Store over a go-redis v9 client: a single node, a
// Sentinel-managed failover client or a Redis Cluster client.
type Store struct {
	client  redis.UniversalClient
	cmd     cmdable // client, or its AutoPipeliner
	cluster *redis.ClusterClient
	opts    Options
	ap      *redis.AutoPipeliner

	closeOnce sync.Once
}

var (
	_ store.Store     = (*Store)(nil)
	_ store.Doer      = (*Store)(nil)
	_ store.Pipeliner = (*Store)(nil)
	_ store.Watcher   = (*Store)(nil)
	_ store.Streamer  = (*Store)(nil)
	_ store.Pinger    = (*Store)(nil)
	_ store.Closer    = (*Store)(nil)
)

// New returns a Store over client with default options.
//
// Build the client with ContextTimeoutEnabled: true (as Open does): without
// it go-redis ignores context deadlines and a call to a hung server waits for
// ReadTimeout and its retries, whatever the caller's deadline.
func New(client redis.UniversalClient) *Store {
	s, _ := NewWithOptions(client, Options{}) // cannot fail without AutoPipeline
	return s
}

// NewWithOptions returns a Store over client. It fails only when
// AutoPipeline is set and the client cannot make an AutoPipeliner.
func NewWithOptions(client redis.UniversalClient, opts Options) (*Store, error) {
	if client == nil {
		return nil, errors.New("goredis: nil client")
	}
	s := &Store{client: client, cmd: client, opts: opts}
	if opts.MaxKeyLen <= 0 {
		s.opts.MaxKeyLen = store.DefaultMaxKeyLen
	}
	if opts.SubscriptionHealthInterval <= 0 {
		s.opts.SubscriptionHealthInterval = 5 * time.Second
	}
	if c, ok := client.(*redis.ClusterClient); ok {
		s.cluster = c
	}
	if opts.AutoPipeline {
		apc, ok := client.(interface {
			AutoPipeline() (*redis.AutoPipeliner, error)
		})
		if !ok {
			return nil, fmt.Errorf("goredis: %T has no AutoPipeline", client)
		}
		ap, err := apc.AutoPipeline()
		if err != nil {
			return nil, fmt.Errorf("goredis: auto-pipeline: %w", err)
		}
		s.ap, s.cmd = ap, ap
	}
	return s, nil
}

// Client returns the underlying go-redis client.
func (s *Store) Client() redis.UniversalClient { return s.client }

// ctxErr refuses a call whose context is already done: go-redis would send
// it anyway through the AutoPipeliner, which does not watch contexts.
func (s *Store) ctxErr(ctx context.Context) error {
	if s.ap == nil {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%w: %w", store.ErrUnavailable, err)
	}
	return nil
}

func (s *Store) checkKeys(keys ...string) error {
	for _, k := range keys {
		if err := store.CheckKey(k, s.opts.MaxKeyLen); err != nil {
			return err
		}
	}
	return nil
}

// Get implements store.Store.
func (s *Store) Get(ctx context.Context, key string) ([]byte, bool, error) {
	if err := store.CheckKey(key, s.opts.MaxKeyLen); err != nil {
		return nil, false, err
	}
	if err := s.ctxErr(ctx); err != nil {
		return nil, false, err
	}
	v, err := s.cmd.Get(ctx, key).Bytes()
	if err == redis.Nil {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, wrapErr(err)
	}
	return v, true, nil
}

// Set implements store.Store.
func (s *Store) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if err := store.CheckKey(key, s.opts.MaxKeyLen); err != nil {
		return err
	}
	if ttl < 0 {
		return fmt.Errorf("%w: %v", store.ErrInvalidTTL, ttl)
	}
	if err := s.ctxErr(ctx); err != nil {
		return err
	}
	return wrapErr(s.cmd.Set(ctx, key, value, roundTTL(ttl)).Err())
}

// SetNX implements store.Store.
func (s *Store) SetNX(ctx context.Context, key string, value []byte, ttl time.Duration) (bool, error) {
	if err := store.CheckKey(key, s.opts.MaxKeyLen); err != nil {
		return false, err
	}
	if ttl < 0 {
		return false, fmt.Errorf("%w: %v", store.ErrInvalidTTL, ttl)
	}
	if err := s.ctxErr(ctx); err != nil {
		return false, err
	}
	ok, err := s.cmd.SetNX(ctx, key, value, roundTTL(ttl)).Result()
	return ok, wrapErr(err)
}

// roundTTL makes a positive ttl at least one millisecond, so that PX never
// receives 0 (which Redis rejects).
func roundTTL(ttl time.Duration) time.Duration {
	if ttl > 0 && ttl < time.Millisecond {
		return time.Millisecond
	}
	return ttl
}

// Delete implements store.Store. On Cluster the keys are grouped by slot and
// the UNLINKs pipelined.
func (s *Store) Delete(ctx context.Context, keys ...string) (int64, error) {
	if len(keys) == 0 {
		return 0, nil
	}
	if err := s.checkKeys(keys...); err != nil {
		return 0, err
	}
	if err := s.ctxErr(ctx); err != nil {
		return 0, err
	}
	if s.cluster == nil {
		n, err := s.cmd.Unlink(ctx, keys...).Result()
		return n, wrapErr(err)
	}
	bySlot := make(map[int][]string)
	for _, k := range keys {
		sl := store.Slot(k)
		bySlot[sl] = append(bySlot[sl], k)
	}
	cmds := make([]*redis.IntCmd, 0, len(bySlot))
	_, err := s.cluster.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, ks := range bySlot {
			cmds = append(cmds, p.Unlink(ctx, ks...))
		}
		return nil
	})
	if err != nil {
		return 0, wrapErr(err)
	}
	var n int64
	for _, c := range cmds {
		n += c.Val()
	}
	return n, nil
}

// Expire implements store.Store.
func (s *Store) Expire(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	if err := store.CheckKey(key, s.opts.MaxKeyLen); err != nil {
		return false, err
	}
	if ttl <= 0 {
		return false, fmt.Errorf("%w: %v", store.ErrInvalidTTL, ttl)
	}
	if err := s.ctxErr(ctx); err != nil {
		return false, err
	}
	ok, err := s.cmd.PExpire(ctx, key, roundTTL(ttl)).Result()
	return ok, wrapErr(err)
}

// TTL implements store.Store.
func (s *Store) TTL(ctx context.Context, key string) (time.Duration, bool, error) {
	if err := store.CheckKey(key, s.opts.MaxKeyLen); err != nil {
		return 0, false, err
	}
	if err := s.ctxErr(ctx); err != nil {
		return 0, false, err
	}
	v, err := s.cmd.Do(ctx, "PTTL", key).Int64()
	if err != nil {
		return 0, false, wrapErr(err)
	}
	switch {
	case v == -2:
		return 0, false, nil
	case v == -1:
		return store.NoExpiry, true, nil
	default:
		return time.Duration(v) * time.Millisecond, true, nil
	}
}

// Eval implements store.Store: EVALSHA, and EVAL once on NOSCRIPT.
func (s *Store) Eval(ctx context.Context, script *store.Script, keys []string, args ...any) (any, error) {
	if err := s.checkKeys(keys...); err != nil {
		return nil, err
	}
	if err := s.ctxErr(ctx); err != nil {
		return nil, err
	}
	v, err := s.cmd.EvalSha(ctx, script.SHA1(), keys, args...).Result()
	if err != nil && isNoScript(err) {
		v, err = s.cmd.Eval(ctx, script.Source(), keys, args...).Result()
	}
	if err == redis.Nil {
		return nil, nil
	}
	if err != nil {
		return nil, wrapErr(err)
	}
	return normalise(v), nil
}

func isNoScript(err error) bool {
	var re redis.Error
	return errors.As(err, &re) && store.IsNoScript(re)
}

// Do implements store.Doer.
func (s *Store) Do(ctx context.Context, args ...any) (any, error) {
	if len(args) == 0 {
		return nil, errors.New("goredis: Do needs a command")
	}
	if err := s.ctxErr(ctx); err != nil {
		return nil, err
	}
	v, err := s.cmd.Do(ctx, args...).Result()
	if err == redis.Nil {
		return nil, nil
	}
	if err != nil {
		return nil, wrapErr(err)
	}
	return normalise(v), nil
}

// Pipeline implements store.Pipeliner.
func (s *Store) Pipeline(ctx context.Context, cmds ...[]any) ([]store.Result, error) {
	if len(cmds) == 0 {
		return nil, nil
	}
	rc := make([]*redis.Cmd, len(cmds))
	_, err := s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, c := range cmds {
			rc[i] = p.Do(ctx, c...)
		}
		return nil
	})
	if err != nil && !isReplyErr(err) {
		return nil, wrapErr(err)
	}
	return results(rc), nil
}

func results(rc []*redis.Cmd) []store.Result {
	out := make([]store.Result, len(rc))
	for i, c := range rc {
		v, err := c.Result()
		switch {
		case err == redis.Nil:
		case err != nil:
			out[i].Err = wrapErr(err)
		default:
			out[i].Value = normalise(v)
		}
	}
	return out
}

func isReplyErr(err error) bool {
	if err == redis.Nil {
		return true
	}
	var re redis.Error
	return errors.As(err, &re)
}

// Watch implements store.Watcher. On Cluster all keys must share a slot.
func (s *Store) Watch(ctx context.Context, fn func(tx store.Tx) error, keys ...string) error {
	if err := s.checkKeys(keys...); err != nil {
		return err
	}
	var fnErr error
	err := s.client.Watch(ctx, func(t *redis.Tx) error {
		fnErr = fn(&tx{t: t})
		return fnErr
	}, keys...)
	switch {
	case err == nil:
		return nil
	case fnErr != nil && err == fnErr:
		return err // the caller's own error, or one Tx already wrapped
	case errors.Is(err, redis.TxFailedErr):
		return store.ErrTxConflict
	default:
		return wrapErr(err)
	}
}

type tx struct{ t *redis.Tx }

func (x *tx) Do(ctx context.Context, args ...any) (any, error) {
	v, err := x.t.Do(ctx, args...).Result()
	if err == redis.Nil {
		return nil, nil
	}
	if err != nil {
		return nil, wrapErr(err)
	}
	return normalise(v), nil
}

func (x *tx) Exec(ctx context.Context, cmds ...[]any) ([]store.Result, error) {
	rc := make([]*redis.Cmd, len(cmds))
	_, err := x.t.TxPipelined(ctx, func(p redis.Pipeliner) error {
		for i, c := range cmds {
			rc[i] = p.Do(ctx, c...)
		}
		return nil
	})
	if errors.Is(err, redis.TxFailedErr) {
		return nil, store.ErrTxConflict
	}
	if err != nil && !isReplyErr(err) {
		return nil, wrapErr(err)
	}
	return results(rc), nil
}

// Publish implements store.Store.
func (s *Store) Publish(ctx context.Context, channel string, msg []byte) (int64, error) {
	if err := s.ctxErr(ctx); err != nil {
		return 0, err
	}
	n, err := s.cmd.Publish(ctx, channel, msg).Result()
	return n, wrapErr(err)
}

// Scan implements store.Store. On Cluster every master is scanned, one
// after another, and fn is never called concurrently.
func (s *Store) Scan(ctx context.Context, pattern string, count int, fn func(keys []string) error) error {
	if count <= 0 {
		count = 100
	}
	if s.cluster == nil {
		return scanNode(ctx, s.client, pattern, int64(count), fn)
	}
	var nodes []*redis.Client
	var mu sync.Mutex
	err := s.cluster.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error {
		mu.Lock()
		nodes = append(nodes, c)
		mu.Unlock()
		return nil
	})
	if err != nil {
		return wrapErr(err)
	}
	for _, c := range nodes {
		if err := scanNode(ctx, c, pattern, int64(count), fn); err != nil {
			return err
		}
	}
	return nil
}

func scanNode(ctx context.Context, c redis.Cmdable, pattern string, count int64, fn func([]string) error) error {
	var cursor uint64
	for {
		keys, next, err := c.Scan(ctx, cursor, pattern, count).Result()
		if err != nil {
			return wrapErr(err)
		}
		if len(keys) > 0 {
			if err := fn(keys); err != nil {
				return err
			}
		}
		if next == 0 {
			return nil
		}
		cursor = next
	}
}

// Ping implements store.Pinger. On Cluster it pings every master.
func (s *Store) Ping(ctx context.Context) error {
	if s.cluster != nil {
		return wrapErr(s.cluster.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error {
			return c.Ping(ctx).Err()
		}))
	}
	return wrapErr(s.client.Ping(ctx).Err())
}

// Close implements store.Closer. It stops the AutoPipeliner, if any, and
// closes the client only when the Store owns it (Options.OwnsClient, set by
// Open).
func (s *Store) Close() error {
	var err error
	s.closeOnce.Do(func() {
		if s.ap != nil {
			err = s.ap.Close()
		}
		if s.opts.OwnsClient {
			if cerr := s.client.Close(); err == nil {
				err = cerr
			}
		}
	})
	return err
}
