package responsecache

import (
	"context"
	"hash/maphash"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rediware/rediware/responsecache/internal/cachecontrol"
	"github.com/rediware/rediware/store"
)

// Cache is an RFC 9111 shared HTTP cache whose entries live in Redis. Use
// Handler (or Route, for per-route settings) as middleware. A Cache is safe
// for concurrent use.
type Cache struct {
	s          store.Store
	opts       Options
	ks         store.Keyspace
	keyOpen    string // what every head key starts with: "{" + escaped prefix + ":"
	br         *store.Breaker
	timeout    time.Duration
	name       string
	maxObj     int64
	retention  time.Duration
	tagHeaders []string
	targets    []string // targeted cache-control fields, canonical

	flights    flightGroup
	refreshing sync.Map // keys being refreshed in the background
	local      *localTier
	instance   string // identifies this Cache's invalidation messages
	cancel     context.CancelFunc
	hits       [256]atomic.Pointer[hitFields] // recent hit field values, by age, ttl and length
	// readDeadline is the deadline shared by reads (see readContext).
	readDeadline atomic.Pointer[sharedDeadline]
	decoded      decodeCache // recently decoded records, by their bytes
}

// New returns a Cache storing its entries in s. opts may be the zero value.
func New(s store.Store, opts Options) *Cache {
	c := &Cache{s: s, opts: opts}
	c.ks = store.Keyspace{Prefix: opts.KeyPrefix}
	if c.ks.Prefix == "" {
		c.ks.Prefix = "rc"
	}
	c.keyOpen = strings.TrimSuffix(c.ks.Key(""), "}")
	c.decoded.seed = maphash.MakeSeed()
	c.br = opts.Breaker
	if c.br == nil {
		c.br = &store.Breaker{}
	}
	c.timeout = opts.StoreTimeout
	if c.timeout <= 0 {
		c.timeout = 200 * time.Millisecond
	}
	c.name = statusName(opts.name())
	c.maxObj = opts.MaxObjectSize
	if c.maxObj <= 0 {
		c.maxObj = 1 << 20
	}
	switch {
	case opts.StaleRetention < 0:
		c.retention = 0
	case opts.StaleRetention == 0:
		c.retention = 10 * time.Minute
	default:
		c.retention = opts.StaleRetention
	}
	c.tagHeaders = []string{"Surrogate-Key", "Cache-Tag"}
	if opts.TagHeaders != nil {
		c.tagHeaders = make([]string, len(opts.TagHeaders)) // never the caller's array
		for i, h := range opts.TagHeaders {
			c.tagHeaders[i] = http.CanonicalHeaderKey(h)
		}
	}
	c.targets = []string{"Cdn-Cache-Control", "Surrogate-Control"}
	if opts.TargetedFields != nil {
		c.targets = nil
		for _, f := range opts.TargetedFields {
			c.targets = append(c.targets, http.CanonicalHeaderKey(f))
		}
	}
	c.flights.m = make(map[string]*flight)
	if opts.LocalBytes > 0 {
		ctx, cancel := context.WithCancel(context.Background())
		c.cancel = cancel
		c.local = newLocalTier(opts.LocalBytes)
		c.instance = newNonce()
		go c.subscribe(ctx)
	}
	return c
}

// Close stops the local tier's invalidation subscription. It does not
// close the store.
func (c *Cache) Close() error {
	if c.cancel != nil {
		c.cancel()
	}
	return nil
}

// Handler returns the cache as middleware in front of next.
func (c *Cache) Handler(next http.Handler) http.Handler { return c.Route(Route{})(next) }

// Route returns middleware that caches with the overrides in rt: TTLs, key
// functions, tags. Use it instead of Handler on the routes that need it:
//
//	r.With(c.Route(responsecache.Route{DefaultTTL: time.Minute})).Get("/feed", feed)
//	mux.Handle("GET /feed", c.Route(rt)(feed))
func (c *Cache) Route(rt Route) func(http.Handler) http.Handler {
	pol := policy{
		defaultTTL:   c.opts.DefaultTTL,
		maxTTL:       c.opts.MaxTTL,
		heuristic:    c.opts.Heuristic,
		heuristicMax: c.opts.HeuristicMax,
	}
	if pol.heuristicMax <= 0 {
		pol.heuristicMax = 24 * time.Hour
	}
	if rt.DefaultTTL > 0 {
		pol.defaultTTL = rt.DefaultTTL
	}
	if rt.MaxTTL > 0 {
		pol.maxTTL = rt.MaxTTL
	}
	r := rt
	r.KeyHeaders = make([]string, len(rt.KeyHeaders)) // never the caller's array
	for i, h := range rt.KeyHeaders {
		r.KeyHeaders[i] = http.CanonicalHeaderKey(h)
	}
	pol.route = &r
	return func(next http.Handler) http.Handler {
		return &handler{c: c, next: next, pol: pol}
	}
}

type handler struct {
	c    *Cache
	next http.Handler
	pol  policy
}

