package responsecache

import (
	"net/http"
	"strings"
	"time"

	"github.com/rediware/rediware/store"
)

// SetCookiePolicy says what the cache does with a response carrying
// Set-Cookie.
type SetCookiePolicy uint8

const (
	// SetCookieBypass (the default) never stores a response that carries
	// Set-Cookie: it goes to the client untouched and is not cached.
	SetCookieBypass SetCookiePolicy = iota
	// SetCookieStrip stores the response without its Set-Cookie fields:
	// the client that caused the fetch gets its cookie, later hits do not.
	SetCookieStrip
	// SetCookieStore stores Set-Cookie with the response, as RFC 9111
	// permits. Every client served from the entry receives the cookie: use
	// only when the origin's cookies are not per user.
	SetCookieStore
)

// Options configures a Cache. The zero value gives a safe shared cache with
// the defaults named on each field.
type Options struct {
	// Name is the cache's identifier in the Cache-Status field (RFC 9211).
	// Default: "rediware".
	Name string

	// KeyPrefix prefixes every Redis key. Default: "rc".
	KeyPrefix string

	// MaxObjectSize is the largest body, in bytes, that is stored. A larger
	// response streams through to the client uncached; it is never
	// buffered whole. Default: 1 MiB.
	MaxObjectSize int64

	// Heuristic enables heuristic freshness (RFC 9111 section 4.2.2) for
	// responses without explicit freshness: 10% of the time since
	// Last-Modified, at most HeuristicMax. Default: off.
	Heuristic bool
	// HeuristicMax caps heuristic freshness. Default: 24h.
	HeuristicMax time.Duration

	// DefaultTTL is the freshness lifetime given to storable responses that
	// carry no explicit freshness (no s-maxage, max-age or Expires): those
	// with a heuristically cacheable status (200, 404, ...) or public. It
	// never makes another status (400, 500, ...) storable. It takes
	// precedence over the heuristic. Default: 0 (none).
	DefaultTTL time.Duration
	// MaxTTL caps every freshness lifetime. Default: 0 (no cap).
	MaxTTL time.Duration

	// StaleRetention is how long an entry is kept in Redis after it became
	// stale, so that it can be revalidated with a conditional request,
	// served under a request's max-stale or when the origin is unreachable.
	// The stale-while-revalidate and stale-if-error windows of a response
	// are added to it. Default: 10m. A negative value keeps nothing.
	StaleRetention time.Duration

	// SetCookie says what to do with responses carrying Set-Cookie.
	// Default: SetCookieBypass.
	SetCookie SetCookiePolicy

	// TagHeaders are the response header fields read for cache tags
	// (space or comma separated). Default: Surrogate-Key and Cache-Tag.
	TagHeaders []string
	// TargetedFields are the targeted cache-control fields this cache
	// obeys (RFC 9213), in order of precedence. When a response carries a
	// valid one, its directives replace Cache-Control and Expires for this
	// cache; the field is still forwarded. Surrogate-Control is read with
	// Cache-Control syntax, the others as Structured Fields. Default:
	// CDN-Cache-Control, then Surrogate-Control. An empty, non-nil slice
	// disables targeted fields.
	TargetedFields []string

	// KeepTagHeaders passes the tag header fields on to the client.
	// Default: false (they are removed).
	KeepTagHeaders bool

	// TrustForwarded makes the cache key use X-Forwarded-Proto and
	// X-Forwarded-Host instead of the connection's scheme and r.Host. Only
	// enable it behind a proxy that sets those fields itself; otherwise any
	// client can poison the entries of another host. Whether or not it is
	// set, the other request fields that origins commonly honour without
	// their being in the URL (X-Forwarded-Prefix, -Port, -Scheme, Forwarded,
	// X-Original-URL, X-Rewrite-URL, X-HTTP-Method-Override and the like)
	// are added to the key of a request that carries them, so that such a
	// request only ever gets entries of its own. Default: false.
	TrustForwarded bool

	// StoreTimeout bounds each Redis call made while serving a request.
	// The reads of the hit path share one deadline among the reads that
	// start within an eighth of it (no timer per read), so a read gets
	// between 7/8 of StoreTimeout and all of it, and it ends at its
	// deadline, not when the client goes away. Default: 200ms.
	StoreTimeout time.Duration

	// Breaker is the circuit breaker around Redis. While it is open the
	// cache passes requests straight to the origin. Default: a Breaker with
	// its defaults.
	Breaker *store.Breaker

	// DisableCoalescing turns off request coalescing: by default concurrent
	// misses for one URL in one process reach the origin once.
	DisableCoalescing bool
	// CoalesceWait bounds how long a request waits for another's fetch.
	// Default: 10s.
	CoalesceWait time.Duration
	// CrossInstanceLock also coalesces misses across processes: the first
	// takes a short Redis lock (SET NX) for the URL and the others poll for
	// the entry, up to CoalesceWait or LockTTL, whichever is shorter; they
	// fetch themselves once the lock is released without a usable entry.
	// Default: off.
	CrossInstanceLock bool
	// LockTTL is the lifetime of that lock. Default: 5s.
	LockTTL time.Duration

	// LocalBytes enables an in-process tier of at most this many bytes in
	// front of Redis, kept coherent across instances by pub/sub
	// invalidation and flushed when the subscription reconnects. Entries
	// are counted by their decoded size (body after decompression, plus
	// header fields); one larger than a quarter of LocalBytes is not held.
	// Default: 0 (off).
	LocalBytes int64

	// ErrorFunc is called with Redis errors the cache swallowed (it always
	// falls back to the origin). Default: nil.
	ErrorFunc func(r *http.Request, err error)
}

// Route overrides the cache's behaviour for the routes it wraps; see
// Cache.Route. The zero value changes nothing.
type Route struct {
	// DefaultTTL, when > 0, replaces Options.DefaultTTL.
	DefaultTTL time.Duration
	// MaxTTL, when > 0, replaces Options.MaxTTL.
	MaxTTL time.Duration
	// Bypass sends every request of the route to the origin, uncached.
	Bypass bool

	// IgnoreQuery lists query parameters left out of the cache key
	// (tracking parameters such as utm_source).
	IgnoreQuery []string
	// OnlyQuery, when not empty, keeps only these query parameters in the
	// key. The remaining parameters are sorted, so that ?a=1&b=2 and
	// ?b=2&a=1 share an entry.
	OnlyQuery []string
	// KeyHeaders adds the values of these request header fields to the key.
	KeyHeaders []string
	// KeyCookies adds the values of these cookies to the key.
	KeyCookies []string
	// Key, when set, adds its result to the key.
	Key func(r *http.Request) string

	// Tags are added to every response stored for the route.
	Tags []string
}

// policy is the resolved configuration one request is served with.
type policy struct {
	defaultTTL, maxTTL, heuristicMax time.Duration
	heuristic                        bool
	route                            *Route
}

func (o *Options) name() string {
	if o.Name == "" {
		return "rediware"
	}
	return o.Name
}

// statusName renders the cache name as a Structured Field token when it is
// one, otherwise as a string.
func statusName(n string) string {
	tok := n != ""
	for i := 0; i < len(n) && tok; i++ {
		c := n[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
		case i > 0 && (c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~:/", c) >= 0):
		case i == 0 && c == '*':
		default:
			tok = false
		}
	}
	if tok {
		return n
	}
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(n); i++ {
		c := n[i]
		if c < 0x20 || c > 0x7e {
			continue
		}
		if c == '"' || c == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(c)
	}
	b.WriteByte('"')
	return b.String()
}
