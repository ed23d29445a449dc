package bench

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	gocache "github.com/go-redis/cache/v9"
	"github.com/redis/go-redis/v9"

	"github.com/rediware/rediware/internal/redistest"
	"github.com/rediware/rediware/responsecache"
	"github.com/rediware/rediware/store/goredis"
)

// rcBody is the response every responsecache benchmark serves: 2 KiB of
// HTML-like text.
var rcBody = bytes.Repeat([]byte("<p>rediware responsecache benchmark</p>\n"), 52)[:2048]

// rcOrigin is the "bare net/http handler writing the same bytes".
func rcOrigin() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "public, max-age=3600")
		w.Header().Set("Content-Length", "2048")
		w.Write(rcBody)
	})
}

// benchHTTP drives h through a real loopback HTTP server with parallel
// keep-alive clients, as a load balancer in front of the service would.
func benchHTTP(b *testing.B, h http.Handler) {
	srv := httptest.NewServer(h)
	b.Cleanup(srv.Close)
	tr := &http.Transport{MaxIdleConnsPerHost: 64, MaxConnsPerHost: 64}
	b.Cleanup(tr.CloseIdleConnections)
	client := &http.Client{Transport: tr}
	url := srv.URL + "/page"
	// Warm the cache.
	for i := 0; i < 3; i++ {
		resp, err := client.Get(url)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	b.SetBytes(int64(len(rcBody)))
	b.ReportAllocs()
	b.ResetTimer()
	b.SetParallelism(8)
	b.RunParallel(func(pb *testing.PB) {
		buf := make([]byte, 4096)
		for pb.Next() {
			resp, err := client.Get(url)
			if err != nil {
				b.Error(err)
				return
			}
			n, _ := io.ReadFull(resp.Body, buf[:2048])
			resp.Body.Close()
			if n != 2048 {
				b.Errorf("short body %d", n)
				return
			}
		}
	})
}

// goredisCacheMiddleware is the hand-rolled alternative many services
// write: go-redis/cache keyed by URL, body only, no HTTP semantics.
func goredisCacheMiddleware(c *gocache.Cache, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := "page:" + r.Host + r.URL.RequestURI()
		var body []byte
		if err := c.Get(r.Context(), key, &body); err == nil {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.Header().Set("Content-Length", "2048")
			w.Write(body)
			return
		}
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		body = rec.Body.Bytes()
		_ = c.Set(&gocache.Item{Ctx: r.Context(), Key: key, Value: body, TTL: time.Hour})
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		w.Write(body)
	})
}

// BenchmarkResponseCache compares a cache hit with the bare handler, in
// the same run, over loopback HTTP: the in-process tier, a hit read from
// Redis, and go-redis/cache used as a naive page cache.
func BenchmarkResponseCache(b *testing.B) {
	srv := redistest.Start(b)
	newStore := func(b *testing.B, pipeline bool) *goredis.Store { return rcStore(b, srv.Addr(), pipeline) }
	b.Run("bare-handler", func(b *testing.B) { benchHTTP(b, rcOrigin()) })
	b.Run("responsecache-local-hit", func(b *testing.B) {
		c := responsecache.New(newStore(b, true), responsecache.Options{KeyPrefix: "bl", LocalBytes: 64 << 20})
		b.Cleanup(func() { c.Close() })
		time.Sleep(50 * time.Millisecond) // subscription up: the local tier is active
		benchHTTP(b, c.Handler(rcOrigin()))
	})
	b.Run("responsecache-redis-hit", func(b *testing.B) {
		c := responsecache.New(newStore(b, true), responsecache.Options{KeyPrefix: "bp"})
		benchHTTP(b, c.Handler(rcOrigin()))
	})
	b.Run("responsecache-redis-hit-nopipeline", func(b *testing.B) {
		c := responsecache.New(newStore(b, false), responsecache.Options{KeyPrefix: "br"})
		benchHTTP(b, c.Handler(rcOrigin()))
	})
	b.Run("goredis-cache-redis-hit", func(b *testing.B) {
		rc := redis.NewClient(&redis.Options{Addr: srv.Addr(), PoolSize: 64})
		b.Cleanup(func() { rc.Close() })
		gc := gocache.New(&gocache.Options{Redis: rc})
		benchHTTP(b, goredisCacheMiddleware(gc, rcOrigin()))
	})
	b.Run("goredis-cache-local-hit", func(b *testing.B) {
		rc := redis.NewClient(&redis.Options{Addr: srv.Addr(), PoolSize: 64})
		b.Cleanup(func() { rc.Close() })
		gc := gocache.New(&gocache.Options{Redis: rc, LocalCache: gocache.NewTinyLFU(10000, time.Minute)})
		benchHTTP(b, goredisCacheMiddleware(gc, rcOrigin()))
	})
}

// rcStack is one handler of the interleaved comparison, behind its own
// loopback HTTP server.
type rcStack struct {
	name   string
	url    string
	client *http.Client
}

func newRCStack(b *testing.B, name string, h http.Handler) rcStack {
	srv := httptest.NewServer(h)
	b.Cleanup(srv.Close)
	tr := &http.Transport{MaxIdleConnsPerHost: 64, MaxConnsPerHost: 64}
	b.Cleanup(tr.CloseIdleConnections)
	st := rcStack{name: name, url: srv.URL + "/page", client: &http.Client{Transport: tr}}
	for range 3 { // warm the cache
		if !st.get(b, make([]byte, 4096)) {
			b.FailNow()
		}
	}
	return st
}