func safeMethod(m string) bool {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return true
	}
	return false
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c := h.c
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		if safeMethod(r.Method) {
			c.setStatus(w.Header(), "fwd=method")
			h.next.ServeHTTP(w, r)
			return
		}
		h.serveUnsafe(w, r)
		return
	}
	fields := requestFields(r.Header)
	if h.pol.route.Bypass || fields&rqUpgrade != 0 && hget(r.Header, "Upgrade") != "" {
		c.setStatus(w.Header(), "fwd=bypass")
		h.next.ServeHTTP(w, r)
		return
	}
	if r.ContentLength != 0 {
		// A GET or HEAD with a body (or a chunked one, -1): some origins
		// read parameters from it, and it is not in the key, so its
		// response must not be stored ("fat GET" poisoning).
		c.setStatus(w.Header(), `fwd=request; detail="request-body"`)
		h.next.ServeHTTP(w, r)
		return
	}
	var rcc cachecontrol.Directives
	if fields&(rqCacheControl|rqPragma) != 0 {
		ccLines := r.Header["Cache-Control"]
		rcc = cachecontrol.Parse(ccLines)
		if len(ccLines) == 0 && cachecontrol.HasPragmaNoCache(r.Header["Pragma"]) {
			rcc.NoCache = true
		}
	}
	if rcc.NoStore || fields&(rqIfMatch|rqIfUnmodifiedSince|rqIfRange) != 0 &&
		(hget(r.Header, "If-Match") != "" || hget(r.Header, "If-Unmodified-Since") != "" || hget(r.Header, "If-Range") != "") {
		c.setStatus(w.Header(), "fwd=request")
		h.next.ServeHTTP(w, r)
		return
	}
	auth := fields&rqAuthorization != 0 && hget(r.Header, "Authorization") != ""
	now := time.Now()
	if c.local != nil && c.local.active.Load() {
		// The common hit: a fresh entry in the local tier, found without
		// building the key as a string.
		var buf [256]byte
		if kb, ok := c.appendHeadKey(buf[:0], r, h.pol.route, fields); ok {
			if e := c.localEntry(kb, r, now); e != nil && (!auth || e.authReuse()) {
				if lifetime, age, fresh, mustValidate := h.assess(e, &rcc, now); fresh && !mustValidate {
					c.serveHit(w, r, e, age, lifetime-age, fields)
					return
				}
			}
		}
	}
	pk := c.primaryKey(r, h.pol.route)
	lr, err := c.lookup(r.Context(), r, pk, now)
	if err != nil {
		c.report(r.Context(), r, err)
		if rcc.OnlyIfCached {
			// Nothing stored can be read, and the client forbade asking
			// the origin (RFC 9111 section 5.2.1.7).
			c.gatewayTimeout(w)
			return
		}
		c.setStatus(w.Header(), `fwd=miss; detail="store-unavailable"`)
		h.next.ServeHTTP(w, r)
		return
	}
	if e := lr.ent; e != nil && (!auth || e.authReuse()) {
		lifetime, age, fresh, mustValidate := h.assess(e, &rcc, now)
		ttl := lifetime - age
		if fresh && !mustValidate {
			c.serveHit(w, r, e, age, ttl, fields)
			return
		}
		if !fresh && !mustValidate && e.mayServeStale() {
			staleness := age - lifetime
			if rcc.HasMaxStale && staleness <= rcc.MaxStale {
				c.serveHit(w, r, e, age, ttl, fields)
				return
			}
			if e.cc.HasStaleWhileRevalidate && staleness <= e.cc.StaleWhileRevalidate && !rcc.OnlyIfCached {
				h.refreshInBackground(r, lr)
				c.serveStored(w, r, e, age, "hit; ttl="+seconds(ttl)+`; detail="stale-while-revalidate"`)
				return
			}
		}
		if rcc.OnlyIfCached {
			c.gatewayTimeout(w)
			return
		}
		if r.Method == http.MethodHead {
			// Forward a HEAD as a miss (it is not stored).
			reason := "stale"
			if fresh {
				reason = "request"
			}
			h.miss(w, r, pk, lr, auth, reason)
			return
		}
		reason := "stale"
		if fresh {
			reason = "request"
			if e.cc.NoCache {
				reason = "stale"
			}
		}
		h.revalidate(w, r, lr, rcc, reason, now)
		return
	}
	if rcc.OnlyIfCached {
		c.gatewayTimeout(w)
		return
	}
	reason := "uri-miss"
	if lr.varyMiss {
		reason = "vary-miss"
	}
	if lr.ent != nil {
		reason = "request" // a stored response that this request may not use
	}
	h.miss(w, r, pk, lr, auth, reason)
}

// localEntry returns the entry the local tier holds for r under the head
// key head, following a Vary index to r's variant, or nil.
func (c *Cache) localEntry(head []byte, r *http.Request, now time.Time) *entry {
	switch rec := c.local.getBytes(head, now).(type) {
	case *entry:
		return rec
	case *varyIndex:
		var buf [128]byte
		raw := appendRawVary(buf[:0], r, rec.Fields)
		var v *variantRef
		m := rec.variants.Load()
		if m != nil {
			v = (*m)[string(raw)]
		}
		if v == nil {
			if m != nil && len(*m) >= maxVariantMemo {
				return nil
			}
			values := varyValues(r, rec.Fields)
			v = &variantRef{values: values, key: variantKeyOf(string(head), rec.Nonce, values)}
			nm := make(map[string]*variantRef, 1+len(mapOrNil(m)))
			for k, x := range mapOrNil(m) {
				nm[k] = x
			}
			nm[string(raw)] = v
			rec.variants.Store(&nm) // a racing store may drop another's addition: it is only a memo
			size := len(raw) + len(v.key) + 64
			for _, x := range values {
				size += len(x) + 16
			}
			c.local.charge(string(head), rec, size) // the tier's bound counts the memo too
		}
		e, _ := c.local.get(v.key, now)
		ent, _ := e.(*entry)
		if ent == nil || !equalStrings(ent.VaryFields, rec.Fields) || !equalStrings(ent.VaryValues, v.values) {
			return nil
		}
		return ent
	}
	return nil
}

