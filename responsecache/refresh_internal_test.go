package responsecache

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// A stale read that loses the race with the end of a background refresh
// (it read the old entry, the refresh stored the new one and finished, and
// only then did it ask for a refresh) must not refresh again.
func TestStaleWhileRevalidate_stale_read_after_a_finished_refresh_does_not_refresh_again(t *testing.T) {
	c := newMiniCache(t, Options{})
	var calls atomic.Int32
	h := c.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			w.Header().Set("Cache-Control", "max-age=1, stale-while-revalidate=60")
			w.Header().Set("Age", "2") // stale on arrival
			io.WriteString(w, "v1")
			return
		}
		w.Header().Set("Cache-Control", "max-age=600")
		io.WriteString(w, "v2")
	})).(*handler)
	const target = "http://example.com/swr-race"
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", target, nil))
	r := httptest.NewRequest("GET", target, nil)
	old, err := c.lookup(r.Context(), r, h.pkOf(r), time.Now()) // the loser's read of v1
	if err != nil || old.ent == nil {
		t.Fatalf("lookup: %v, %v", old.ent, err)
	}
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", target, nil)) // starts the refresh
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, busy := c.refreshing.Load(old.key)
		cur, _ := c.lookup(r.Context(), r, h.pkOf(r), time.Now())
		if !busy && cur.ent != nil && string(cur.ent.Body) == "v2" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the background refresh did not finish")
		}
		time.Sleep(5 * time.Millisecond)
	}
	h.refreshInBackground(r, old) // marks the key busy before it returns
	deadline = time.Now().Add(5 * time.Second)
	for {
		if _, busy := c.refreshing.Load(old.key); !busy {
			break // that refresh is over, whatever it did
		}
		if time.Now().After(deadline) {
			t.Fatal("the second refresh did not finish")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if n := calls.Load(); n != 2 {
		t.Fatalf("origin asked %d times, want 2: the entry was refreshed twice", n)
	}
}
