package responsecache

import (
	"net/http"
)

// PurgeHandler returns an HTTP handler for purging, for use on an admin
// route. It accepts POST (or PURGE) with exactly one of the query
// parameters tag, url or prefix, and answers 204 on success.
//
// authorize decides whether the request may purge; a nil authorize denies
// every request (403), so the handler is never open by accident.
func (c *Cache) PurgeHandler(authorize func(r *http.Request) bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost && r.Method != "PURGE" {
			w.Header().Set("Allow", "POST, PURGE")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		if authorize == nil || !authorize(r) {
			http.Error(w, "forbidden", http.StatusForbidden)
			return
		}
		q := r.URL.Query()
		var err error
		switch tag, u, prefix := q.Get("tag"), q.Get("url"), q.Get("prefix"); {
		case tag != "" && u == "" && prefix == "":
			err = c.PurgeTag(r.Context(), tag)
		case u != "" && tag == "" && prefix == "":
			err = c.PurgeURL(r.Context(), u)
		case prefix != "" && tag == "" && u == "":
			err = c.PurgePrefix(r.Context(), prefix)
		default:
			http.Error(w, "want exactly one of tag, url or prefix", http.StatusBadRequest)
			return
		}
		if err != nil {
			c.report(r.Context(), r, err)
			http.Error(w, "purge failed", http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}
