package middleware_test

// Side-by-side numbers against go-chi/chi/v5/middleware, which solves the
// same two problems (a status-recording writer, client IP behind proxies).

import (
	"net/http"
	"testing"

	chimw "github.com/go-chi/chi/v5/middleware"
)

func BenchmarkPeer_chi_NewWrapResponseWriter(b *testing.B) {
	w := &discardWriter{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		ww := chimw.NewWrapResponseWriter(w, 1)
		ww.WriteHeader(http.StatusOK)
		_, _ = ww.Write(body)
	}
}

func BenchmarkPeer_chi_ClientIPFromXFF(b *testing.B) {
	var got string
	h := chimw.ClientIPFromXFF("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fd00::/8")(
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got = chimw.GetClientIP(r.Context()) }))
	r := request("10.0.0.1:41000", http.Header{"X-Forwarded-For": {"198.51.100.7, 172.16.4.4, 10.9.9.9"}})
	w := &discardWriter{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(w, r)
	}
	if got != "198.51.100.7" {
		b.Fatalf("chi found %q", got)
	}
}
