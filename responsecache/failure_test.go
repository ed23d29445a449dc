package responsecache_test

import (
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rediware/rediware/internal/redistest"
	"github.com/rediware/rediware/responsecache"
	"github.com/rediware/rediware/store/goredis"
)

func TestFailure_paused_redis_passes_to_origin_after_the_store_timeout(t *testing.T) {
	srv := redistest.Start(t)
	// As goredis.Open builds it: deadlines bound every call.
	rc := redis.NewClient(&redis.Options{Addr: srv.Addr(), ContextTimeoutEnabled: true})
	t.Cleanup(func() { rc.Close() })
	c := responsecache.New(goredis.New(rc), responsecache.Options{StoreTimeout: 100 * time.Millisecond})
	h := c.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=600")
		io.WriteString(w, "origin")
	}))
	send(h, "GET", "http://example.com/p") // connection established, entry stored
	srv.Pause()
	t.Cleanup(srv.Resume)
	start := time.Now()
	w := send(h, "GET", "http://example.com/q")
	took := time.Since(start)
	if w.Code != 200 || w.Body.String() != "origin" {
		t.Fatalf("got %d %q while Redis is paused", w.Code, w.Body.String())
	}
	t.Logf("answered in %v", took)
}
