// Package middleware holds the HTTP building blocks shared by rediware's
// middlewares (ratelimit, responsecache, session, locking). It does not talk
// to Redis.
//
//   - [Chain] composes func(http.Handler) http.Handler middlewares.
//   - [WrapWriter] wraps a ResponseWriter to record the status and body size
//     and to run hooks just before the header is sent, while keeping
//     http.Flusher, http.Hijacker, io.ReaderFrom and
//     http.NewResponseController working through any stack of wrappers.
//   - [ClientIP] finds the client address behind trusted reverse proxies and
//     turns it into a rate-limit key (IPv6 grouped by /64).
//   - [RoutePattern] and [URLParam] read the matched route from chi or from
//     http.ServeMux.
//   - [WriteProblem] writes RFC 9457 problem details.
//
// Usage:
//
//	ip := &middleware.ClientIP{TrustedProxies: proxies} // from ParseTrustedProxies
//	stamp := func(next http.Handler) http.Handler {
//		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
//			ww := middleware.WrapWriter(w)
//			ww.Before(func(status int) {
//				ww.Header().Set("X-Client", ip.Key(r))
//			})
//			next.ServeHTTP(ww, r)
//		})
//	}
//	mux := http.NewServeMux()
//	mux.Handle("GET /users/{id}", middleware.Chain(stamp)(users))
package middleware
