package responsecache

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/rediware/rediware/store/goredis"
)

func newMiniCache(t *testing.T, opts Options) *Cache {
	t.Helper()
	mr := miniredis.RunT(t)
	rc := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { rc.Close() })
	opts.StoreTimeout = 5 * time.Second // -race on a loaded machine
	return New(goredis.New(rc), opts)
}

// waitForWaiters blocks until the one flight in progress has n requests
// waiting on its leader, so that a test does not depend on how goroutines
// happen to be scheduled.
func waitForWaiters(t *testing.T, c *Cache, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c.flights.mu.Lock()
		got := 0
		for _, f := range c.flights.m {
			got += f.waiters
		}
		c.flights.mu.Unlock()
		if got >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d requests waiting on the leader after 10s, want %d", got, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// coalesce sends n concurrent GETs for target through h, the i-th with the
// header pairs hdr(i), releases the origin (which blocks on release) once
// n-1 of them wait on the first, and returns the recorders.
func coalesce(t *testing.T, c *Cache, h http.Handler, release chan struct{}, n int, target string, hdr func(i int) []string) []*httptest.ResponseRecorder {
	t.Helper()
	recs := make([]*httptest.ResponseRecorder, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := httptest.NewRequest("GET", target, nil)
			if hdr != nil {
				kv := hdr(i)
				for j := 0; j+1 < len(kv); j += 2 {
					r.Header.Add(kv[j], kv[j+1])
				}
			}
			recs[i] = httptest.NewRecorder()
			h.ServeHTTP(recs[i], r)
		}()
	}
	waitForWaiters(t, c, n-1)
	close(release)
	wg.Wait()
	return recs
}

func TestCoalescing_concurrent_misses_reach_origin_once(t *testing.T) {
	c := newMiniCache(t, Options{})
	var calls atomic.Int32
	release := make(chan struct{})
	h := c.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		<-release
		w.Header().Set("Cache-Control", "max-age=600")
		io.WriteString(w, "shared")
	}))
	recs := coalesce(t, c, h, release, 20, "http://example.com/hot", nil)
	collapsed := 0
	for _, w := range recs {
		if w.Body.String() != "shared" {
			t.Errorf("body %q", w.Body.String())
		}
		if strings.Contains(w.Header().Get("Cache-Status"), "collapsed") {
			collapsed++
		}
	}
	if calls.Load() != 1 || collapsed != 19 {
		t.Fatalf("origin asked %d times, %d of 19 waiters collapsed", calls.Load(), collapsed)
	}
}

// perRequestOrigin answers each request with its own body, after release.
func perRequestOrigin(calls *atomic.Int32, release chan struct{}, hdr ...string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := calls.Add(1)
		<-release
		for i := 0; i+1 < len(hdr); i += 2 {
			w.Header().Add(hdr[i], hdr[i+1])
		}
		io.WriteString(w, "for "+r.Header.Get("X-Who")+" #"+string(rune('0'+n%10)))
	})
}

func whoHeader(i int) []string { return []string{"X-Who", string(rune('a' + i))} }

func TestCoalescing_private_response_is_not_handed_to_waiters(t *testing.T) {
	c := newMiniCache(t, Options{})
	var calls atomic.Int32
	release := make(chan struct{})
	h := c.Handler(perRequestOrigin(&calls, release, "Cache-Control", "private, max-age=600"))
	recs := coalesce(t, c, h, release, 5, "http://example.com/me", whoHeader)
	if calls.Load() != 5 {
		t.Fatalf("origin asked %d times, want 5 (each waiter on its own)", calls.Load())
	}
	for i, w := range recs {
		if want := "for " + string(rune('a'+i)) + " #"; !strings.HasPrefix(w.Body.String(), want) {
			t.Errorf("request %d got %q, want its own response", i, w.Body.String())
		}
	}
}

func TestCoalescing_Set_Cookie_response_is_not_handed_to_waiters(t *testing.T) {
	for _, pol := range []SetCookiePolicy{SetCookieBypass, SetCookieStore} {
		c := newMiniCache(t, Options{SetCookie: pol})
		var calls atomic.Int32
		release := make(chan struct{})
		h := c.Handler(perRequestOrigin(&calls, release, "Cache-Control", "max-age=600", "Set-Cookie", "session=leader"))
		recs := coalesce(t, c, h, release, 5, "http://example.com/login", whoHeader)
		if calls.Load() != 5 {
			t.Fatalf("policy %d: origin asked %d times, want 5 (no waiter gets the leader's cookie)", pol, calls.Load())
		}
		for i, w := range recs {
			if strings.Contains(w.Header().Get("Cache-Status"), "collapsed") {
				t.Errorf("policy %d: request %d was handed the leader's response", pol, i)
			}
		}
	}
}

