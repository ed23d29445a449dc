package ratelimit

import (
	"net/http"
	"strconv"

	"github.com/rediware/rediware/middleware"
)

// KeyFunc appends the rate-limit key of r to dst and returns the extended
// slice, or reports ok == false when r has no key (no API key header, an
// anonymous user). Appending lets the middleware build the Redis key without
// allocating for the client key. The key is never sent to clients; keys
// longer than MaxKeyLen, or holding braces, are hashed.
type KeyFunc func(dst []byte, r *http.Request) (key []byte, ok bool)

// ByIP keys requests by client address as ip finds it (trusted proxies,
// IPv6 grouped by /64 unless ip.IPv6Prefix says otherwise). A nil ip trusts
// no proxy and uses the TCP peer. Every request has a key: one without a
// usable address gets middleware.InvalidClientKey, so such requests share one
// budget.
func ByIP(ip *middleware.ClientIP) KeyFunc {
	return func(dst []byte, r *http.Request) ([]byte, bool) {
		return ip.AppendKey(dst, r), true
	}
}

// ByHeader keys requests by the value of the header name, such as an API
// key. A request without the header, or with an empty value, has no key.
// Validate the value (or put the limiter after authentication) if clients
// must not be able to invent keys: each new value gets a fresh budget.
func ByHeader(name string) KeyFunc {
	canon := http.CanonicalHeaderKey(name)
	return func(dst []byte, r *http.Request) ([]byte, bool) {
		v := r.Header[canon]
		if len(v) == 0 || v[0] == "" {
			return dst, false
		}
		return append(dst, v[0]...), true
	}
}

// ByUser keys requests by the identity fn returns, typically the
// authenticated user's ID read from the request context. fn reports false
// for anonymous requests, which then have no key.
func ByUser(fn func(*http.Request) (string, bool)) KeyFunc {
	return func(dst []byte, r *http.Request) ([]byte, bool) {
		id, ok := fn(r)
		if !ok || id == "" {
			return dst, false
		}
		return append(dst, id...), true
	}
}

// ByRoute keys requests by the method and pattern of the matched route
// ("GET /users/{id}"), as middleware.RouteMethodPattern reports it, so every
// client shares one budget per route. Alone it is a per-route global limit;
// composed with ByIP it is a per-client, per-route limit. It has a key only
// after routing: attach it per route (chi's r.With, or wrapping one
// ServeMux handler), not around the whole router.
func ByRoute() KeyFunc {
	return func(dst []byte, r *http.Request) ([]byte, bool) {
		m, p := middleware.RouteMethodPattern(r)
		if p == "" {
			return dst, false
		}
		if m != "" {
			dst = append(dst, m...)
			dst = append(dst, ' ')
		}
		return append(dst, p...), true
	}
}

// Compose keys requests by all of fns together, for example
// Compose(ByRoute(), ByIP(ip)) for a per-route budget per client. A request
// has a key only if every function gives one. Each part is written with its
// length, so different parts can never run together into the same key.
func Compose(fns ...KeyFunc) KeyFunc {
	return func(dst []byte, r *http.Request) ([]byte, bool) {
		for _, fn := range fns {
			start := len(dst)
			p, ok := appendPart(dst, fn, r)
			if !ok {
				return dst, false
			}
			dst = append(dst, p...)
			part := len(p)
			// Prefix the part with its length: move it right and write
			// "<len>:" in front.
			var num [24]byte
			head := strconv.AppendInt(num[:0], int64(part), 10)
			head = append(head, ':')
			dst = append(dst, head...)
			copy(dst[start+len(head):], dst[start:start+part])
			copy(dst[start:], head)
		}
		return dst, true
	}
}

// FirstOf keys requests by the first of fns that gives a key, for example
// FirstOf(ByUser(userID), ByIP(ip)): signed-in users by account, anonymous
// ones by address. The index of the function is part of the key, so a user
// ID can never collide with an address.
func FirstOf(fns ...KeyFunc) KeyFunc {
	return func(dst []byte, r *http.Request) ([]byte, bool) {
		for i, fn := range fns {
			start := len(dst)
			dst = strconv.AppendInt(dst, int64(i), 10)
			dst = append(dst, ':')
			if p, ok := appendPart(dst, fn, r); ok {
				return append(dst, p...), true
			}
			dst = dst[:start]
		}
		return dst, false
	}
}

// appendPart runs fn for a part of a combined key and returns the part
// alone: fn is given an empty slice over dst's spare capacity, so that a
// function that appends (as KeyFunc asks) writes the part in place, where
// append(dst, part...) then finds it, and one that returns a slice of its
// own instead gives the same key rather than dropping what dst held.
func appendPart(dst []byte, fn KeyFunc, r *http.Request) ([]byte, bool) {
	return fn(dst[len(dst):len(dst)], r)
}
