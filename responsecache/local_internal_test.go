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

func TestLocalTier_charge_counts_memory_a_record_gained_and_evicts(t *testing.T) {
	l := newLocalTier(1000)
	l.active.Store(true)
	a, b := &varyIndex{Fields: []string{"A"}}, &varyIndex{Fields: []string{"B"}}
	l.put("a", a, 100, l.generation())
	l.put("b", b, 100, l.generation())
	before := l.size
	l.charge("b", a, 50) // not the record held under b: ignored
	if l.size != before {
		t.Fatalf("size %d after charging a record not held, want %d", l.size, before)
	}
	l.charge("a", a, 50)
	if l.size != before+50 {
		t.Fatalf("size %d, want %d", l.size, before+50)
	}
	l.charge("b", b, 900) // over the bound: the least recently used goes first
	if _, ok := l.get("a", time.Now()); ok || l.size > l.max {
		t.Fatalf("a still held (size %d of %d)", l.size, l.max)
	}
}
