package responsecache

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestLocalTier_bound_counts_decoded_bodies_not_compressed_bytes(t *testing.T) {
	const limit = 256 << 10
	c := newMiniCache(t, Options{LocalBytes: limit})
	defer c.Close()
	deadline := time.Now().Add(5 * time.Second)
	for !c.local.active.Load() {
		if time.Now().After(deadline) {
			t.Fatal("the local tier's subscription did not start")
		}
		time.Sleep(5 * time.Millisecond)
	}
	body := strings.Repeat("a", 60<<10) // compresses to almost nothing in Redis
	h := c.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=600")
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		_, _ = w.Write([]byte(body))
	}))
	for i := range 40 {
		for range 2 { // the second request fills the local tier from Redis
			w := httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequest("GET", "http://example.com/big/"+strconv.Itoa(i), nil))
			if w.Body.Len() != len(body) {
				t.Fatalf("body of %d bytes", w.Body.Len())
			}
		}
	}
	c.local.mu.Lock()
	var held int64
	for _, el := range c.local.m {
		if e, ok := el.Value.(*localItem).rec.(*entry); ok {
			held += int64(len(e.Body))
		}
	}
	n := len(c.local.m)
	c.local.mu.Unlock()
	if n == 0 {
		t.Fatal("the local tier held nothing: the test proves nothing")
	}
	if held > limit {
		t.Fatalf("the local tier holds %d bytes of bodies in %d entries, above its bound of %d", held, n, limit)
	}
}