func mapOrNil(m *map[string]*variantRef) map[string]*variantRef {
	if m == nil {
		return nil
	}
	return *m
}

// assess is the freshness of e for a request with directives rcc at now:
// its freshness lifetime and current age, whether it is fresh, and whether
// it must be validated with the origin before it is used even so.
func (h *handler) assess(e *entry, rcc *cachecontrol.Directives, now time.Time) (lifetime, age time.Duration, fresh, mustValidate bool) {
	lifetime = e.lifetime(&h.pol)
	age = e.currentAge(now)
	fresh = age < lifetime
	mustValidate = e.cc.NoCache || rcc.NoCache ||
		(rcc.HasMaxAge && age > rcc.MaxAge) ||
		(rcc.HasMinFresh && lifetime-age < rcc.MinFresh)
	return lifetime, age, fresh, mustValidate
}

// authReuse reports whether a response stored from a request with
// Authorization may serve requests with Authorization (RFC 9111 section
// 3.5): public, s-maxage or must-revalidate.
func (e *entry) authReuse() bool {
	return e.cc.Public || e.cc.HasSMaxAge || e.cc.MustRevalidate
}

func seconds(d time.Duration) string { return strconv.FormatInt(int64(d/time.Second), 10) }

func (c *Cache) setStatus(h http.Header, v string) {
	h.Add("Cache-Status", c.name+"; "+v)
}

func (c *Cache) gatewayTimeout(w http.ResponseWriter) {
	c.setStatus(w.Header(), `fwd=miss; detail="only-if-cached"`)
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusGatewayTimeout)
}

// representationFields are left out of a 304 (RFC 9110 section 15.4.5).
var representationFields = []string{"Content-Length", "Content-Type", "Content-Encoding", "Content-Language", "Content-Range", "Content-Md5", "Transfer-Encoding"}

// serveStored writes a stored response, or a 304 when the request's
// preconditions say the client's copy is current, with status in its
// Cache-Status.
func (c *Cache) serveStored(w http.ResponseWriter, r *http.Request, e *entry, age time.Duration, status string) {
	c.writeStored(w, r, e, []string{seconds(age)}, []string{c.name + "; " + status}, nil, requestFields(r.Header))
}

// serveHit is serveStored for a plain hit ("hit; ttl=N"), with the Age,
// Cache-Status and Content-Length values shared by the hits of the same
// second on entries of the same ttl and length (see hitFields). fields are
// r's header fields (see requestFields).
func (c *Cache) serveHit(w http.ResponseWriter, r *http.Request, e *entry, age, ttl time.Duration, fields uint32) {
	a, t, n := int64(age/time.Second), int64(ttl/time.Second), len(e.Body)
	slot := &c.hits[uint64(a*31+t*7+int64(n))%uint64(len(c.hits))]
	hf := slot.Load()
	if hf == nil || hf.age != a || hf.ttl != t || hf.length != n {
		hf = &hitFields{
			age: a, ttl: t, length: n,
			ageV:    []string{strconv.FormatInt(a, 10)},
			statusV: []string{c.name + "; hit; ttl=" + strconv.FormatInt(t, 10)},
			lengthV: []string{strconv.Itoa(n)},
		}
		slot.Store(hf)
	}
	c.writeStored(w, r, e, hf.ageV, hf.statusV, hf.lengthV, fields)
}

// writeStored writes e with the given Age and Cache-Status values, and the
// Content-Length of its whole body when lengthV is not nil. The value
// slices may be shared: they are put in the header, never modified.
// fields are r's header fields (see requestFields): the preconditions and
// Range are looked up only when they may be present.
func (c *Cache) writeStored(w http.ResponseWriter, r *http.Request, e *entry, ageV, statusV, lengthV []string, fields uint32) {
	hdr := w.Header()
	for k, v := range e.Header {
		hdr[k] = v
	}
	hdr["Age"] = ageV
	if old := hdr["Cache-Status"]; len(old) > 0 {
		// Another cache's member (stored, or set by an outer handler)
		// comes first (RFC 9211 section 2).
		hdr["Cache-Status"] = append(old[:len(old):len(old)], statusV...)
	} else {
		hdr["Cache-Status"] = statusV
	}
	if fields&(rqIfNoneMatch|rqIfModifiedSince) != 0 && e.Status >= 200 && e.Status < 300 && notModified(r, e) {
		for _, f := range representationFields {
			delete(hdr, f)
		}
		w.WriteHeader(http.StatusNotModified)
		return
	}
	if e.Status == http.StatusNoContent || e.Status == http.StatusNotModified || e.Status < 200 {
		delete(hdr, "Content-Length")
		w.WriteHeader(e.Status)
		return
	}
	body := e.Body
	code := e.Status
	if fields&rqRange != 0 && code == http.StatusOK {
		if rg := hget(r.Header, "Range"); rg != "" && hget(r.Header, "If-Range") == "" {
			if start, end, ok := singleRange(rg, len(body)); ok {
				hdr["Content-Range"] = []string{"bytes " + strconv.Itoa(start) + "-" + strconv.Itoa(end-1) + "/" + strconv.Itoa(len(body))}
				body, code = body[start:end], http.StatusPartialContent
				lengthV = nil
			}
		}
	}
	if lengthV == nil {
		lengthV = []string{strconv.Itoa(len(body))}
	}
	hdr["Content-Length"] = lengthV
	w.WriteHeader(code)
	if r.Method != http.MethodHead && len(body) > 0 {
		_, _ = w.Write(body)
	}
}

