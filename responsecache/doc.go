// Package responsecache is an RFC 9111 shared HTTP cache, as net/http
// middleware, that keeps its entries in Redis through the store package.
//
// It implements the shared-cache rules of RFC 9111 (freshness from
// s-maxage, max-age, Expires and optionally the Last-Modified heuristic;
// the Age calculation of section 4.2.3; request and response Cache-Control
// directives; Vary; conditional requests and revalidation with 304 updates;
// invalidation after unsafe methods), RFC 5861 (stale-while-revalidate,
// stale-if-error) and RFC 9211 (a Cache-Status field on every response).
// On top it adds request coalescing, cache tags and purging, per-route
// configuration and an optional in-process tier.
//
// Usage:
//
//	s, _ := goredis.Open("redis://localhost:6379", goredis.Options{})
//	c := responsecache.New(s, responsecache.Options{})
//	http.ListenAndServe(":8080", c.Handler(app))
//
// Per route, with chi or a ServeMux:
//
//	r.With(c.Route(responsecache.Route{DefaultTTL: time.Minute, Tags: []string{"feed"}})).Get("/feed", feed)
//	mux.Handle("GET /feed", c.Route(responsecache.Route{IgnoreQuery: []string{"utm_source"}})(feed))
//
// Purging:
//
//	c.PurgeTag(ctx, "product-42")
//	c.PurgeURL(ctx, "https://example.com/products/42")
//	c.PurgePrefix(ctx, "https://example.com/products/")
//
// # Safe by default
//
// Responses to requests with Authorization are stored only when the
// response allows it (public, s-maxage, must-revalidate); responses with
// Set-Cookie are not stored (see SetCookiePolicy); scheme and host are
// always part of the key (X-Forwarded-Host and -Proto replace them only
// when Options.TrustForwarded is set), and a request carrying a field such
// as X-Forwarded-Host, X-Original-URL or X-HTTP-Method-Override that is
// not otherwise keyed gets entries of its own; a GET with a request body
// is never stored; bodies above Options.MaxObjectSize stream
// through uncached and are never buffered whole.
//
// # Failure policy
//
// The cache fails open: when Redis is down, slow (Options.StoreTimeout) or
// its circuit breaker is open, requests go to the origin and are answered
// by it; the cache never turns a Redis failure into a 5xx. A record that
// cannot be decoded is treated as a miss and deleted.
package responsecache
