package goredis

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rediware/rediware/store"
	"github.com/rediware/rediware/store/internal/subloop"
)

// Options configures a Store. The zero value means all defaults.
type Options struct {
	// NoAutoPipeline turns automatic pipelining off: every command then
	// takes a pooled connection and a round trip of its own.
	//
	// By default the Store batches the single commands (GET, SET, EVALSHA,
	// ...) that many goroutines issue at once into pipelines, which
	// multiplies throughput under concurrency (3x to 6x at 64 goroutines,
	// docs/store.md). A caller that finds fewer than AutoPipelineInFlight
	// round trips outstanding sends its command at once, alone, so a lone
	// caller pays one uncontended mutex for it; the others queue and go
	// together in the next pipeline. Every caller waits with its own
	// context, and a batch stuck on a dead or paused server delays nobody
	// past their deadline. Transactions, pub/sub, scans, Pipeline, streams
	// and blocking commands (BLPOP, XREAD, WAIT, ...) never go through it.
	NoAutoPipeline bool

	// AutoPipelineInFlight is the most round trips the Store keeps
	// outstanding at once. Default: 2 (on 2 to 8 cores, fewer and
	// larger batches measured faster than more and smaller ones).
	AutoPipelineInFlight int

	// AutoPipelineMaxBatch is the most commands sent in one automatic
	// pipeline. Default: 512.
	AutoPipelineMaxBatch int

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
	cluster *redis.ClusterClient
	opts    Options
	batch   *batcher // automatic pipelining, when enabled

	closed    atomic.Bool
	closeOnce sync.Once
	subs      subloop.Set // open subscriptions, closed by Close
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
	s, _ := NewWithOptions(client, Options{}) // fails only on a nil client
	return s
}

// NewWithOptions returns a Store over client. It fails only when
// the client is nil.
func NewWithOptions(client redis.UniversalClient, opts Options) (*Store, error) {
	if client == nil {
		return nil, errors.New("goredis: nil client")
	}
	s := &Store{client: client, opts: opts}
	if opts.MaxKeyLen <= 0 {
		s.opts.MaxKeyLen = store.DefaultMaxKeyLen
	}
	if opts.SubscriptionHealthInterval <= 0 {
		s.opts.SubscriptionHealthInterval = 5 * time.Second
	}
	if c, ok := client.(*redis.ClusterClient); ok {
		s.cluster = c
	}
	if !opts.NoAutoPipeline {
		if s.opts.AutoPipelineInFlight <= 0 {
			s.opts.AutoPipelineInFlight = 2
		}
		if s.opts.AutoPipelineMaxBatch <= 0 {
			s.opts.AutoPipelineMaxBatch = 512
		}
		s.batch = newBatcher(client, s.opts.AutoPipelineInFlight, s.opts.AutoPipelineMaxBatch)
	}
	return s, nil
}

// Client returns the underlying go-redis client.
func (s *Store) Client() redis.UniversalClient { return s.client }

// process runs one command, on the client or through the batcher. It
// returns nil, redis.Nil, or an error already mapped by wrapErr. On an
// error the command's value must not be read: with AutoPipeline it may
// still be being written.
func (s *Store) process(ctx context.Context, cmd redis.Cmder) error {
	return s.run(ctx, cmd, s.batch != nil)
}

// processAlone runs cmd on the client, never batched.
func (s *Store) processAlone(ctx context.Context, cmd redis.Cmder) error {
	return s.run(ctx, cmd, false)
}

func (s *Store) run(ctx context.Context, cmd redis.Cmder, batched bool) error {
	if s.closed.Load() {
		return store.ErrClosed
	}
	var err error
	if !batched {
		err = s.client.Process(ctx, cmd)
	} else {
		if cerr := ctx.Err(); cerr != nil {
			return fmt.Errorf("%w: %w", store.ErrUnavailable, cerr)
		}
		err = s.batch.do(ctx, cmd)
	}
	if err == nil || err == redis.Nil {
		return err
	}
	return wrapErr(err)
}

// ms converts a positive TTL to whole milliseconds, at least 1, so that PX
// never receives 0 (which Redis rejects).
func ms(ttl time.Duration) int64 { return max(ttl.Milliseconds(), 1) }

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
	cmd := redis.NewStringCmd(ctx, "get", key)
	switch err := s.process(ctx, cmd); err {
	case nil:
		v, _ := cmd.Bytes()
		return v, true, nil
	case redis.Nil:
		return nil, false, nil
	default:
		return nil, false, err
	}
}

// Set implements store.Store.
func (s *Store) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if err := store.CheckKey(key, s.opts.MaxKeyLen); err != nil {
		return err
	}
	if ttl < 0 {
		return fmt.Errorf("%w: %v", store.ErrInvalidTTL, ttl)
	}
	args := []any{"set", key, value}
	if ttl > 0 {
		args = append(args, "px", ms(ttl))
	}
	return s.process(ctx, redis.NewStatusCmd(ctx, args...))
}