// singleRange parses a Range field holding one satisfiable byte range
// ("bytes=0-1", "bytes=5-", "bytes=-3") against a body of size n and
// returns the half-open interval. Anything else (several ranges, other
// units, unsatisfiable ranges) is ignored and the whole body is served,
// which RFC 9110 section 14.2 allows.
func singleRange(v string, n int) (int, int, bool) {
	spec, ok := strings.CutPrefix(strings.TrimSpace(v), "bytes=")
	if !ok || strings.Contains(spec, ",") || n == 0 {
		return 0, 0, false
	}
	a, b, ok := strings.Cut(strings.TrimSpace(spec), "-")
	if !ok {
		return 0, 0, false
	}
	if a == "" {
		k, err := strconv.Atoi(b)
		if err != nil || k <= 0 {
			return 0, 0, false
		}
		return max(n-k, 0), n, true
	}
	start, err := strconv.Atoi(a)
	if err != nil || start < 0 || start >= n {
		return 0, 0, false
	}
	end := n
	if b != "" {
		last, err := strconv.Atoi(b)
		if err != nil || last < start {
			return 0, 0, false
		}
		if last < n-1 {
			end = last + 1 // never last+1 unchecked: it overflows for the largest int
		}
	}
	return start, end, true
}

// notModified evaluates If-None-Match, or else If-Modified-Since, against
// the stored response (RFC 9110 section 13.2.2, RFC 9111 section 4.3.2).
func notModified(r *http.Request, e *entry) bool {
	if inm := r.Header["If-None-Match"]; len(inm) > 0 {
		return cachecontrol.MatchNone(inm, e.etag)
	}
	if ims := hget(r.Header, "If-Modified-Since"); ims != "" {
		t, ok := cachecontrol.ParseHTTPDate(ims)
		return ok && !e.lastModified().After(t)
	}
	return false
}

// reqState travels in the context of a forwarded request, so that the
// origin handler can add tags or report that the origin is unreachable.
type reqState struct {
	mu        sync.Mutex
	tags      []string
	originErr bool
}

type stateKey struct{}

func withState(r *http.Request) (*http.Request, *reqState) {
	st := &reqState{}
	return r.WithContext(context.WithValue(r.Context(), stateKey{}, st)), st
}

func stateOf(r *http.Request) *reqState {
	st, _ := r.Context().Value(stateKey{}).(*reqState)
	return st
}

// AddTags attaches cache tags to the response being produced for r, in
// addition to those of the tag header fields. Call it from the handler
// behind the cache; outside of one it does nothing.
func AddTags(r *http.Request, tags ...string) {
	if st := stateOf(r); st != nil {
		st.mu.Lock()
		st.tags = append(st.tags, tags...)
		st.mu.Unlock()
	}
}

// OriginUnreachable tells the cache that the response being produced for
// r is the handler's own error because the origin could not be reached (a
// reverse proxy's ErrorHandler, say). The cache then serves a stale entry
// where RFC 9111 section 4.2.4 allows it, instead of the error.
func OriginUnreachable(r *http.Request) {
	if st := stateOf(r); st != nil {
		st.mu.Lock()
		st.originErr = true
		st.mu.Unlock()
	}
}

func (st *reqState) snapshot() ([]string, bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	return append([]string(nil), st.tags...), st.originErr
}

// storable decides whether a response may be stored (RFC 9111 section 3)
// and builds its entry and Redis TTL.
func (h *handler) storable(r *http.Request, status int, hdr http.Header, auth bool, reqTime, respTime time.Time) (*entry, time.Duration, bool) {
	c := h.c
	if r.Method != http.MethodGet || status < 200 || status > 599 || status == http.StatusPartialContent || status == http.StatusNotModified {
		return nil, 0, false
	}
	cc, targeted := responseDirectives(hdr, c.targets)
	noStore := cc.NoStore
	if cc.MustUnderstand {
		// RFC 9111 section 5.2.2.3: only a cache that understands the
		// status code may store the response, and such a cache ignores
		// no-store.
		if !understoodStatus(status) {
			return nil, 0, false
		}
		noStore = false
	}
	if noStore || cc.Private {
		return nil, 0, false
	}
	if auth && !(cc.Public || cc.HasSMaxAge || cc.MustRevalidate) {
		return nil, 0, false
	}
	drop := c.tagHeaders
	if len(hdr.Values("Set-Cookie")) > 0 {
		switch c.opts.SetCookie {
		case SetCookieBypass:
			return nil, 0, false
		case SetCookieStrip:
			drop = append(drop[:len(drop):len(drop)], "Set-Cookie")
		}
	}
	fields, star := cachecontrol.VaryFields(hdr.Values("Vary"))
	if star {
		return nil, 0, false
	}
	if strings.HasPrefix(strings.ToLower(hdr.Get("Content-Type")), "text/event-stream") {
		return nil, 0, false
	}
	explicit := cc.HasMaxAge || cc.HasSMaxAge || (!targeted && len(hdr["Expires"]) > 0)
	if !explicit && !cc.Public && !heuristicStatus(status) {
		// DefaultTTL gives freshness to storable responses only: were it
		// to make a 400 or a 500 storable, one request with an unkeyed
		// field that makes the origin fail would deny the URL to every
		// client for DefaultTTL (cache-poisoned denial of service).
		return nil, 0, false
	}
	e := &entry{
		Status:     status,
		Header:     storedHeader(hdr, &cc, drop),
		ReqTime:    reqTime,
		RespTime:   respTime,
		AuthOK:     auth,
		VaryFields: fields,
	}
	e.AgeValue, _ = cachecontrol.ParseAge(hdr.Values("Age"))
	if len(fields) > 0 {
		e.VaryValues = varyValues(r, fields)
	}
	if _, ok := e.Header["Date"]; !ok {
		e.Header["Date"] = []string{respTime.UTC().Format(http.TimeFormat)}
	}
	e.derive(c.targets)
	ttl, ok := h.storeTTL(e, respTime)
	return e, ttl, ok
}

