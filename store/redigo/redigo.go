package redigo

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gomodule/redigo/redis"

	"github.com/rediware/rediware/store"
	"github.com/rediware/rediware/store/internal/subloop"
)

// Options configures a Store. The zero value means all defaults.
type Options struct {
	// MaxKeyLen is the longest key accepted, in bytes. Default:
	// store.DefaultMaxKeyLen.
	MaxKeyLen int

	// SubscriptionHealthInterval is how long a subscription waits for a
	// message before it pings the server to check the connection, and how
	// long it then waits for the answer before reconnecting. Default: 5s.
	SubscriptionHealthInterval time.Duration

	// OwnsPool makes Close close the pool. Open sets it.
	OwnsPool bool
}

// Store is a store.Store over a redigo connection pool, for a single Redis
// node. redigo has no Cluster or Sentinel support: use store/goredis for
// those.
//
// Every call takes a connection from the pool with the call's context (a
// pool with Wait set waits for a free connection no longer than the context
// allows) and bounds the command by the context's deadline, so no call waits
// past it.
type Store struct {
	pool *redis.Pool
	opts Options

	// readTimeout is the pool connections' read timeout when known (Open
	// sets it): a call never waits longer, even with a later deadline.
	readTimeout time.Duration

	closed    atomic.Bool
	closeOnce sync.Once

	subs subloop.Set // open subscriptions, closed by Close
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

// New returns a Store over pool with default options. It panics if pool is
// nil, a programmer error.
func New(pool *redis.Pool) *Store { return NewWithOptions(pool, Options{}) }

// NewWithOptions returns a Store over pool. It panics if pool is nil.
func NewWithOptions(pool *redis.Pool, opts Options) *Store {
	if pool == nil {
		panic("redigo: nil pool")
	}
	if opts.MaxKeyLen <= 0 {
		opts.MaxKeyLen = store.DefaultMaxKeyLen
	}
	if opts.SubscriptionHealthInterval <= 0 {
		opts.SubscriptionHealthInterval = 5 * time.Second
	}
	return &Store{pool: pool, opts: opts}
}

// Pool returns the underlying redigo pool.
func (s *Store) Pool() *redis.Pool { return s.pool }

// conn takes a connection from the pool, bounded by ctx.
func (s *Store) conn(ctx context.Context) (redis.Conn, error) {
	if s.closed.Load() {
		return nil, store.ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return nil, wrapErr(err)
	}
	c, err := s.pool.GetContext(ctx)
	if err != nil {
		return nil, wrapErr(err)
	}
	return c, nil
}

// do runs one command on a pooled connection. The reply is raw (not
// normalised); a Redis error reply is returned as *store.RedisError.
func (s *Store) do(ctx context.Context, cmd string, args ...any) (any, error) {
	c, err := s.conn(ctx)
	if err != nil {
		return nil, err
	}
	v, err := s.doConn(ctx, c, cmd, args...)
	c.Close()
	return v, err
}

// doConn runs a command on c within ctx.
//
// A context with a deadline bounds the call with a socket deadline
// (DoWithTimeout): the call returns by the deadline without the goroutine
// and channel that redigo's DoContext spends per call, which cost about
// half the throughput at 64 goroutines. Such a call does not notice a
// cancel before its deadline; a healthy server answers long before. A
// context that can be canceled but has no deadline uses DoContext, and one
// that can never end a plain Do.
func (s *Store) doConn(ctx context.Context, c redis.Conn, cmd string, args ...any) (any, error) {
	var v any
	var err error
	if dl, ok := ctx.Deadline(); ok {
		timeout := time.Until(dl)
		if timeout <= 0 {
			return nil, wrapErr(context.DeadlineExceeded)
		}
		byDeadline := true
		if s.readTimeout > 0 && s.readTimeout < timeout {
			timeout, byDeadline = s.readTimeout, false
		}
		v, err = redis.DoWithTimeout(c, timeout, cmd, args...)
		if err != nil && byDeadline && isTimeout(err) {
			err = fmt.Errorf("%w: %w", context.DeadlineExceeded, err)
		}
	} else if ctx.Done() == nil {
		v, err = c.Do(cmd, args...)
	} else {
		v, err = redis.DoContext(c, ctx, cmd, args...)
	}
	if err != nil {
		return nil, wrapErr(err)
	}
	return v, nil
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
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
	v, err := s.do(ctx, "GET", key)
	if err != nil || v == nil {
		return nil, false, err
	}
	b, ok := v.([]byte)
	if !ok {
		return nil, false, fmt.Errorf("%w: GET returned %T", store.ErrUnexpectedReply, v)
	}
	return b, true, nil
}

// pxArg returns ttl in whole milliseconds, at least 1 for a positive ttl
// (PX 0 is an error in Redis).
func pxArg(ttl time.Duration) int64 {
	ms := ttl.Milliseconds()
	if ttl > 0 && ms == 0 {
		ms = 1
	}
	return ms
}

// Set implements store.Store.
func (s *Store) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if err := store.CheckKey(key, s.opts.MaxKeyLen); err != nil {
		return err
	}
	if ttl < 0 {
		return fmt.Errorf("%w: %v", store.ErrInvalidTTL, ttl)
	}
	var err error
	if ttl == 0 {
		_, err = s.do(ctx, "SET", key, value)
	} else {
		_, err = s.do(ctx, "SET", key, value, "PX", pxArg(ttl))
	}
	return err
}

