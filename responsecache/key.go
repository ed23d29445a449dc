package responsecache

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/rediware/rediware/responsecache/internal/cachecontrol"
)

// maxKeyURL is the longest primary key kept readable in Redis; longer
// ones are hashed (and cannot be found by PurgePrefix).
const maxKeyURL = 1024

// requestScheme is "https" for a TLS connection, else "http", unless
// forwarded fields are trusted.
func requestScheme(r *http.Request, trust bool) string {
	if trust {
		if p := strings.ToLower(strings.TrimSpace(r.Header.Get("X-Forwarded-Proto"))); p == "http" || p == "https" {
			return p
		}
	}
	if r.TLS != nil {
		return "https"
	}
	return "http"
}

func requestHost(r *http.Request, trust bool) string {
	h := r.Host
	if trust {
		if f := strings.TrimSpace(r.Header.Get("X-Forwarded-Host")); f != "" && hostOnly(f) {
			h = f
		}
	}
	if h == "" && r.URL != nil {
		h = r.URL.Host
	}
	return asciiLower(h)
}

// hostOnly reports whether a forwarded host can be put in the key as the
// host: it may not end the host part early ("shop.example/x" with the
// path "/y" would spell the URL of "/x/y" on shop.example). One that does
// is not used as the host, and is keyed as an unkeyed field instead.
func hostOnly(h string) bool {
	for i := 0; i < len(h); i++ {
		switch c := h[i]; {
		case c == '/', c == '?', c == '#', c == '\\', c < 0x20, c == 0x7f:
			return false
		}
	}
	return true
}