// maxStoreTTL bounds the Redis TTL of an entry.
const maxStoreTTL = 365 * 24 * time.Hour

// storeTTL is how long Redis keeps e: its remaining freshness, the
// stale-while-revalidate or stale-if-error window, and the retention for
// revalidation. ok is false when there is nothing worth keeping.
func (h *handler) storeTTL(e *entry, now time.Time) (time.Duration, bool) {
	lt := e.lifetime(&h.pol)
	left := lt - e.currentAge(now)
	extra := max(e.cc.StaleWhileRevalidate, e.cc.StaleIfError)
	if lt <= 0 && extra <= 0 && !e.hasValidator() {
		return 0, false
	}
	ttl := max(left, 0) + extra + h.c.retention
	if ttl <= 0 {
		return 0, false
	}
	return min(ttl, maxStoreTTL), true
}

// uniqueTags removes empty and duplicate tags.
func uniqueTags(tags []string) []string {
	out := tags[:0]
	seen := make(map[string]struct{}, len(tags))
	for _, t := range tags {
		if _, dup := seen[t]; t == "" || dup {
			continue
		}
		seen[t] = struct{}{}
		out = append(out, t)
	}
	return out
}

// tagsOf collects the tags of a response from the tag header fields, and
// removes those fields from the client's response unless told to keep them.
func (c *Cache) tagsOf(hdr http.Header) []string {
	var tags []string
	for _, f := range c.tagHeaders {
		for _, v := range hdr.Values(f) {
			tags = append(tags, strings.FieldsFunc(v, func(r rune) bool { return r == ' ' || r == ',' || r == '\t' })...)
		}
		if !c.opts.KeepTagHeaders {
			delete(hdr, f)
		}
	}
	return tags
}

// miss forwards r to the origin, coalescing concurrent misses for the same
// key, and stores the response when it may.
func (h *handler) miss(w http.ResponseWriter, r *http.Request, pk string, lr lookupResult, auth bool, reason string) {
	c := h.c
	if c.opts.DisableCoalescing || r.Method != http.MethodGet || reason == "request" || wantsOrigin(r) {
		h.fetch(w, r, pk, lr, auth, reason)
		return
	}
	f, leader := c.flights.join(pk)
	if leader {
		var shared *entry
		defer func() { c.flights.finish(pk, f, shared) }()
		if c.flights.finishedSince(pk, lr.at) {
			// Another fetch for the key ended between this request's
			// lookup and now: what it stored is likely usable.
			if again, err := c.lookup(r.Context(), r, pk, time.Now()); err == nil && again.ent != nil && h.usableFor(r, again.ent, auth) {
				shared = again.ent
				c.serveStored(w, r, again.ent, again.ent.currentAge(time.Now()), "fwd="+reason+"; collapsed")
				return
			}
		}
		if c.opts.CrossInstanceLock {
			if e := h.waitForOtherInstance(r, pk); e != nil {
				shared = e
				c.serveStored(w, r, e, e.currentAge(time.Now()), "fwd="+reason+"; collapsed")
				return
			}
		}
		shared = h.fetch(w, r, pk, lr, auth, reason)
		return
	}
	wait := c.opts.CoalesceWait
	if wait <= 0 {
		wait = 10 * time.Second
	}
	t := time.NewTimer(wait)
	select {
	case <-f.done:
	case <-t.C:
	case <-r.Context().Done():
		t.Stop()
		return
	}
	t.Stop()
	if e := f.ent; e != nil && h.usableFor(r, e, auth) {
		c.serveStored(w, r, e, e.currentAge(time.Now()), "fwd="+reason+"; collapsed")
		return
	}
	h.fetch(w, r, pk, lr, auth, reason)
}

// wantsOrigin reports whether r asks for the origin's own answer
// (Cache-Control: no-cache, or Pragma: no-cache without Cache-Control), so
// that a response fetched for another request cannot serve it.
func wantsOrigin(r *http.Request) bool {
	ccLines := r.Header["Cache-Control"]
	if len(ccLines) == 0 {
		return cachecontrol.HasPragmaNoCache(r.Header["Pragma"])
	}
	return cachecontrol.Parse(ccLines).NoCache
}

// usableFor reports whether a response fetched for another request can
// serve r: same variant, allowed with Authorization, fresh enough, and r
// does not ask for the origin's own answer (no-cache).
func (h *handler) usableFor(r *http.Request, e *entry, auth bool) bool {
	if auth && !e.authReuse() {
		return false
	}
	if len(e.VaryFields) > 0 && !equalStrings(varyValues(r, e.VaryFields), e.VaryValues) {
		return false
	}
	if wantsOrigin(r) {
		return false // the request wants the origin's answer to itself
	}
	rcc := cachecontrol.Parse(r.Header["Cache-Control"])
	age := e.currentAge(time.Now())
	lt := e.lifetime(&h.pol)
	if age >= lt || e.cc.NoCache || (rcc.HasMinFresh && lt-age < rcc.MinFresh) || (rcc.HasMaxAge && age > rcc.MaxAge) {
		return false
	}
	return true
}

