// Package ratelimit limits request rates with state in Redis: one Lua script
// and one round trip per decision, the Redis clock (TIME inside the script,
// so app servers' clocks never matter), hash-tagged keys that work on Redis
// Cluster, and IETF RateLimit headers.
//
// A [Limiter] holds one or more policies ([Limit] values such as
// PerMinute(100)) and decides with [Limiter.AllowN] whether a key (a client
// address, an API key, a user) may spend n units. All the policies of a
// limiter are checked in the same script: a request is admitted only if every
// policy admits it, and a denied request consumes nothing anywhere.
//
// Five algorithms are available: GCRA (the default), TokenBucket,
// FixedWindow, SlidingWindowLog and SlidingWindowCounter. Every key gets a
// TTL of at least a millisecond, so sub-second windows work and idle clients
// leave nothing behind.
//
// When Redis is unavailable a [FailurePolicy] decides: by default
// FailureLocal, an in-process limiter with the same algorithms per instance;
// or FailOpen, or FailClosed (503 from the middleware). A store.Breaker stops
// calling a dead Redis, so an outage does not add a timeout to every request.
//
// With Options.Batch, concurrent decisions of one limiter that arrive while
// a script call is in flight are sent together in one script run, each
// still decided alone and all or nothing: several times the throughput of
// one call per decision under concurrency, no added delay for a lone caller.
//
// [Middleware] puts a limiter in front of a handler, keyed by [ByIP],
// [ByHeader], [ByUser], [ByRoute], or a combination ([Compose], [FirstOf]).
// It sets RateLimit-Policy and RateLimit (draft-ietf-httpapi-ratelimit-headers,
// Structured Field lists, one item per policy), optionally the legacy
// X-RateLimit-* fields, and answers a denied request with 429, Retry-After
// and an RFC 9457 problem+json body. A request for which the key function
// finds no key (ByHeader without the header, ByUser for an anonymous user)
// passes unlimited: stack a ByIP limiter or use FirstOf to cover it.
// Stacked limiters are separate decisions (the outer one has charged a
// request the inner one denies); [Limiter.With] decides a global and a
// route limit at once instead.
// [Limiter.AllowN] refuses an empty key with ErrInvalidKey.
//
// Usage:
//
//	s := goredis.New(redis.NewClient(&redis.Options{Addr: "localhost:6379"}))
//
//	// Without HTTP:
//	logins := ratelimit.New(s, ratelimit.PerMinute(5).WithName("login"))
//	res, err := logins.Allow(ctx, email)
//	if err == nil && !res.Allowed {
//		return fmt.Errorf("too many attempts, retry in %v", res.RetryAfter)
//	}
//
//	// A global limit per client address, and a tighter one on one route,
//	// decided together there (Limiter.With), so that a search the route
//	// limit denies costs the global budget nothing:
//	ip := &middleware.ClientIP{TrustedProxies: proxies}
//	byIP := ratelimit.MiddlewareOptions{Key: ratelimit.ByIP(ip)}
//	global, _ := ratelimit.NewWithOptions(s, ratelimit.Options{
//		Name:   "global",
//		Limits: []ratelimit.Limit{ratelimit.PerSecond(20).WithBurst(40), ratelimit.PerHour(5000)},
//	})
//	search, _ := global.With(ratelimit.PerMinute(30).WithName("search"))
//	r := chi.NewRouter()
//	r.Group(func(r chi.Router) {
//		r.Use(ratelimit.Middleware(global, byIP))
//		r.Get("/", home) // every route without a tighter limit
//	})
//	r.With(ratelimit.Middleware(search, byIP)).Get("/search", searchHandler)
//
//	// With http.ServeMux, wrap one handler:
//	mux.Handle("GET /search", ratelimit.Middleware(search, byIP)(searchHandler))
package ratelimit