// SetNX implements store.Store.
func (s *Store) SetNX(ctx context.Context, key string, value []byte, ttl time.Duration) (bool, error) {
	if err := store.CheckKey(key, s.opts.MaxKeyLen); err != nil {
		return false, err
	}
	if ttl < 0 {
		return false, fmt.Errorf("%w: %v", store.ErrInvalidTTL, ttl)
	}
	var v any
	var err error
	if ttl == 0 {
		v, err = s.do(ctx, "SET", key, value, "NX")
	} else {
		v, err = s.do(ctx, "SET", key, value, "PX", pxArg(ttl), "NX")
	}
	return err == nil && v != nil, err
}

// Delete implements store.Store with one UNLINK.
func (s *Store) Delete(ctx context.Context, keys ...string) (int64, error) {
	if len(keys) == 0 {
		return 0, nil
	}
	if err := s.checkKeys(keys...); err != nil {
		return 0, err
	}
	args := make([]any, len(keys))
	for i, k := range keys {
		args[i] = k
	}
	v, err := s.do(ctx, "UNLINK", args...)
	if err != nil {
		return 0, err
	}
	return store.Int64(v)
}

// Expire implements store.Store.
func (s *Store) Expire(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	if err := store.CheckKey(key, s.opts.MaxKeyLen); err != nil {
		return false, err
	}
	if ttl <= 0 {
		return false, fmt.Errorf("%w: %v", store.ErrInvalidTTL, ttl)
	}
	v, err := s.do(ctx, "PEXPIRE", key, pxArg(ttl))
	if err != nil {
		return false, err
	}
	n, err := store.Int64(v)
	return n == 1, err
}

// TTL implements store.Store.
func (s *Store) TTL(ctx context.Context, key string) (time.Duration, bool, error) {
	if err := store.CheckKey(key, s.opts.MaxKeyLen); err != nil {
		return 0, false, err
	}
	v, err := s.do(ctx, "PTTL", key)
	if err != nil {
		return 0, false, err
	}
	ms, err := store.Int64(v)
	if err != nil {
		return 0, false, err
	}
	ttl, found := store.PTTL(ms)
	return ttl, found, nil
}

// Eval implements store.Store: EVALSHA, and EVAL once on NOSCRIPT. Any
// other failure, a timeout above all, is returned as it is: the script may
// have run.
func (s *Store) Eval(ctx context.Context, script *store.Script, keys []string, args ...any) (any, error) {
	if err := s.checkKeys(keys...); err != nil {
		return nil, err
	}
	a := make([]any, 0, 2+len(keys)+len(args))
	a = append(a, script.SHA1(), len(keys))
	for _, k := range keys {
		a = append(a, k)
	}
	a, err := encodeArgs(a, args)
	if err != nil {
		return nil, err
	}
	c, err := s.conn(ctx)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	v, err := s.doConn(ctx, c, "EVALSHA", a...)
	if err != nil && store.IsNoScript(err) {
		a[0] = script.Source()
		v, err = s.doConn(ctx, c, "EVAL", a...)
	}
	if err != nil {
		return nil, err
	}
	return normalise(v), nil
}