// forwarded decides whether the origin's response to r is kept (never when
// dontKeep), takes its tags, and marks its Cache-Status as forwarded for
// reason.
func (h *handler) forwarded(r *http.Request, status int, hdr http.Header, auth bool, reqTime, respTime time.Time, reason string, dontKeep bool) (ent *entry, ttl time.Duration, keep bool, tags []string) {
	ent, ttl, keep = h.storable(r, status, hdr, auth, reqTime, respTime)
	keep = keep && !dontKeep
	tags = h.c.tagsOf(hdr)
	v := "fwd=" + reason + "; fwd-status=" + strconv.Itoa(status)
	if keep {
		v += "; stored"
	}
	h.c.setStatus(hdr, v)
	return ent, ttl, keep, tags
}

// fetch forwards r and stores the response if allowed. It returns the
// stored entry when it may be handed to other waiting requests.
func (h *handler) fetch(w http.ResponseWriter, r *http.Request, pk string, lr lookupResult, auth bool, reason string) *entry {
	c := h.c
	ctx := r.Context()
	epoch, epochErr := c.epoch(ctx)
	out, st := withState(r)
	reqTime := time.Now()
	var (
		ent  *entry
		ttl  time.Duration
		keep bool
		tags []string
	)
	cw := newCaptureWriter(ctx, w, c.maxObj, func(status int, hdr http.Header) (writeMode, bool) {
		ent, ttl, keep, tags = h.forwarded(r, status, hdr, auth, reqTime, time.Now(), reason, epochErr != nil)
		return modePass, keep
	})
	h.next.ServeHTTP(cw.writer(), out)
	cw.finish()
	extra, originErr := st.snapshot()
	if !keep || originErr || !cw.complete() {
		return nil
	}
	ent.Body = cw.buf
	tags = append(append(tags, extra...), h.pol.route.Tags...)
	if err := c.save(context.WithoutCancel(ctx), pk, lr.ix, ent, ttl, tags, epoch); err != nil {
		c.report(ctx, r, err)
		return nil
	}
	if ent.cc.NoCache || len(ent.Header.Values("Set-Cookie")) > 0 {
		return nil // never hand these to waiting requests
	}
	return ent
}

// revalidate asks the origin whether the stored response is still good,
// with the stored validators, and serves it, its update, or the new
// response.
func (h *handler) revalidate(w http.ResponseWriter, r *http.Request, lr lookupResult, rcc cachecontrol.Directives, reason string, now time.Time) {
	c := h.c
	e := lr.ent
	ctx := r.Context()
	epoch, epochErr := c.epoch(ctx)
	out, st := withState(r)
	out.Header = r.Header.Clone()
	for _, f := range []string{"If-None-Match", "If-Modified-Since", "If-Match", "If-Unmodified-Since", "If-Range", "Range"} {
		delete(out.Header, f)
	}
	if et := e.etag; et != "" {
		// Send the validator exactly as the origin sent it when it is a
		// well-formed entity-tag (origins compare strings); quote it
		// otherwise.
		if strings.HasPrefix(et, `"`) || strings.HasPrefix(et, `W/"`) {
			out.Header.Set("If-None-Match", et)
		} else if t, ok := cachecontrol.ParseETag(et); ok {
			out.Header.Set("If-None-Match", t.String())
		}
	}
	if lm := hget(e.Header, "Last-Modified"); lm != "" {
		out.Header.Set("If-Modified-Since", lm)
	}
	auth := r.Header.Get("Authorization") != ""
	reqTime := time.Now()
	var (
		respTime time.Time
		result   int // 0: new response passed through; 304; -1: stale served on error
		ent      *entry
		ttl      time.Duration
		keep     bool
		tags     []string
	)
	cw := newCaptureWriter(ctx, w, c.maxObj, func(status int, hdr http.Header) (writeMode, bool) {
		respTime = time.Now()
		_, originErr := st.snapshot()
		if status == http.StatusNotModified {
			result = http.StatusNotModified
			return modeCapture, false
		}
		if status >= 500 && h.staleOnError(e, rcc, respTime, originErr) {
			result = -1
			return modeCapture, false
		}
		ent, ttl, keep, tags = h.forwarded(r, status, hdr, auth, reqTime, respTime, reason, epochErr != nil || originErr)
		return modePass, keep
	})
	h.next.ServeHTTP(cw.writer(), out)
	cw.finish()
	extra, _ := st.snapshot()
	switch result {
	case http.StatusNotModified:
		if !e.updatableBy(cw.h) {
			// The 304 is about another representation (RFC 9111 section
			// 4.3.4): it updates nothing. Ask again with the client's own
			// request, unconditional unless the client's was conditional,
			// and store what comes back as any response.
			h.fetch(w, r, h.pkOf(r), lr, auth, reason)
			return
		}
		ne := h.updated(e, cw.h, reqTime, respTime)
		status := "fwd=" + reason + "; fwd-status=304"
		if ttl, ok := h.storeTTL(ne, respTime); ok && epochErr == nil && ne.storableAfterUpdate(auth) {
			tags := append(append(c.tagsOf(cw.h.Clone()), extra...), h.pol.route.Tags...)
			if err := c.save(context.WithoutCancel(ctx), h.pkOf(r), lr.ix, ne, ttl, tags, epoch); err != nil {
				c.report(ctx, r, err)
			} else {
				status += "; stored"
			}
		}
		if sc := cw.h.Values("Set-Cookie"); len(sc) > 0 && c.opts.SetCookie != SetCookieStore {
			w.Header()["Set-Cookie"] = sc // the 304 was this client's response
		}
		c.serveStored(w, r, ne, ne.currentAge(time.Now()), status)
	case -1:
		c.serveStored(w, r, e, e.currentAge(time.Now()), "fwd=stale; fwd-status="+strconv.Itoa(cw.status)+`; detail="stale-if-error"`)
	default:
		if !keep || !cw.complete() {
			return
		}
		ent.Body = cw.buf
		tags = append(append(tags, extra...), h.pol.route.Tags...)
		if err := c.save(context.WithoutCancel(ctx), h.pkOf(r), lr.ix, ent, ttl, tags, epoch); err != nil {
			c.report(ctx, r, err)
		}
	}
}

