package responsecache_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/rediware/rediware/responsecache"
)

type nopWriter struct{ h http.Header }

func (w *nopWriter) Header() http.Header         { return w.h }
func (w *nopWriter) WriteHeader(int)             {}
func (w *nopWriter) Write(p []byte) (int, error) { return len(p), nil }

// BenchmarkLocalHit measures a local-tier hit in process, for a response
// without Vary and one with Vary: Accept-Encoding, with a browser-like
// request.
func BenchmarkLocalHit(b *testing.B) {
	for _, vary := range []bool{false, true} {
		name := "plain"
		if vary {
			name = "vary"
		}
		b.Run(name, func(b *testing.B) {
			s, _ := miniStore(b)
			c := responsecache.New(s, responsecache.Options{LocalBytes: 1 << 20})
			b.Cleanup(func() { c.Close() })
			body := strings.Repeat("x", 2048)
			h := c.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Cache-Control", "public, max-age=3600")
				if vary {
					w.Header().Set("Vary", "Accept-Encoding")
				}
				_, _ = w.Write([]byte(body))
			}))
			r := httptest.NewRequest("GET", "http://example.com/page", nil)
			r.Header.Set("Accept-Encoding", "gzip, deflate, br")
			r.Header.Set("Accept", "text/html")
			r.Header.Set("User-Agent", "bench")
			deadline := time.Now().Add(5 * time.Second)
			for time.Now().Before(deadline) { // until served from the local tier
				w := httptest.NewRecorder()
				h.ServeHTTP(w, r)
				time.Sleep(5 * time.Millisecond)
				if strings.Contains(w.Header().Get("Cache-Status"), "hit") {
					break
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				h.ServeHTTP(&nopWriter{h: http.Header{}}, r)
			}
		})
	}
}