// Do implements store.Doer. The first argument is the command name.
// Commands that change the state of the connection they run on (MULTI,
// WATCH, SUBSCRIBE, SELECT, ...) are refused: the connection goes back to
// the pool after the call. Use Watch, Subscribe or Pipeline instead.
func (s *Store) Do(ctx context.Context, args ...any) (any, error) {
	cmd, rest, err := splitCommand(args)
	if err != nil {
		return nil, err
	}
	if connStateCommands[strings.ToUpper(cmd)] {
		return nil, fmt.Errorf("redigo: Do refuses %s: it changes the state of a pooled connection (use Watch, Subscribe or Pipeline)", cmd)
	}
	v, err := s.do(ctx, cmd, rest...)
	if err != nil {
		return nil, err
	}
	return normalise(v), nil
}

// connStateCommands change the state of the connection they run on.
var connStateCommands = map[string]bool{
	"MULTI": true, "EXEC": true, "DISCARD": true, "WATCH": true, "UNWATCH": true,
	"SUBSCRIBE": true, "PSUBSCRIBE": true, "SSUBSCRIBE": true,
	"UNSUBSCRIBE": true, "PUNSUBSCRIBE": true, "SUNSUBSCRIBE": true,
	"SELECT": true, "MONITOR": true, "RESET": true, "QUIT": true, "HELLO": true, "AUTH": true,
}

// splitCommand returns the command name and the encoded arguments.
func splitCommand(args []any) (string, []any, error) {
	if len(args) == 0 {
		return "", nil, errNoCommand
	}
	var cmd string
	switch x := args[0].(type) {
	case string:
		cmd = x
	case []byte:
		cmd = string(x)
	default:
		return "", nil, fmt.Errorf("redigo: command name is %T, want string", args[0])
	}
	if cmd == "" {
		return "", nil, errNoCommand
	}
	rest, err := encodeArgs(make([]any, 0, len(args)-1), args[1:])
	return cmd, rest, err
}

// Publish implements store.Store.
func (s *Store) Publish(ctx context.Context, channel string, msg []byte) (int64, error) {
	v, err := s.do(ctx, "PUBLISH", channel, msg)
	if err != nil {
		return 0, err
	}
	return store.Int64(v)
}

// Scan implements store.Store with the SCAN cursor. Each batch takes a
// connection from the pool, so fn never holds one.
func (s *Store) Scan(ctx context.Context, pattern string, count int, fn func(keys []string) error) error {
	if count <= 0 {
		count = 100
	}
	cursor := "0"
	for {
		var v any
		var err error
		if pattern != "" {
			v, err = s.do(ctx, "SCAN", cursor, "MATCH", pattern, "COUNT", count)
		} else {
			v, err = s.do(ctx, "SCAN", cursor, "COUNT", count)
		}
		if err != nil {
			return err
		}
		next, keys, err := scanReply(v)
		if err != nil {
			return err
		}
		if len(keys) > 0 {
			if err := fn(keys); err != nil {
				return err
			}
		}
		if next == "0" {
			return nil
		}
		cursor = next
	}
}

func scanReply(v any) (string, []string, error) {
	a, err := store.Slice(normalise(v), 2)
	if err != nil {
		return "", nil, err
	}
	next, _, err := store.String(a[0])
	if err != nil {
		return "", nil, err
	}
	if _, err := strconv.ParseUint(next, 10, 64); err != nil {
		return "", nil, fmt.Errorf("%w: SCAN cursor %q", store.ErrUnexpectedReply, next)
	}
	ka, err := store.Slice(a[1], 0)
	if err != nil {
		return "", nil, err
	}
	keys := make([]string, 0, len(ka))
	for _, k := range ka {
		ks, ok, err := store.String(k)
		if err != nil {
			return "", nil, err
		}
		if ok {
			keys = append(keys, ks)
		}
	}
	return next, keys, nil
}

// Ping implements store.Pinger.
func (s *Store) Ping(ctx context.Context) error {
	_, err := s.do(ctx, "PING")
	return err
}

// Close implements store.Closer. It closes the Store's subscriptions, and
// later calls fail with store.ErrClosed. The pool is closed only when the
// Store owns it (Options.OwnsPool, set by Open).
func (s *Store) Close() error {
	var err error
	s.closeOnce.Do(func() {
		s.closed.Store(true)
		s.subs.Close()
		if s.opts.OwnsPool {
			err = s.pool.Close()
		}
	})
	return err
}
