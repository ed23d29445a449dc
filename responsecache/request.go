package responsecache

import "net/http"

// Request header fields the hit path looks at, as bits (see requestFields).
const (
	rqUpgrade uint32 = 1 << iota
	rqCacheControl
	rqPragma
	rqIfMatch
	rqIfUnmodifiedSince
	rqIfRange
	rqAuthorization
	rqPoison // any of poisonHeaders
	rqRange
	rqIfNoneMatch
	rqIfModifiedSince

	rqAll = ^uint32(0)
)

var requestFieldBits = func() map[string]uint32 {
	m := map[string]uint32{
		"Upgrade":             rqUpgrade,
		"Cache-Control":       rqCacheControl,
		"Pragma":              rqPragma,
		"If-Match":            rqIfMatch,
		"If-Unmodified-Since": rqIfUnmodifiedSince,
		"If-Range":            rqIfRange,
		"Authorization":       rqAuthorization,
		"Range":               rqRange,
		"If-None-Match":       rqIfNoneMatch,
		"If-Modified-Since":   rqIfModifiedSince,
	}
	for _, h := range poisonHeaders {
		m[h] |= rqPoison
	}
	return m
}()

// scanFieldsMax is the largest request header for which one pass over its
// fields is cheaper than looking up each field the hit path may need.
const scanFieldsMax = 12

// requestFields returns the bits of the fields h may carry: exactly those
// present for a small header, every bit for a large one (whose fields are
// then looked up one by one, as before). A clear bit means the field is
// absent.
func requestFields(h http.Header) uint32 {
	if len(h) > scanFieldsMax {
		return rqAll
	}
	var bits uint32
	for k := range h {
		bits |= requestFieldBits[k]
	}
	return bits
}
