package redigo

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/gomodule/redigo/redis"
)

// ErrBadURL is wrapped by every error Open returns for a URL it cannot use.
var ErrBadURL = errors.New("redigo: bad redis url")

// Open returns a Store over a new pool for the single Redis node that
// rawURL names. The Store owns the pool: Close closes it. Open does not
// connect; use Ping to check the server. The forms are:
//
//	redis://[[user]:password@]host[:port][/db][?option=value&...]
//	rediss://...   TLS (server name verified, TLS 1.2 or later)
//
// The port defaults to 6379 and the database to 0. Options, all optional:
//
//	dial_timeout=5s       connect timeout (default 5s)
//	read_timeout=3s       per-reply timeout when a call's context has no
//	                      earlier deadline; -1 for none (default 3s)
//	write_timeout=3s      (default: read_timeout)
//	pool_size=20          most connections open at once; callers wait for
//	                      a free one up to their context deadline
//	                      (default 10 per GOMAXPROCS)
//	max_idle=20           idle connections kept (default: pool_size)
//	idle_timeout=5m       idle connections closed after this (default 5m)
//	max_conn_lifetime=1h  (default: unlimited)
//	client_name=name      CLIENT SETNAME on every connection
//
// redigo speaks to one node: the Cluster and Sentinel forms that
// store/goredis opens (redis+cluster://, redis+sentinel://, a list of
// hosts) are refused with ErrBadURL. The password never appears in an
// error message.
func Open(rawURL string, opts Options) (*Store, error) {
	pool, readTimeout, err := newPool(rawURL)
	if err != nil {
		return nil, err
	}
	opts.OwnsPool = true
	s := NewWithOptions(pool, opts)
	s.readTimeout = readTimeout
	return s, nil
}

var dbPath = regexp.MustCompile(`^/?(\d*)$`)

// NewPool returns the redigo pool for rawURL, in the forms Open accepts,
// without wrapping it in a Store.
func NewPool(rawURL string) (*redis.Pool, error) {
	p, _, err := newPool(rawURL)
	return p, err
}

