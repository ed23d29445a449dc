package ratelimit

import (
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/rediware/rediware/middleware"
)

// HeaderMode selects the rate-limit response headers.
type HeaderMode uint8

// Header modes. The zero value is HeadersIETF.
const (
	// HeadersIETF sends RateLimit-Policy and RateLimit
	// (draft-ietf-httpapi-ratelimit-headers-10), one list item per policy.
	HeadersIETF HeaderMode = iota
	// HeadersIETFAndLegacy sends the IETF fields and X-RateLimit-Limit,
	// X-RateLimit-Remaining and X-RateLimit-Reset.
	HeadersIETFAndLegacy
	// HeadersLegacy sends only the X-RateLimit-* fields.
	HeadersLegacy
	// HeadersNone sends no rate-limit headers (Retry-After is still sent
	// on a denial).
	HeadersNone
)

// MiddlewareOptions configures Middleware. The zero value is ready to use.
type MiddlewareOptions struct {
	// Key finds the client key of a request. Default: ByIP(nil), the TCP
	// peer address (set a ClientIP with your trusted proxies behind a load
	// balancer, or every client shares the balancer's budget).
	Key KeyFunc
	// Cost returns how many units a request costs. Default: 1. A cost of 0
	// admits the request without consuming anything (the headers still
	// report the state); a cost beyond a policy's capacity is denied, with
	// no Retry-After; a negative cost is an error (ErrorHandler).
	Cost func(*http.Request) int
	// Headers selects the rate-limit headers. Default: HeadersIETF.
	Headers HeaderMode
	// DenyHandler answers a request that a policy refused, after the
	// rate-limit headers have been set. The Result is valid only during the
	// call. Default: 429 Too Many Requests with Retry-After (whole seconds,
	// rounded up) and an RFC 9457 problem+json body.
	DenyHandler func(w http.ResponseWriter, r *http.Request, res *Result)
	// ErrorHandler answers a request that could not be decided (an
	// unexpected reply, a negative cost) or that FailClosed refused while
	// Redis is unavailable; err says which (errors.Is(err,
	// store.ErrUnavailable) for the latter). Default: 503 Service
	// Unavailable, with Retry-After under FailClosed, and a problem+json
	// body that never contains err's text.
	ErrorHandler func(w http.ResponseWriter, r *http.Request, err error)
}

// Handler is Middleware(l, MiddlewareOptions{}): requests keyed by the TCP
// peer address, IETF headers, the default 429 and 503 answers.
func (l *Limiter) Handler(next http.Handler) http.Handler {
	return Middleware(l, MiddlewareOptions{})(next)
}

// Middleware returns a middleware that admits a request only if l admits
// its key, and sets the rate-limit headers on every response it lets
// through or refuses. A request for which opts.Key finds no key passes
// unlimited: stack a limiter keyed by ByIP, or use FirstOf, to cover it.
//
// Stacked limiters (a global one with r.Use and a route one with r.With)
// each add their policies to the RateLimit and RateLimit-Policy fields;
// give them different names (Options.Name and Limit.Name). They are two
// decisions: the outer one has charged a request when the inner one denies
// it. To charge nothing for a denied request, decide both limits at once
// with a limiter built by Limiter.With (see there).
func Middleware(l *Limiter, opts MiddlewareOptions) func(http.Handler) http.Handler {
	if l == nil {
		panic("ratelimit: Middleware with a nil Limiter")
	}
	m := &mw{l: l, opts: opts}
	if m.opts.Key == nil {
		m.opts.Key = ByIP(nil)
	}
	if m.opts.DenyHandler == nil {
		m.opts.DenyHandler = deny
	}
	if m.opts.ErrorHandler == nil {
		cooldown := l.breakerCooldown()
		m.opts.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) {
			unavailable(w, r, err, cooldown)
		}
	}
	m.policy = []string{policyHeader(l.limits)}
	return func(next http.Handler) http.Handler {
		if next == nil {
			panic("ratelimit: Middleware applied to a nil handler")
		}
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			m.serve(w, r, next)
		})
	}
}

type mw struct {
	l      *Limiter
	opts   MiddlewareOptions
	policy []string // RateLimit-Policy, shared: len == cap, so appends copy
}

type mwState struct {
	res Result
	key [128]byte
	hdr [256]byte
}

var mwPool = sync.Pool{New: func() any { return new(mwState) }}