func (h *handler) pkOf(r *http.Request) string { return h.c.primaryKey(r, h.pol.route) }

// staleOnError reports whether e may be served in place of an error: within
// the response's or the request's stale-if-error window (RFC 5861 section
// 4), or, when the origin could not be reached at all, whenever RFC 9111
// section 4.2.4 allows serving stale.
func (h *handler) staleOnError(e *entry, rcc cachecontrol.Directives, now time.Time, originErr bool) bool {
	if e.cc.MustRevalidate || e.cc.ProxyRevalidate || e.cc.NoCache {
		return false
	}
	staleness := e.currentAge(now) - e.lifetime(&h.pol)
	if e.cc.HasStaleIfError && staleness <= e.cc.StaleIfError {
		return true
	}
	if rcc.HasStaleIfError && staleness <= rcc.StaleIfError && e.mayServeStale() {
		// The client's stale-if-error cannot loosen s-maxage, which has
		// proxy-revalidate's semantics in a shared cache (RFC 9111
		// section 5.2.2.10); the response's own can.
		return true
	}
	return originErr && e.mayServeStale()
}

// updatableBy reports whether a 304 with header h304 selects the stored
// response e for update (RFC 9111 section 4.3.4): a strong ETag must be
// e's own (strong comparison), a weak one must match e's weakly; without
// an ETag, a Last-Modified must equal e's. A 304 with neither updates e,
// which is the only response stored for the request.
func (e *entry) updatableBy(h304 http.Header) bool {
	if v := hget(h304, "Etag"); v != "" {
		t, ok := cachecontrol.ParseETag(v)
		if !ok {
			return true // not a validator at all: as if absent
		}
		stored, ok := cachecontrol.ParseETag(e.etag)
		if !ok || stored.Opaque != t.Opaque {
			return false
		}
		return t.Weak || !stored.Weak
	}
	if v := hget(h304, "Last-Modified"); v != "" {
		lm := hget(e.Header, "Last-Modified")
		if lm == v {
			return true
		}
		a, okA := cachecontrol.ParseHTTPDate(v)
		b, okB := cachecontrol.ParseHTTPDate(lm)
		return okA && okB && a.Equal(b)
	}
	return true
}

// storableAfterUpdate reports whether e, updated from a 304, may still be
// stored: the 304's fields (now e's) can forbid it as a full response's
// would (RFC 9111 section 3: no-store, private, Vary: *, Authorization).
func (e *entry) storableAfterUpdate(auth bool) bool {
	if e.cc.NoStore && !e.cc.MustUnderstand || e.cc.Private || auth && !e.authReuse() {
		return false
	}
	_, star := cachecontrol.VaryFields(e.Header.Values("Vary"))
	return !star
}

// updated returns e with its header fields updated from a 304 (RFC 9111
// sections 3.2 and 4.3.4) and the 304's timing.
func (h *handler) updated(e *entry, h304 http.Header, reqTime, respTime time.Time) *entry {
	ne := *e
	ne.Header = e.Header.Clone()
	cc := cachecontrol.Parse(h304.Values("Cache-Control"))
	drop := append(h.c.tagHeaders[:len(h.c.tagHeaders):len(h.c.tagHeaders)], "Content-Length", "Cache-Status")
	if h.c.opts.SetCookie != SetCookieStore {
		drop = append(drop, "Set-Cookie")
	}
	for k, v := range storedHeader(h304, &cc, drop) {
		ne.Header[k] = v
	}
	if h304.Get("Date") == "" {
		ne.Header["Date"] = []string{respTime.UTC().Format(http.TimeFormat)}
	}
	ne.ReqTime, ne.RespTime = reqTime, respTime
	ne.AgeValue, _ = cachecontrol.ParseAge(h304.Values("Age"))
	ne.derive(h.c.targets)
	return &ne
}

// refreshInBackground revalidates lr's entry on a detached context, at
// most once at a time per key.
func (h *handler) refreshInBackground(r *http.Request, lr lookupResult) {
	if _, busy := h.c.refreshing.LoadOrStore(lr.key, struct{}{}); busy {
		return
	}
	br := r.Clone(context.WithoutCancel(r.Context()))
	go func() {
		defer h.c.refreshing.Delete(lr.key)
		defer func() { _ = recover() }() // e.g. http.ErrAbortHandler from a proxy
		// The stale read that asked for this refresh may have lost the
		// race with the end of another: refresh only if the entry read is
		// still the stored one.
		cur, err := h.c.lookup(br.Context(), br, h.pkOf(br), time.Now())
		if err != nil || cur.ent == nil || cur.key != lr.key ||
			!cur.ent.RespTime.Equal(lr.ent.RespTime) || !cur.ent.ReqTime.Equal(lr.ent.ReqTime) {
			return
		}
		h.revalidate(&discardWriter{}, br, cur, cachecontrol.Directives{}, "stale", time.Now())
	}()
}

