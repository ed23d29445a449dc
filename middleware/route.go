package middleware

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/go-chi/chi/v5"
)

// RoutePattern returns the pattern of the route that matched r, without the
// HTTP method, for use in metrics and rate-limit or cache keys:
//
//   - with chi, the full pattern across sub-routers and mounts, as
//     chi.RouteContext(ctx).RoutePattern() gives it ("/api/users/{id}");
//   - with http.ServeMux (Go 1.22+), r.Pattern with any leading method
//     removed: "GET /users/{id}" gives "/users/{id}", and a host stays part
//     of the pattern ("example.com/users/{id}");
//   - otherwise "".
//
// A non-empty chi pattern takes precedence over r.Pattern. Use
// [RouteMethodPattern] to get the method as well.
//
// Both routers fill in the pattern while routing. A middleware attached to a
// route (chi's r.With(mw).Get, or mux.Handle("GET /x", mw(h))) sees it before
// calling the next handler; a middleware wrapping the whole router (chi's
// r.Use at the top, or mw(mux)) sees it only after next.ServeHTTP returns.
func RoutePattern(r *http.Request) string {
	_, p := RouteMethodPattern(r)
	return p
}

// RouteMethodPattern returns the matched route pattern, as [RoutePattern]
// does, together with its method. For http.ServeMux, method is the method
// written in the pattern ("GET" for "GET /users/{id}", which also matches
// HEAD requests) or "" for a pattern that matches every method. For chi, which
// registers routes per method, it is the method chi routed on (normally
// r.Method). Both are "" when no route matched.
func RouteMethodPattern(r *http.Request) (method, pattern string) {
	if rctx := chi.RouteContext(r.Context()); rctx != nil {
		if p := rctx.RoutePattern(); p != "" {
			method = rctx.RouteMethod
			if method == "" {
				method = r.Method
			}
			return method, p
		}
	}
	p := r.Pattern
	if i := strings.IndexAny(p, " \t"); i >= 0 {
		return p[:i], strings.TrimLeft(p[i+1:], " \t")
	}
	return "", p
}

// URLParam returns the value of the named path parameter ("id" in
// "/users/{id}") from chi's route context or, failing that, from
// http.ServeMux's r.PathValue. It returns "" if neither router set it.
//
// The value is percent-decoded with both routers, so that every spelling
// of one resource gives one value: "/users/%41" and "/users/A" both give
// "A". (chi routes on r.URL.RawPath when the request had one and then
// reports the escaped segment; r.PathValue is always decoded.) Code that
// keys locks, limits or caches by a parameter relies on this.
func URLParam(r *http.Request, name string) string {
	if rctx := chi.RouteContext(r.Context()); rctx != nil {
		if v := rctx.URLParam(name); v != "" {
			if r.URL != nil && r.URL.RawPath != "" && strings.IndexByte(v, '%') >= 0 {
				if u, err := url.PathUnescape(v); err == nil {
					return u
				}
			}
			return v
		}
	}
	return r.PathValue(name)
}