func TestCoalescing_Vary_mismatched_response_is_not_handed_to_waiters(t *testing.T) {
	c := newMiniCache(t, Options{})
	var calls atomic.Int32
	release := make(chan struct{})
	h := c.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		<-release
		w.Header().Set("Cache-Control", "max-age=600")
		w.Header().Set("Vary", "Accept-Language")
		io.WriteString(w, "lang="+r.Header.Get("Accept-Language"))
	}))
	langs := []string{"en", "en", "fr", "de"}
	recs := coalesce(t, c, h, release, len(langs), "http://example.com/v", func(i int) []string {
		return []string{"Accept-Language", langs[i]}
	})
	for i, w := range recs {
		if want := "lang=" + langs[i]; w.Body.String() != want {
			t.Errorf("request %d (%s) got %q", i, langs[i], w.Body.String())
		}
	}
	// One request per language reaches the origin at most; the fr and de
	// waiters may not use the en response.
	if n := calls.Load(); n < 3 || n > 4 {
		t.Fatalf("origin asked %d times, want 3 or 4", n)
	}
}

func TestCoalescing_no_cache_response_is_not_handed_to_waiters(t *testing.T) {
	c := newMiniCache(t, Options{})
	var calls atomic.Int32
	release := make(chan struct{})
	h := c.Handler(perRequestOrigin(&calls, release, "Cache-Control", "no-cache, max-age=600"))
	recs := coalesce(t, c, h, release, 5, "http://example.com/nc", whoHeader)
	if calls.Load() != 5 {
		t.Fatalf("origin asked %d times, want 5 (no-cache must be validated for each)", calls.Load())
	}
	for i, w := range recs {
		if want := "for " + string(rune('a'+i)) + " #"; !strings.HasPrefix(w.Body.String(), want) {
			t.Errorf("request %d got %q, want its own response", i, w.Body.String())
		}
	}
}

// A miss that looked the key up before another request's fetch finished,
// but joins only afterwards, uses what that fetch stored instead of asking
// the origin again.
func TestCoalescing_miss_that_joins_after_the_fill_reads_the_cache_again(t *testing.T) {
	c := newMiniCache(t, Options{})
	var calls atomic.Int32
	h := c.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("Cache-Control", "max-age=600")
		io.WriteString(w, "filled")
	})).(*handler)
	const target = "http://example.com/late"
	late := httptest.NewRequest("GET", target, nil)
	pk := h.pkOf(late)
	lr, err := c.lookup(late.Context(), late, pk, time.Now()) // the late request's lookup: a miss
	if err != nil || lr.ent != nil {
		t.Fatalf("lookup: %v %v", lr.ent, err)
	}
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", target, nil)) // the fill
	w := httptest.NewRecorder()
	h.miss(w, late, pk, lr, false, "uri-miss")
	if calls.Load() != 1 || w.Body.String() != "filled" || !strings.Contains(w.Header().Get("Cache-Status"), "collapsed") {
		t.Fatalf("origin asked %d times; late request got %q (%s)", calls.Load(), w.Body.String(), w.Header().Get("Cache-Status"))
	}
}

// A request with Cache-Control: no-cache (or Pragma: no-cache) must see
// the origin's answer to it, not one fetched for another request.
func TestCoalescing_no_cache_request_is_not_served_another_requests_fetch(t *testing.T) {
	for _, kv := range [][2]string{{"Cache-Control", "no-cache"}, {"Pragma", "no-cache"}} {
		c := newMiniCache(t, Options{})
		var calls atomic.Int32
		h := c.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			calls.Add(1)
			w.Header().Set("Cache-Control", "max-age=600")
			io.WriteString(w, "filled")
		})).(*handler)
		const target = "http://example.com/reload"
		late := httptest.NewRequest("GET", target, nil)
		late.Header.Set(kv[0], kv[1])
		pk := h.pkOf(late)
		lr, err := c.lookup(late.Context(), late, pk, time.Now())
		if err != nil || lr.ent != nil {
			t.Fatalf("lookup: %v %v", lr.ent, err)
		}
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", target, nil))
		h.miss(httptest.NewRecorder(), late, pk, lr, false, "uri-miss")
		if calls.Load() != 2 {
			t.Fatalf("%s: %s request was served another request's fetch", kv[0], kv[1])
		}
	}
}
