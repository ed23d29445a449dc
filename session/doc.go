// Package session is scs session middleware on rediware's shared Redis store:
// a drop-in for github.com/alexedwards/scs/v2 with scs/redisstore that logs
// nobody out when you switch, with secure defaults and per-user session
// control that scs does not have.
//
//   - [RedisStore] is an scs store (Store, CtxStore, IterableStore,
//     IterableCtxStore) over any [store.Store]: go-redis single node,
//     Sentinel or Cluster, or redigo. Keys, values and expiries are those of
//     scs/redisstore, so either can read the other's sessions. No method
//     panics; iteration uses SCAN.
//   - [Manager] wraps *scs.SessionManager (all its methods work) with Secure,
//     HttpOnly, SameSite=Lax cookies, 256-bit tokens, idle timeout and
//     absolute lifetime checked on the server at every load, a streaming-safe
//     middleware ([Manager.LoadAndSave]) in which a request that does not
//     change its session costs one Redis GET and no write, an optional
//     per-session lock against lost updates, and per-user session control:
//     [Manager.Sessions], [Manager.Revoke], [Manager.RevokeAll] ("log out
//     everywhere") and [Manager.RevokeOthers].
//
// Usage:
//
//	sessions := session.New(goredis.New(redisClient))
//
//	mux := http.NewServeMux()
//	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
//		userID := checkPassword(r) // your code
//		if err := sessions.Login(r.Context(), userID); err != nil { // new token: no fixation
//			http.Error(w, "login failed", http.StatusInternalServerError)
//			return
//		}
//		http.Redirect(w, r, "/", http.StatusSeeOther)
//	})
//	mux.HandleFunc("GET /", func(w http.ResponseWriter, r *http.Request) {
//		fmt.Fprintf(w, "hello %s", sessions.UserID(r.Context()))
//	})
//	mux.HandleFunc("POST /logout-everywhere", func(w http.ResponseWriter, r *http.Request) {
//		sessions.RevokeAll(r.Context(), sessions.UserID(r.Context()))
//	})
//	http.ListenAndServe(":8080", sessions.LoadAndSave(mux))
//
// Failure policy: a bad, unknown, expired or revoked cookie gives a fresh
// empty session, never an error. When Redis is unavailable the
// Config.ErrorFunc answers (by default 503 application/problem+json), or
// with Config.ContinueWithoutSession the request runs with an empty session
// that is never saved. No call outlives the request's context or
// Config.Timeout (build go-redis clients with ContextTimeoutEnabled).
//
// Migrating from scs with scs/redisstore is one line: replace
// scs.New() + redisstore.New(pool) by session.New(store), keeping the
// cookie name ("session") and prefix ("scs:session:") defaults.
package session