// asciiLower lowercases ASCII letters only: strings.ToLower would fold
// some non-ASCII letters (U+212A KELVIN SIGN) onto ASCII ones, letting one
// Host share the entries of another.
func asciiLower(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if c := b[j]; c >= 'A' && c <= 'Z' {
					b[j] = c + 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

// primaryKey is the method-neutral cache key: scheme, host, path and query,
// plus whatever the route adds.
func (c *Cache) primaryKey(r *http.Request, rt *Route) string {
	var buf [256]byte
	return string(c.appendPrimaryKey(buf[:0], r, rt, rqAll))
}

// appendPrimaryKey appends the primary key of r to dst. fields says which
// request header fields r may carry (see requestFields): the poisoning
// fields are looked up only when one of them may be present.
func (c *Cache) appendPrimaryKey(dst []byte, r *http.Request, rt *Route, fields uint32) []byte {
	dst = append(dst, requestScheme(r, c.opts.TrustForwarded)...)
	dst = append(dst, "://"...)
	dst = append(dst, requestHost(r, c.opts.TrustForwarded)...)
	dst = append(dst, r.URL.EscapedPath()...)
	q := r.URL.RawQuery
	if rt != nil && (len(rt.IgnoreQuery) > 0 || len(rt.OnlyQuery) > 0) {
		q = filterQuery(q, rt)
	}
	if q != "" {
		dst = append(dst, '?')
		dst = append(dst, q...)
	}
	// Headers that frameworks and origins commonly honour to build URLs
	// but that are not in the key are the classic cache poisoning vector:
	// a request carrying one gets entries of its own. With TrustForwarded,
	// X-Forwarded-Host and X-Forwarded-Proto are already in the key as the
	// host and scheme; the trusted proxy may still pass the others on.
	if fields&rqPoison != 0 {
		for _, h := range poisonHeaders {
			vs := r.Header[h]
			if len(vs) == 0 || c.opts.TrustForwarded && trustedForwarded(r, h) {
				continue
			}
			dst = append(dst, "\x00u:"...)
			dst = append(dst, h...)
			dst = append(dst, '=')
			dst = appendJoined(dst, vs)
		}
	}
	if rt != nil {
		for _, h := range rt.KeyHeaders {
			dst = append(dst, "\x00h:"...)
			dst = append(dst, h...)
			dst = append(dst, '=')
			dst = appendJoined(dst, r.Header[h])
		}
		for _, name := range rt.KeyCookies {
			dst = append(dst, "\x00c:"...)
			dst = append(dst, name...)
			dst = append(dst, '=')
			if ck, err := r.Cookie(name); err == nil {
				dst = append(dst, ck.Value...)
			}
		}
		if rt.Key != nil {
			dst = append(dst, "\x00k:"...)
			dst = append(dst, rt.Key(r)...)
		}
	}
	return dst
}

// appendJoined appends vs separated by commas (strings.Join without the
// intermediate string).
func appendJoined(dst []byte, vs []string) []byte {
	for i, v := range vs {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, v...)
	}
	return dst
}

// appendHeadKey appends the Redis key of r's URL (what headKey returns for
// its primary key) to dst, for a lookup in the local tier that allocates
// nothing. ok is false when the key needs hashing or escaping: the caller
// then takes the general path.
func (c *Cache) appendHeadKey(dst []byte, r *http.Request, rt *Route, fields uint32) ([]byte, bool) {
	dst = append(dst, c.keyOpen...)
	start := len(dst)
	dst = c.appendPrimaryKey(dst, r, rt, fields)
	pk := dst[start:]
	if len(pk) > maxKeyURL {
		return dst, false
	}
	if bytes.ContainsAny(pk, "{}%") {
		// Escaped as store.Keyspace escapes it (percent-encoded paths),
		// from a copy on the stack (pk is at most maxKeyURL long).
		var tmp [maxKeyURL]byte
		pk = append(tmp[:0], pk...)
		dst = dst[:start]
		for _, b := range pk {
			switch b {
			case '{':
				dst = append(dst, "%7B"...)
			case '}':
				dst = append(dst, "%7D"...)
			case '%':
				dst = append(dst, "%25"...)
			default:
				dst = append(dst, b)
			}
		}
	}
	return append(dst, '}'), true
}

// trustedForwarded reports whether the forwarded field h of r is already
// in the key as its host or scheme when forwarded fields are trusted.
func trustedForwarded(r *http.Request, h string) bool {
	switch h {
	case "X-Forwarded-Host":
		return len(r.Header[h]) == 1 && strings.TrimSpace(r.Header[h][0]) != "" && hostOnly(strings.TrimSpace(r.Header[h][0]))
	case "X-Forwarded-Proto":
		return len(r.Header[h]) == 1 && requestScheme(r, true) == strings.ToLower(strings.TrimSpace(r.Header[h][0]))
	}
	return false
}

func filterQuery(raw string, rt *Route) string {
	vals, err := url.ParseQuery(raw)
	if err != nil {
		return raw
	}
	for _, k := range rt.IgnoreQuery {
		delete(vals, k)
	}
	if len(rt.OnlyQuery) > 0 {
		for k := range vals {
			if !slices.Contains(rt.OnlyQuery, k) {
				delete(vals, k)
			}
		}
	}
	return vals.Encode() // sorted by key
}

// poisonHeaders are request header fields that change what many origins
// generate (absolute links, redirects, the routed path) without being part
// of the URL.
var poisonHeaders = []string{
	"X-Forwarded-Host", "X-Forwarded-Proto", "X-Forwarded-Scheme", "X-Forwarded-Port",
	"X-Forwarded-Prefix", "Forwarded", "X-Host", "X-Original-Url", "X-Rewrite-Url",
	"X-Http-Method-Override", "X-Http-Method", "X-Method-Override",
}

// headKey is the Redis key of the URL: the entry itself, or its Vary index.
func (c *Cache) headKey(pk string) string {
	if len(pk) > maxKeyURL {
		sum := sha256.Sum256([]byte(pk))
		pk = "#" + hex.EncodeToString(sum[:])
	}
	return c.ks.Key(pk)
}

// variantKey is the key of one Vary variant, in the slot of the head key.
func (c *Cache) variantKey(pk, nonce string, values []string) string {
	return variantKeyOf(c.headKey(pk), nonce, values)
}

// variantKeyOf is variantKey for the head key of the URL.
func variantKeyOf(head, nonce string, values []string) string {
	h := sha256.New()
	var n [binary.MaxVarintLen64]byte
	for _, v := range values {
		// Length-prefixed: with a separator, a missing field (absent) next
		// to an empty one hashed like the empty one next to the missing.
		h.Write(n[:binary.PutUvarint(n[:], uint64(len(v)))])
		h.Write([]byte(v))
	}
	sum := h.Sum(nil)
	return head + ":v:" + nonce + ":" + hex.EncodeToString(sum[:12])
}

// appendRawVary appends the request's lines of each selecting field, as
// they are (count, then length-prefixed lines, per field: injective), for
// looking up a varyIndex's variants.
func appendRawVary(dst []byte, r *http.Request, fields []string) []byte {
	for _, f := range fields {
		vs := r.Header.Values(f) // as varyValues reads them
		dst = binary.AppendUvarint(dst, uint64(len(vs)))
		for _, v := range vs {
			dst = binary.AppendUvarint(dst, uint64(len(v)))
			dst = append(dst, v...)
		}
	}
	return dst
}

// absent marks a selecting header field missing from the request; it can
// never be a field value.
const absent = "\x00"

// varyValues returns the normalised values of the selecting header fields
// of r: field lines combined, list members trimmed, and Accept-Encoding
// reduced to the set of codings it accepts (see acceptedCodings).
func varyValues(r *http.Request, fields []string) []string {
	out := make([]string, len(fields))
	for i, f := range fields {
		vs := r.Header.Values(f)
		if len(vs) == 0 {
			out[i] = absent
			continue
		}
		if f == "Accept-Encoding" {
			out[i] = acceptedCodings(vs)
			continue
		}
		var parts []string
		for _, v := range vs {
			for _, p := range strings.Split(v, ",") {
				if p = strings.TrimSpace(p); p != "" {
					parts = append(parts, p)
				}
			}
		}
		out[i] = strings.Join(parts, ",")
	}
	return out
}

// acceptedCodings normalises Accept-Encoding to the sorted set of content
// codings the request accepts (q > 0), lowercased, so that the order,
// spacing, case and q-values of every browser's spelling do not make a new
// variant, while two requests that accept different codings (zstd, br,
// deflate, ...) never share one: the origin may have chosen any coding the
// first accepted. An empty set (an empty field, or only "identity") is
// "identity"; a refused identity or "*" is kept as "!identity" or "!*".
func acceptedCodings(vs []string) string {
	var set []string
	for _, v := range vs {
		for _, p := range strings.Split(v, ",") {
			name, params, _ := strings.Cut(p, ";")
			name = strings.ToLower(strings.TrimSpace(name))
			if name == "" {
				continue
			}
			refused := false
			for _, prm := range strings.Split(params, ";") {
				k, q, ok := strings.Cut(prm, "=")
				if ok && strings.EqualFold(strings.TrimSpace(k), "q") && strings.Trim(strings.TrimSpace(q), "0.") == "" {
					refused = true
				}
			}
			switch name {
			case "x-gzip":
				name = "gzip"
			case "x-compress":
				name = "compress"
			}
			switch {
			case refused && (name == "identity" || name == "*"):
				name = "!" + name
			case refused, name == "identity":
				continue
			}
			set = append(set, name)
		}
	}
	if len(set) == 0 {
		return "identity"
	}
	// Sorted, then deduplicated: a membership test per coding would be
	// quadratic in a field an attacker sizes (up to MaxHeaderBytes).
	slices.Sort(set)
	return strings.Join(slices.Compact(set), ",")
}

// splitList splits a comma-separated header value into trimmed members.
func splitList(v string) []string {
	var out []string
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

var _ = cachecontrol.VaryFields