func (m *mw) serve(w http.ResponseWriter, r *http.Request, next http.Handler) {
	st := mwPool.Get().(*mwState)
	defer mwPool.Put(st)
	key, ok := m.opts.Key(st.key[:0], r)
	if !ok || len(key) == 0 {
		next.ServeHTTP(w, r)
		return
	}
	n := 1
	if m.opts.Cost != nil {
		n = m.opts.Cost(r)
	}
	l := m.l
	b := l.bufs.Get().(*evalBuf)
	buildKeys(l, b.keys, key)
	err := l.decide(r.Context(), b, n, &st.res)
	l.bufs.Put(b)
	if err != nil {
		m.opts.ErrorHandler(w, r, err)
		return
	}
	res := &st.res
	if res.Source == SourceFailClosed {
		m.opts.ErrorHandler(w, r, res.Err)
		return
	}
	if res.Source != SourceFailOpen { // nothing was counted: no numbers to report
		m.setHeaders(w.Header(), st)
	}
	if !res.Allowed {
		m.opts.DenyHandler(w, r, res)
		return
	}
	next.ServeHTTP(w, r)
}

// setHeaders writes every value into one string (one allocation) and the
// header slices into one array (one more), instead of two allocations per
// field.
func (m *mw) setHeaders(h http.Header, st *mwState) {
	res := &st.res
	b := st.hdr[:0]
	var ends [4]int
	ietf := m.opts.Headers == HeadersIETF || m.opts.Headers == HeadersIETFAndLegacy
	legacy := m.opts.Headers == HeadersIETFAndLegacy || m.opts.Headers == HeadersLegacy
	if ietf {
		b = appendRateLimit(b, res)
	}
	ends[0] = len(b)
	if legacy {
		b = strconv.AppendInt(b, int64(res.Limit), 10)
		ends[1] = len(b)
		b = strconv.AppendInt(b, int64(res.Remaining), 10)
		ends[2] = len(b)
		b = strconv.AppendInt(b, seconds(res.ResetAfter), 10)
	}
	ends[1], ends[2] = max(ends[1], ends[0]), max(ends[2], ends[0])
	ends[3] = len(b)
	if !res.Allowed && res.RetryAfter != Never {
		b = strconv.AppendInt(b, max(seconds(res.RetryAfter), 1), 10)
	}
	if len(b) == 0 {
		return
	}
	all := string(b)
	vals := new([5]string)
	one := func(i int, name, v string) {
		vals[i] = v
		if old := h[name]; len(old) > 0 {
			h[name] = append(old, v)
			return
		}
		h[name] = vals[i : i+1 : i+1]
	}
	if ietf {
		if old := h["Ratelimit-Policy"]; len(old) > 0 {
			h["Ratelimit-Policy"] = append(old, m.policy[0])
		} else {
			h["Ratelimit-Policy"] = m.policy
		}
		one(0, "Ratelimit", all[:ends[0]])
	}
	if legacy && m.moreRestrictive(h, res.Remaining) {
		vals[1], vals[2], vals[3] = all[ends[0]:ends[1]], all[ends[1]:ends[2]], all[ends[2]:ends[3]]
		h["X-Ratelimit-Limit"] = vals[1:2:2]
		h["X-Ratelimit-Remaining"] = vals[2:3:3]
		h["X-Ratelimit-Reset"] = vals[3:4:4]
	}
	if len(all) > ends[3] {
		vals[4] = all[ends[3]:]
		h["Retry-After"] = vals[4:5:5]
	}
}

// moreRestrictive reports whether remaining is below the X-RateLimit-Remaining
// an outer limiter already set, so that stacked limiters report the tighter.
func (m *mw) moreRestrictive(h http.Header, remaining int) bool {
	old := h["X-Ratelimit-Remaining"]
	if len(old) == 0 {
		return true
	}
	n, err := strconv.Atoi(old[0])
	return err != nil || remaining < n
}

// deny is the default DenyHandler: 429 with a problem+json body. The
// Retry-After field is already set.
func deny(w http.ResponseWriter, r *http.Request, res *Result) {
	p := middleware.Problem{
		Status: http.StatusTooManyRequests,
		Detail: "Rate limit exceeded. Retry after the number of seconds in the Retry-After header.",
	}
	if res.RetryAfter == Never {
		p.Detail = "The request costs more than the rate limit allows at once."
	}
	middleware.WriteProblem(w, p)
}

// unavailable is the default ErrorHandler.
func unavailable(w http.ResponseWriter, r *http.Request, err error, cooldown time.Duration) {
	w.Header().Set("Retry-After", strconv.FormatInt(max(seconds(cooldown), 1), 10))
	middleware.WriteProblem(w, middleware.Problem{
		Status: http.StatusServiceUnavailable,
		Detail: "The service is temporarily unable to process requests. Try again later.",
	})
}
