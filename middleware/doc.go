// Package middleware holds the net/http building blocks shared by rediware's
// middlewares (ratelimit, responsecache, session, locking). It does not talk
// to Redis, and nothing in it fails at request time: bad input (garbage
// addresses, malformed headers) degrades to a documented safe result.
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
// Usage, in a middleware that sets a header on every response and refuses
// some clients:
//
//	proxies, err := middleware.ParseTrustedProxies(os.Getenv("TRUSTED_PROXIES"))
//	if err != nil {
//		log.Fatal(err)
//	}
//	ip := &middleware.ClientIP{TrustedProxies: proxies}
//
//	guard := func(next http.Handler) http.Handler {
//		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
//			if blocked(ip.Key(r), middleware.RoutePattern(r)) {
//				middleware.WriteProblem(w, middleware.Problem{Status: http.StatusForbidden})
//				return
//			}
//			ww := middleware.WrapWriter(w)
//			ww.Before(func(status int) {
//				ww.Header().Set("X-Served-By", "app-1")
//			})
//			next.ServeHTTP(ww, r)
//			if !ww.HeaderWritten() {
//				ww.WriteHeader(http.StatusOK) // the handler wrote nothing: still run the hooks
//			}
//		})
//	}
//
//	mux := http.NewServeMux()
//	mux.Handle("GET /users/{id}", middleware.Chain(guard, logRequests)(users))
package middleware
