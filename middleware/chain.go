package middleware

import "net/http"

// Chain composes middlewares into one. The first middleware listed is the
// outermost: Chain(a, b, c)(h) behaves like a(b(c(h))), so a request passes
// through a, then b, then c, then h. Nil entries are skipped, and Chain() with
// no middlewares returns the handler unchanged.
//
// The returned function panics if it is given a nil handler, a programmer error
// caught at construction rather than on the first request.
func Chain(mws ...func(http.Handler) http.Handler) func(http.Handler) http.Handler {
	list := make([]func(http.Handler) http.Handler, 0, len(mws))
	for _, mw := range mws {
		if mw != nil {
			list = append(list, mw)
		}
	}
	return func(h http.Handler) http.Handler {
		if h == nil {
			panic("middleware: Chain applied to a nil handler")
		}
		for i := len(list) - 1; i >= 0; i-- {
			h = list[i](h)
		}
		return h
	}
}
