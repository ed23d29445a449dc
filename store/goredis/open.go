package goredis

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// ErrBadURL is wrapped by every error Open returns for a URL it cannot use.
var ErrBadURL = errors.New("goredis: bad redis url")

// Open connects to the Redis that rawURL names and returns a Store that owns
// the client (Close closes it). The client is made with go-redis's
// ContextTimeoutEnabled on, so that no call waits past its context's
// deadline, and with RESP2 unless the URL sets protocol=3, so that replies
// are exactly those of the redigo backend (RESP3 returns some replies, such
// as ZRANGE WITHSCORES and doubles, in other shapes). The forms are:
//
//	redis://[user:password@]host:port[/db][?dial_timeout=3s&...]
//	rediss://...                                     TLS
//	redis+cluster://[user:password@]host:port[,host:port...][?...]
//	rediss+cluster://...                             Cluster over TLS
//	redis+sentinel://[user:password@]host:port[,host:port...]/master[/db][?sentinel_password=...]
//
// The query parameters of go-redis's ParseURL (dial_timeout, read_timeout,
// max_retries, pool_size, protocol, ...) are accepted, and for a single node
// also dialer_retries and dialer_retry_timeout (go-redis dials 5 times, 100ms
// apart, by default: lower them to fail fast when Redis is down). The password is never included in
// an error message.
func Open(rawURL string, opts Options) (*Store, error) {
	client, err := NewClient(rawURL)
	if err != nil {
		return nil, err
	}
	opts.OwnsClient = true
	s, err := NewWithOptions(client, opts)
	if err != nil {
		client.Close()
		return nil, err
	}
	return s, nil
}

// NewClient returns the go-redis client for rawURL, in the forms Open
// accepts, without wrapping it in a Store.
func NewClient(rawURL string) (redis.UniversalClient, error) {
	scheme, rest, ok := strings.Cut(rawURL, "://")
	if !ok || rest == "" {
		return nil, fmt.Errorf("%w: want scheme://host:port, got %q", ErrBadURL, redact(rawURL))
	}
	switch strings.ToLower(scheme) {
	case "redis", "rediss", "unix":
		stripped, dialer, err := dialerParams(rawURL)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %s", ErrBadURL, redact(rawURL), err)
		}
		o, err := redis.ParseURL(stripped)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %s", ErrBadURL, redact(rawURL), scrub(err, rawURL))
		}
		dialer.apply(o)
		o.ContextTimeoutEnabled = true
		if !hasQuery(rawURL, "protocol") {
			o.Protocol = 2
		}
		return redis.NewClient(o), nil
	case "redis+cluster", "rediss+cluster":
		return clusterClient(strings.TrimSuffix(strings.ToLower(scheme), "+cluster"), rest, rawURL)
	case "redis+sentinel", "rediss+sentinel":
		return sentinelClient(strings.ToLower(scheme) == "rediss+sentinel", rest, rawURL)
	default:
		return nil, fmt.Errorf("%w: unknown scheme %q (want redis, rediss, redis+cluster, rediss+cluster or redis+sentinel)", ErrBadURL, scheme)
	}
}

func clusterClient(scheme, rest, rawURL string) (redis.UniversalClient, error) {
	// redis+cluster://u:p@h1:1,h2:2?x=y becomes go-redis's
	// redis://u:p@h1:1?addr=h2:2&x=y.
	hostPart, query, _ := strings.Cut(rest, "?")
	userinfo := ""
	if i := strings.LastIndexByte(hostPart, '@'); i >= 0 {
		userinfo, hostPart = hostPart[:i+1], hostPart[i+1:]
	}
	hostPart = strings.TrimSuffix(hostPart, "/")
	hosts := strings.Split(hostPart, ",")
	if hostPart == "" || len(hosts) == 0 {
		return nil, fmt.Errorf("%w: %s: no cluster hosts", ErrBadURL, redact(rawURL))
	}
	q := url.Values{}
	if query != "" {
		var err error
		if q, err = url.ParseQuery(query); err != nil {
			return nil, fmt.Errorf("%w: %s: bad query", ErrBadURL, redact(rawURL))
		}
	}
	for _, h := range hosts[1:] {
		if h == "" {
			return nil, fmt.Errorf("%w: %s: empty host in list", ErrBadURL, redact(rawURL))
		}
		q.Add("addr", h)
	}
	u := scheme + "://" + userinfo + hosts[0]
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	o, err := redis.ParseClusterURL(u)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %s", ErrBadURL, redact(rawURL), scrub(err, u))
	}
	o.ContextTimeoutEnabled = true
	if !q.Has("protocol") {
		o.Protocol = 2
	}
	return redis.NewClusterClient(o), nil
}

