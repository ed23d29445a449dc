package responsecache

import (
	"net/http"
	"time"

	"github.com/rediware/rediware/responsecache/internal/cachecontrol"
)

// heuristicStatus holds the status codes RFC 9110 section 15.1 defines as
// heuristically cacheable.
func heuristicStatus(code int) bool {
	switch code {
	case 200, 203, 204, 206, 300, 301, 308, 404, 405, 410, 414, 501:
		return true
	}
	return false
}

// understoodStatus holds the status codes whose caching requirements this
// cache implements, for must-understand (RFC 9111 section 5.2.2.3): the
// final status codes RFC 9110 section 15 defines, except 206 and 304
// (never stored) and the deprecated 305. Any other code (599, say) is not
// understood.
func understoodStatus(code int) bool {
	switch {
	case code >= 200 && code <= 205,
		code >= 300 && code <= 303, code == 307, code == 308,
		code >= 400 && code <= 417, code == 421, code == 422, code == 426,
		code >= 500 && code <= 505:
		return true
	}
	return false
}

// dateValue returns the Date of the response, or its response_time when
// Date is missing or invalid.
func (e *entry) dateValue() time.Time {
	if e.hasDate {
		return e.date
	}
	return e.RespTime
}

// lifetime is the freshness lifetime of RFC 9111 section 4.2.1 for a
// shared cache, with the heuristic of section 4.2.2 and the per-route
// default and cap applied.
func (e *entry) lifetime(p *policy) time.Duration {
	cc := &e.cc
	var lt time.Duration
	switch {
	case cc.HasSMaxAge:
		lt = cc.SMaxAge
	case cc.HasMaxAge:
		lt = cc.MaxAge
	case e.hasExpires:
		if !e.expiresOK {
			return 0 // an invalid Expires, such as "0", is in the past
		}
		lt = e.expires.Sub(e.dateValue())
	case p.defaultTTL > 0:
		lt = p.defaultTTL
	case p.heuristic && (heuristicStatus(e.Status) || cc.Public):
		if !e.lmOK {
			return 0
		}
		lt = e.dateValue().Sub(e.lm) / 10
		if lt > p.heuristicMax {
			lt = p.heuristicMax
		}
	}
	if lt < 0 {
		lt = 0
	}
	if p.maxTTL > 0 && lt > p.maxTTL {
		lt = p.maxTTL
	}
	return lt
}

// currentAge is the current_age of RFC 9111 section 4.2.3.
func (e *entry) currentAge(now time.Time) time.Duration {
	apparent := e.RespTime.Sub(e.dateValue())
	if apparent < 0 {
		apparent = 0
	}
	delay := e.RespTime.Sub(e.ReqTime)
	if delay < 0 {
		delay = 0
	}
	corrected := e.AgeValue + delay
	initial := max(apparent, corrected)
	resident := now.Sub(e.RespTime)
	if resident < 0 {
		resident = 0
	}
	return initial + resident
}

// mayServeStale reports whether the response's directives let a shared
// cache serve it stale at all (RFC 9111 sections 4.2.4, 5.2.2.2, 5.2.2.8,
// 5.2.2.10: must-revalidate, proxy-revalidate, s-maxage and no-cache forbid
// it).
func (e *entry) mayServeStale() bool {
	cc := &e.cc
	return !cc.MustRevalidate && !cc.ProxyRevalidate && !cc.HasSMaxAge && !cc.NoCache
}

// hasValidator reports whether the entry can be revalidated.
func (e *entry) hasValidator() bool {
	return e.etag != "" || e.hasLM
}

// lastModified is the time used to answer If-Modified-Since (RFC 9111
// section 4.3.2): Last-Modified, else Date, else response_time.
func (e *entry) lastModified() time.Time {
	if e.lmOK {
		return e.lm
	}
	return e.dateValue()
}

// hopByHop lists the header fields a cache never stores or forwards
// (RFC 9110 section 7.6.1) and Age, which the cache computes itself.
var hopByHop = []string{
	"Connection", "Keep-Alive", "Proxy-Connection", "Te", "Trailer",
	"Transfer-Encoding", "Upgrade", "Proxy-Authenticate", "Proxy-Authorization",
	"Proxy-Authentication-Info",
}

// storedHeader returns the header fields to store from a response (RFC 9111
// section 3.1): without hop-by-hop fields, fields named by Connection, or
// fields named by no-cache or private with field names.
func storedHeader(h http.Header, cc *cachecontrol.Directives, drop []string) http.Header {
	out := h.Clone()
	for _, c := range out.Values("Connection") {
		for _, f := range splitList(c) {
			out.Del(f)
		}
	}
	for _, f := range hopByHop {
		delete(out, f)
	}
	for _, f := range cc.NoCacheFields {
		out.Del(f)
	}
	for _, f := range cc.PrivateFields {
		out.Del(f)
	}
	for _, f := range drop {
		out.Del(f)
	}
	delete(out, "Age")
	return out
}