func (st rcStack) get(b *testing.B, buf []byte) bool {
	resp, err := st.client.Get(st.url)
	if err != nil {
		b.Error(err)
		return false
	}
	n, _ := io.ReadFull(resp.Body, buf[:2048])
	resp.Body.Close()
	if n != 2048 {
		b.Errorf("%s: short body %d", st.name, n)
		return false
	}
	return true
}

// round serves n requests with the given number of keep-alive clients and
// returns the wall time.
func (st rcStack) round(b *testing.B, clients, n int) time.Duration {
	start := time.Now()
	var wg sync.WaitGroup
	per := n / clients
	for range clients {
		wg.Go(func() {
			buf := make([]byte, 4096)
			for range per {
				if !st.get(b, buf) {
					return
				}
			}
		})
	}
	wg.Wait()
	return time.Since(start) * time.Duration(n) / time.Duration(per*clients)
}

// BenchmarkResponseCacheInterleaved is BenchmarkResponseCache with every
// stack served in turn, round after round, so that all see the same load
// on a shared machine: the -x metrics are throughput relative to the bare
// handler (higher is better; the targets are 0.9x for a local-tier hit and
// 0.5x for a Redis hit).
func BenchmarkResponseCacheInterleaved(b *testing.B) {
	srv := redistest.Start(b)
	newStore := func(pipeline bool) *goredis.Store { return rcStore(b, srv.Addr(), pipeline) }
	local := responsecache.New(newStore(true), responsecache.Options{KeyPrefix: "il", LocalBytes: 64 << 20})
	b.Cleanup(func() { local.Close() })
	time.Sleep(50 * time.Millisecond) // subscription up: the local tier is active
	rc := redis.NewClient(&redis.Options{Addr: srv.Addr(), PoolSize: 64})
	b.Cleanup(func() { rc.Close() })
	stacks := []rcStack{
		newRCStack(b, "bare", rcOrigin()),
		newRCStack(b, "local-hit", local.Handler(rcOrigin())),
		newRCStack(b, "redis-hit", responsecache.New(newStore(true), responsecache.Options{KeyPrefix: "ip"}).Handler(rcOrigin())),
		newRCStack(b, "redis-hit-nopipeline", responsecache.New(newStore(false), responsecache.Options{KeyPrefix: "ir"}).Handler(rcOrigin())),
		newRCStack(b, "goredis-cache-redis-hit", goredisCacheMiddleware(gocache.New(&gocache.Options{Redis: rc}), rcOrigin())),
	}
	const clients, round = 16, 2000
	total := make([]time.Duration, len(stacks))
	n := 0
	for b.Loop() {
		for i := range stacks {
			total[i] += stacks[i].round(b, clients, round)
		}
		n += round
	}
	for i, st := range stacks {
		b.ReportMetric(float64(total[i].Nanoseconds())/float64(n), st.name+"-ns/req")
		if i > 0 {
			b.ReportMetric(float64(total[0])/float64(total[i]), st.name+"-x")
		}
	}
}

// BenchmarkResponseCacheInProcess measures the middleware alone, without
// the network: ServeHTTP on a recorder-like writer.
func BenchmarkResponseCacheInProcess(b *testing.B) {
	srv := redistest.Start(b)
	c := redis.NewClient(&redis.Options{Addr: srv.Addr(), PoolSize: 64})
	b.Cleanup(func() { c.Close() })
	s := goredis.New(c)
	run := func(b *testing.B, h http.Handler) {
		req := httptest.NewRequest("GET", "http://example.com/page", nil)
		h.ServeHTTP(httptest.NewRecorder(), req)
		b.ReportAllocs()
		b.SetBytes(int64(len(rcBody)))
		b.ResetTimer()
		b.SetParallelism(8)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				w := &discard{h: http.Header{}}
				h.ServeHTTP(w, req)
			}
		})
	}
	b.Run("bare-handler", func(b *testing.B) { run(b, rcOrigin()) })
	b.Run("responsecache-local-hit", func(b *testing.B) {
		rc := responsecache.New(s, responsecache.Options{KeyPrefix: "ipl", LocalBytes: 64 << 20})
		b.Cleanup(func() { rc.Close() })
		time.Sleep(50 * time.Millisecond)
		run(b, rc.Handler(rcOrigin()))
	})
	b.Run("responsecache-redis-hit", func(b *testing.B) {
		rc := responsecache.New(s, responsecache.Options{KeyPrefix: "ipr"})
		run(b, rc.Handler(rcOrigin()))
	})
	b.Run("goredis-cache-redis-hit", func(b *testing.B) {
		gc := gocache.New(&gocache.Options{Redis: c})
		run(b, goredisCacheMiddleware(gc, rcOrigin()))
	})
	_ = context.Background
	_ = strings.Contains
}

type discard struct{ h http.Header }

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) WriteHeader(int)             {}
func (d *discard) Write(p []byte) (int, error) { return len(p), nil }

// rcStore is a go-redis Store on addr, with automatic pipelining (the
// default) or without.
func rcStore(b *testing.B, addr string, pipeline bool) *goredis.Store {
	c := redis.NewClient(&redis.Options{Addr: addr, PoolSize: 64})
	b.Cleanup(func() { c.Close() })
	s, err := goredis.NewWithOptions(c, goredis.Options{NoAutoPipeline: !pipeline})
	if err != nil {
		b.Fatal(err)
	}
	return s
}
