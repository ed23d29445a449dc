package responsecache_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/rediware/rediware/responsecache"
	"github.com/rediware/rediware/store/goredis"
)

func ExampleNew() {
	mr, _ := miniredis.Run() // a real Redis in production
	defer mr.Close()
	s := goredis.New(redis.NewClient(&redis.Options{Addr: mr.Addr()}))

	c := responsecache.New(s, responsecache.Options{})
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		io.WriteString(w, "hello")
	})
	h := c.Handler(app)

	for i := 0; i < 2; i++ {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", "http://example.com/", nil))
		status, _, _ := strings.Cut(w.Header().Get("Cache-Status"), "; ttl=")
		fmt.Println(w.Body.String(), status)
	}
	// Output:
	// hello rediware; fwd=uri-miss; fwd-status=200; stored
	// hello rediware; hit
}

func ExampleCache_Route() {
	mr, _ := miniredis.Run()
	defer mr.Close()
	s := goredis.New(redis.NewClient(&redis.Options{Addr: mr.Addr()}))
	c := responsecache.New(s, responsecache.Options{})

	// The feed sends no caching headers: give it a minute, keep tracking
	// parameters out of the key, and tag it for purging.
	feed := c.Route(responsecache.Route{
		DefaultTTL:  time.Minute,
		IgnoreQuery: []string{"utm_source"},
		Tags:        []string{"feed"},
	})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "items")
	}))
	mux := http.NewServeMux()
	mux.Handle("GET /feed", feed)

	for _, u := range []string{"/feed?utm_source=a", "/feed?utm_source=b"} {
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, httptest.NewRequest("GET", "http://example.com"+u, nil))
		fmt.Println(strings.Contains(w.Header().Get("Cache-Status"), "hit"))
	}
	_ = c.PurgeTag(context.Background(), "feed")
	w := httptest.NewRecorder()
	mux.ServeHTTP(w, httptest.NewRequest("GET", "http://example.com/feed", nil))
	fmt.Println(strings.Contains(w.Header().Get("Cache-Status"), "hit"))
	// Output:
	// false
	// true
	// false
}