// serveUnsafe forwards a request with an unsafe method and, once the
// response status is known to be a success, invalidates the target URI and
// the same-origin Location and Content-Location (RFC 9111 section 4.4).
func (h *handler) serveUnsafe(w http.ResponseWriter, r *http.Request) {
	c := h.c
	c.setStatus(w.Header(), "fwd=method")
	invalidate := func(status int) {
		if status < 200 || status >= 400 {
			return
		}
		ctx := context.WithoutCancel(r.Context())
		keys := []string{c.headKey(h.pkOf(r))}
		for _, f := range []string{"Location", "Content-Location"} {
			if pk, ok := h.sameOriginKey(r, w.Header().Get(f)); ok {
				keys = append(keys, c.headKey(pk))
			}
		}
		if err := c.deleteKeys(ctx, keys...); err != nil {
			c.report(ctx, r, err)
		}
	}
	if r.Method == http.MethodPost {
		h.servePost(w, r, invalidate)
		return
	}
	iw := &invalidatingWriter{ResponseWriter: w, fn: invalidate}
	h.next.ServeHTTP(iw, r)
	if !iw.done {
		// The handler wrote nothing: net/http sends a 200 once it
		// returns, so invalidate now, before that goes out. (Not through
		// WriteHeader: the connection may have been hijacked.)
		iw.done = true
		invalidate(http.StatusOK)
	}
}

// servePost forwards a POST and, besides invalidating, stores its response
// for later GETs when RFC 9111 section 3 allows it: explicit freshness and
// a Content-Location naming the request's own URI.
func (h *handler) servePost(w http.ResponseWriter, r *http.Request, invalidate func(int)) {
	c := h.c
	ctx := r.Context()
	pk := h.pkOf(r)
	asGet := r.Clone(ctx)
	asGet.Method = http.MethodGet
	reqTime := time.Now()
	var (
		ent  *entry
		ttl  time.Duration
		keep bool
	)
	cw := newCaptureWriter(ctx, w, c.maxObj, func(status int, hdr http.Header) (writeMode, bool) {
		// The stored copy comes after the invalidation of the same key.
		w.Header()["Location"], w.Header()["Content-Location"] = hdr["Location"], hdr["Content-Location"]
		invalidate(status)
		delete(w.Header(), "Location")
		delete(w.Header(), "Content-Location")
		if cl, ok := h.sameOriginKey(r, hget(hdr, "Content-Location")); ok && cl == pk &&
			(status == http.StatusOK || status == http.StatusNonAuthoritativeInfo) {
			ent, ttl, keep = h.storable(asGet, status, hdr, hget(r.Header, "Authorization") != "", reqTime, time.Now())
			if keep && !(ent.cc.HasMaxAge || ent.cc.HasSMaxAge || ent.hasExpires) {
				keep = false // only explicit freshness makes a POST response reusable
			}
		}
		return modePass, keep
	})
	h.next.ServeHTTP(cw.writer(), r)
	cw.finish()
	if !keep || !cw.complete() {
		return
	}
	ent.Body = cw.buf
	epoch, err := c.epoch(ctx)
	if err == nil {
		err = c.save(context.WithoutCancel(ctx), pk, nil, ent, ttl, c.tagsOf(cw.h.Clone()), epoch)
	}
	c.report(ctx, r, err)
}

// sameOriginKey resolves a Location or Content-Location value against the
// request URI and returns its primary key if it has the request's origin.
func (h *handler) sameOriginKey(r *http.Request, ref string) (string, bool) {
	if ref == "" {
		return "", false
	}
	scheme := requestScheme(r, h.c.opts.TrustForwarded)
	host := requestHost(r, h.c.opts.TrustForwarded)
	base := &url.URL{Scheme: scheme, Host: host, Path: r.URL.Path, RawPath: r.URL.RawPath, RawQuery: r.URL.RawQuery}
	u, err := base.Parse(ref)
	if err != nil || u.Scheme != scheme || asciiLower(u.Host) != host {
		return "", false
	}
	t := &http.Request{URL: u, Host: host, TLS: r.TLS, Header: r.Header}
	return h.c.primaryKey(t, h.pol.route), true
}

// invalidatingWriter runs fn with the status just before the header goes
// out.
type invalidatingWriter struct {
	http.ResponseWriter
	fn   func(int)
	done bool
}

func (iw *invalidatingWriter) WriteHeader(code int) {
	if !iw.done && code >= 200 {
		iw.done = true
		iw.fn(code)
	}
	iw.ResponseWriter.WriteHeader(code)
}

func (iw *invalidatingWriter) Write(p []byte) (int, error) {
	if !iw.done {
		iw.WriteHeader(http.StatusOK)
	}
	return iw.ResponseWriter.Write(p)
}

func (iw *invalidatingWriter) Flush() {
	if !iw.done {
		iw.WriteHeader(http.StatusOK)
	}
	_ = http.NewResponseController(iw.ResponseWriter).Flush()
}

func (iw *invalidatingWriter) Unwrap() http.ResponseWriter { return iw.ResponseWriter }