func sentinelClient(tls bool, rest, rawURL string) (redis.UniversalClient, error) {
	u, err := url.Parse("redis://" + rest)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("%w: %s: want redis+sentinel://host:port[,host:port]/master[/db]", ErrBadURL, redact(rawURL))
	}
	path := strings.Split(strings.Trim(u.Path, "/"), "/")
	if len(path) == 0 || path[0] == "" || len(path) > 2 {
		return nil, fmt.Errorf("%w: %s: want /master[/db] after the sentinel hosts", ErrBadURL, redact(rawURL))
	}
	o := &redis.FailoverOptions{MasterName: path[0], SentinelAddrs: strings.Split(u.Host, ","), ContextTimeoutEnabled: true, Protocol: 2}
	for _, a := range o.SentinelAddrs {
		if a == "" || !strings.Contains(a, ":") {
			return nil, fmt.Errorf("%w: %s: sentinel address %q needs host:port", ErrBadURL, redact(rawURL), a)
		}
	}
	if len(path) == 2 {
		if o.DB, err = strconv.Atoi(path[1]); err != nil || o.DB < 0 {
			return nil, fmt.Errorf("%w: %s: bad database number %q", ErrBadURL, redact(rawURL), path[1])
		}
	}
	if u.User != nil {
		o.Username = u.User.Username()
		o.Password, _ = u.User.Password()
	}
	q := u.Query()
	o.SentinelUsername = q.Get("sentinel_username")
	o.SentinelPassword = q.Get("sentinel_password")
	if tls {
		o.TLSConfig = tlsConfig(u.Hostname())
	}
	return redis.NewFailoverClient(o), nil
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

// scrub removes the password of raw from a parse error's text, also when
// raw is too malformed for url.Parse.
func scrub(err error, raw string) string {
	msg := err.Error()
	if _, rest, ok := strings.Cut(raw, "://"); ok {
		if i := strings.LastIndexByte(rest, '@'); i >= 0 {
			userinfo := rest[:i]
			if _, pass, ok := strings.Cut(userinfo, ":"); ok && pass != "" {
				msg = strings.ReplaceAll(msg, userinfo, "xxxxx")
				msg = strings.ReplaceAll(msg, pass, "xxxxx")
			}
		}
	}
	return msg
}

type dialerOpts struct {
	retries int
	timeout time.Duration
}

func (d dialerOpts) apply(o *redis.Options) {
	if d.retries > 0 {
		o.DialerRetries = d.retries
	}
	if d.timeout > 0 {
		o.DialerRetryTimeout = d.timeout
	}
}

// dialerParams takes dialer_retries and dialer_retry_timeout out of the
// URL's query, which go-redis's ParseURL would reject.
func dialerParams(raw string) (string, dialerOpts, error) {
	var d dialerOpts
	u, err := url.Parse(raw)
	if err != nil || u.RawQuery == "" {
		return raw, d, nil // ParseURL reports the error
	}
	q := u.Query()
	if v := q.Get("dialer_retries"); v != "" {
		if d.retries, err = strconv.Atoi(v); err != nil || d.retries < 1 {
			return "", d, fmt.Errorf("dialer_retries must be a positive integer, got %q", v)
		}
		q.Del("dialer_retries")
	}
	if v := q.Get("dialer_retry_timeout"); v != "" {
		if d.timeout, err = time.ParseDuration(v); err != nil || d.timeout <= 0 {
			return "", d, fmt.Errorf("dialer_retry_timeout must be a positive duration, got %q", v)
		}
		q.Del("dialer_retry_timeout")
	}
	u.RawQuery = q.Encode()
	return u.String(), d, nil
}

func hasQuery(raw, name string) bool {
	u, err := url.Parse(raw)
	return err == nil && u.Query().Has(name)
}