// SetNX implements store.Store.
func (s *Store) SetNX(ctx context.Context, key string, value []byte, ttl time.Duration) (bool, error) {
	if err := store.CheckKey(key, s.opts.MaxKeyLen); err != nil {
		return false, err
	}
	if ttl < 0 {
		return false, fmt.Errorf("%w: %v", store.ErrInvalidTTL, ttl)
	}
	args := []any{"set", key, value}
	if ttl > 0 {
		args = append(args, "px", ms(ttl))
	}
	args = append(args, "nx")
	switch err := s.process(ctx, redis.NewStatusCmd(ctx, args...)); err {
	case nil:
		return true, nil
	case redis.Nil:
		return false, nil
	default:
		return false, err
	}
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
	if s.cluster == nil {
		args := make([]any, 0, len(keys)+1)
		args = append(args, "unlink")
		for _, k := range keys {
			args = append(args, k)
		}
		cmd := redis.NewIntCmd(ctx, args...)
		if err := s.process(ctx, cmd); err != nil {
			return 0, err
		}
		return cmd.Val(), nil
	}
	if s.closed.Load() {
		return 0, store.ErrClosed
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
	cmd := redis.NewBoolCmd(ctx, "pexpire", key, ms(ttl))
	if err := s.process(ctx, cmd); err != nil {
		return false, err
	}
	return cmd.Val(), nil
}

// TTL implements store.Store.
func (s *Store) TTL(ctx context.Context, key string) (time.Duration, bool, error) {
	if err := store.CheckKey(key, s.opts.MaxKeyLen); err != nil {
		return 0, false, err
	}
	cmd := redis.NewIntCmd(ctx, "pttl", key)
	if err := s.process(ctx, cmd); err != nil {
		return 0, false, err
	}
	ttl, found := store.PTTL(cmd.Val())
	return ttl, found, nil
}

// Eval implements store.Store: EVALSHA, and EVAL once on NOSCRIPT.
func (s *Store) Eval(ctx context.Context, script *store.Script, keys []string, args ...any) (any, error) {
	if err := s.checkKeys(keys...); err != nil {
		return nil, err
	}
	a := make([]any, 0, 3+len(keys)+len(args))
	a = append(a, "evalsha", script.SHA1(), len(keys))
	for _, k := range keys {
		a = append(a, k)
	}
	a = append(a, args...)
	cmd := redis.NewCmd(ctx, a...)
	err := s.process(ctx, cmd)
	if store.IsRedisError(err, "NOSCRIPT") {
		a[0], a[1] = "eval", script.Source()
		cmd = redis.NewCmd(ctx, a...)
		err = s.process(ctx, cmd)
	}
	switch err {
	case nil:
		return normalise(cmd.Val()), nil
	case redis.Nil:
		return nil, nil
	default:
		return nil, err
	}
}

// Do implements store.Doer.
func (s *Store) Do(ctx context.Context, args ...any) (any, error) {
	if len(args) == 0 {
		return nil, errors.New("goredis: Do needs a command")
	}
	if name, ok := args[0].(string); ok && connStateCommands[strings.ToLower(name)] {
		return nil, fmt.Errorf("goredis: Do(%q) would change a pooled connection's state; use Watch or Subscribe", name)
	}
	cmd := redis.NewCmd(ctx, args...)
	run := s.process
	if isBlocking(args) {
		run = s.processAlone
	}
	switch err := run(ctx, cmd); err {
	case nil:
		return normalise(cmd.Val()), nil
	case redis.Nil:
		return nil, nil
	default:
		return nil, err
	}
}

// connStateCommands would leave a pooled connection in a state the next
// user does not expect (inside MULTI, subscribed, on another database).
var connStateCommands = map[string]bool{
	"multi": true, "exec": true, "discard": true, "watch": true, "unwatch": true,
	"subscribe": true, "psubscribe": true, "ssubscribe": true,
	"unsubscribe": true, "punsubscribe": true, "sunsubscribe": true,
	"select": true, "auth": true, "hello": true, "reset": true, "monitor": true, "quit": true,
}

// Pipeline implements store.Pipeliner.
func (s *Store) Pipeline(ctx context.Context, cmds ...[]any) ([]store.Result, error) {
	if s.closed.Load() {
		return nil, store.ErrClosed
	}
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
	if s.closed.Load() {
		return store.ErrClosed
	}
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
	cmd := redis.NewIntCmd(ctx, "publish", channel, msg)
	if err := s.process(ctx, cmd); err != nil {
		return 0, err
	}
	return cmd.Val(), nil
}

// Scan implements store.Store. On Cluster every master is scanned, one
// after another, and fn is never called concurrently.
func (s *Store) Scan(ctx context.Context, pattern string, count int, fn func(keys []string) error) error {
	if s.closed.Load() {
		return store.ErrClosed
	}
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
	if s.closed.Load() {
		return store.ErrClosed
	}
	if s.cluster != nil {
		return wrapErr(s.cluster.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error {
			return c.Ping(ctx).Err()
		}))
	}
	return wrapErr(s.client.Ping(ctx).Err())
}

// Close implements store.Closer. It ends the Store's subscriptions and closes the client only when the Store owns
// it (Options.OwnsClient, set by Open). Later calls fail with
// store.ErrClosed.
func (s *Store) Close() error {
	var err error
	s.closeOnce.Do(func() {
		s.closed.Store(true)
		s.subs.Close()
		if s.opts.OwnsClient {
			if cerr := s.client.Close(); err == nil {
				err = cerr
			}
		}
	})
	return err
}