// newPool is NewPool, and also returns the connections' read timeout.
func newPool(rawURL string) (*redis.Pool, time.Duration, error) {
	scheme, rest, ok := strings.Cut(rawURL, "://")
	if !ok || rest == "" {
		return nil, 0, fmt.Errorf("%w: want redis://host:port, got %q", ErrBadURL, redact(rawURL))
	}
	switch s := strings.ToLower(scheme); s {
	case "redis", "rediss":
	case "redis+cluster", "rediss+cluster", "redis+sentinel", "rediss+sentinel":
		return nil, 0, fmt.Errorf("%w: %s: redigo cannot talk to Redis Cluster or Sentinel; use store/goredis", ErrBadURL, redact(rawURL))
	default:
		return nil, 0, fmt.Errorf("%w: unknown scheme %q (want redis or rediss)", ErrBadURL, scheme)
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, 0, fmt.Errorf("%w: %s: cannot parse", ErrBadURL, redact(rawURL))
	}
	if u.Opaque != "" {
		return nil, 0, fmt.Errorf("%w: %s: want scheme://host", ErrBadURL, redact(rawURL))
	}
	if strings.Contains(u.Host, ",") {
		return nil, 0, fmt.Errorf("%w: %s: several hosts: redigo talks to one node (use store/goredis for Cluster)", ErrBadURL, redact(rawURL))
	}
	host, port := u.Hostname(), u.Port()
	if host == "" {
		host = "localhost"
	}
	if port == "" {
		if strings.HasSuffix(u.Host, ":") {
			return nil, 0, fmt.Errorf("%w: %s: empty port", ErrBadURL, redact(rawURL))
		}
		port = "6379"
	}
	if n, err := strconv.Atoi(port); err != nil || n <= 0 || n > 65535 {
		return nil, 0, fmt.Errorf("%w: %s: bad port %q", ErrBadURL, redact(rawURL), port)
	}
	addr := net.JoinHostPort(host, port)

	dialOpts := []redis.DialOption{}
	if u.User != nil {
		user := u.User.Username()
		if pw, set := u.User.Password(); set {
			if user != "" {
				dialOpts = append(dialOpts, redis.DialUsername(user))
			}
			dialOpts = append(dialOpts, redis.DialPassword(pw))
		} else if user != "" {
			// redis-cli treats a lone user-info as the password.
			dialOpts = append(dialOpts, redis.DialPassword(user))
		}
	}
	m := dbPath.FindStringSubmatch(u.Path)
	if m == nil {
		return nil, 0, fmt.Errorf("%w: %s: bad database %q", ErrBadURL, redact(rawURL), strings.TrimPrefix(u.Path, "/"))
	}
	if m[1] != "" {
		db, err := strconv.Atoi(m[1])
		if err != nil {
			return nil, 0, fmt.Errorf("%w: %s: bad database %q", ErrBadURL, redact(rawURL), m[1])
		}
		dialOpts = append(dialOpts, redis.DialDatabase(db))
	}
	if strings.EqualFold(scheme, "rediss") {
		dialOpts = append(dialOpts, redis.DialUseTLS(true),
			redis.DialTLSConfig(&tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}))
	}

	q := u.Query()
	dur := func(name string, def time.Duration) (time.Duration, error) {
		v := q.Get(name)
		q.Del(name)
		switch v {
		case "":
			return def, nil
		case "-1":
			return 0, nil
		}
		d, err := time.ParseDuration(v)
		if err != nil {
			// go-redis also accepts a bare number of seconds.
			n, nerr := strconv.Atoi(v)
			if nerr != nil || n < 0 {
				return 0, fmt.Errorf("%w: %s: bad %s %q", ErrBadURL, redact(rawURL), name, v)
			}
			d = time.Duration(n) * time.Second
		}
		if d < 0 {
			return 0, fmt.Errorf("%w: %s: negative %s", ErrBadURL, redact(rawURL), name)
		}
		return d, nil
	}
	num := func(name string, def int) (int, error) {
		v := q.Get(name)
		q.Del(name)
		if v == "" {
			return def, nil
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("%w: %s: bad %s %q", ErrBadURL, redact(rawURL), name, v)
		}
		return n, nil
	}
	dialTimeout, err := dur("dial_timeout", 5*time.Second)
	if err != nil {
		return nil, 0, err
	}
	readTimeout, err := dur("read_timeout", 3*time.Second)
	if err != nil {
		return nil, 0, err
	}
	writeTimeout, err := dur("write_timeout", readTimeout)
	if err != nil {
		return nil, 0, err
	}
	poolSize, err := num("pool_size", 10*runtime.GOMAXPROCS(0))
	if err != nil {
		return nil, 0, err
	}
	maxIdle, err := num("max_idle", poolSize)
	if err != nil {
		return nil, 0, err
	}
	idleTimeout, err := dur("idle_timeout", 5*time.Minute)
	if err != nil {
		return nil, 0, err
	}
	lifetime, err := dur("max_conn_lifetime", 0)
	if err != nil {
		return nil, 0, err
	}
	if name := q.Get("client_name"); name != "" {
		dialOpts = append(dialOpts, redis.DialClientName(name))
	}
	q.Del("client_name")
	for k := range q {
		return nil, 0, fmt.Errorf("%w: %s: unknown option %q", ErrBadURL, redact(rawURL), k)
	}
	dialOpts = append(dialOpts,
		redis.DialConnectTimeout(dialTimeout),
		redis.DialReadTimeout(readTimeout),
		redis.DialWriteTimeout(writeTimeout))

	return &redis.Pool{
		DialContext: func(ctx context.Context) (redis.Conn, error) {
			return redis.DialContext(ctx, "tcp", addr, dialOpts...)
		},
		MaxIdle:         maxIdle,
		MaxActive:       poolSize,
		Wait:            poolSize > 0,
		IdleTimeout:     idleTimeout,
		MaxConnLifetime: lifetime,
	}, readTimeout, nil
}

// redact hides the password of a URL for error messages.
func redact(raw string) string {
	if u, err := url.Parse(raw); err == nil {
		return u.Redacted()
	}
	scheme, rest, ok := strings.Cut(raw, "://")
	if i := strings.LastIndexByte(rest, '@'); ok && i >= 0 {
		return scheme + "://xxxxx@" + rest[i+1:]
	}
	return raw
}
