package responsecache_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/redis/go-redis/v9"

	"github.com/rediware/rediware/internal/redistest"
	"github.com/rediware/rediware/responsecache"
	"github.com/rediware/rediware/store"
	"github.com/rediware/rediware/store/goredis"
)

func TestCache_stores_and_hits_on_redis_server(t *testing.T) {
	s, _ := realStore(t)
	c := responsecache.New(s, responsecache.Options{})
	o := &origin{}
	o.set(respond(200, "hello", "Cache-Control", "max-age=60", "ETag", `"v1"`))
	h := c.Handler(o)
	first := send(h, "GET", "http://example.com/a")
	if got := first.Header().Get("Cache-Status"); got != "rediware; fwd=uri-miss; fwd-status=200; stored" {
		t.Fatalf("first Cache-Status = %q", got)
	}
	second := send(h, "GET", "http://example.com/a")
	if o.count() != 1 || second.Body.String() != "hello" || second.Header().Get("Age") == "" {
		t.Fatalf("second: origin %d, body %q, Age %q", o.count(), second.Body.String(), second.Header().Get("Age"))
	}
	if got := second.Header().Get("Cache-Status"); !strings.HasPrefix(got, "rediware; hit; ttl=") {
		t.Fatalf("second Cache-Status = %q", got)
	}
	head := send(h, "HEAD", "http://example.com/a")
	if o.count() != 1 || head.Body.Len() != 0 || head.Header().Get("Content-Length") != "5" {
		t.Fatalf("HEAD: origin %d, body %q, Content-Length %q", o.count(), head.Body.String(), head.Header().Get("Content-Length"))
	}
}

func TestCache_host_and_scheme_are_in_the_key(t *testing.T) {
	s, _ := miniStore(t)
	c := responsecache.New(s, responsecache.Options{})
	h := c.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		io.WriteString(w, r.Host)
	}))
	send(h, "GET", "http://a.example/x")
	if got := send(h, "GET", "http://b.example/x").Body.String(); got != "b.example" {
		t.Fatalf("b.example got %q", got)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "https://a.example/x", nil)) // httptest sets TLS for https

	if !strings.Contains(w.Header().Get("Cache-Status"), "fwd=uri-miss") {
		t.Fatalf("https request was served the http entry: %q", w.Header().Get("Cache-Status"))
	}
}

func TestSecurity_X_Forwarded_Host_cannot_poison_other_clients(t *testing.T) {
	s, _ := realStore(t)
	c := responsecache.New(s, responsecache.Options{})
	// An origin that builds absolute links from X-Forwarded-Host, as many
	// frameworks do.
	h := c.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host := r.Host
		if f := r.Header.Get("X-Forwarded-Host"); f != "" {
			host = f
		}
		w.Header().Set("Cache-Control", "max-age=600")
		io.WriteString(w, `<script src="https://`+host+`/app.js">`)
	}))
	send(h, "GET", "http://shop.example/", "X-Forwarded-Host", "evil.example")
	victim := send(h, "GET", "http://shop.example/")
	if strings.Contains(victim.Body.String(), "evil.example") {
		t.Fatalf("a later client got the attacker's response: %q", victim.Body.String())
	}
}

func TestSecurity_Authorization_response_is_not_stored(t *testing.T) {
	s, _ := realStore(t)
	c := responsecache.New(s, responsecache.Options{})
	o := &origin{}
	o.set(respond(200, "secret for alice", "Cache-Control", "max-age=600"))
	h := c.Handler(o)
	send(h, "GET", "http://example.com/me", "Authorization", "Bearer alice")
	got := send(h, "GET", "http://example.com/me")
	if o.count() != 2 {
		t.Fatalf("the authorised response was reused (%q)", got.Body.String())
	}
}

func TestSecurity_Set_Cookie_response_is_not_stored(t *testing.T) {
	s, _ := realStore(t)
	c := responsecache.New(s, responsecache.Options{})
	o := &origin{}
	o.set(respond(200, "hi", "Cache-Control", "max-age=600", "Set-Cookie", "session=alice"))
	h := c.Handler(o)
	send(h, "GET", "http://example.com/")
	got := send(h, "GET", "http://example.com/")
	if o.count() != 2 || got.Header().Get("Set-Cookie") != "session=alice" {
		t.Fatalf("origin %d times; Set-Cookie %q", o.count(), got.Header().Get("Set-Cookie"))
	}
}

// countingWriter is a client that discards the body and counts it.
type countingWriter struct {
	h http.Header
	n int64
}

func (c *countingWriter) Header() http.Header         { return c.h }
func (c *countingWriter) WriteHeader(int)             {}
func (c *countingWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

func TestSecurity_oversized_body_streams_through_uncached_in_bounded_memory(t *testing.T) {
	s, _ := miniStore(t)
	c := responsecache.New(s, responsecache.Options{MaxObjectSize: 64 << 10})
	const total = 32 << 20
	chunk := make([]byte, 32<<10)
	var calls atomic.Int32
	h := c.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("Cache-Control", "max-age=600")
		for sent := 0; sent < total; sent += len(chunk) {
			w.Write(chunk)
		}
	}))
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	cw := &countingWriter{h: http.Header{}}
	h.ServeHTTP(cw, httptest.NewRequest("GET", "http://example.com/big", nil))
	runtime.ReadMemStats(&after)
	if cw.n != total {
		t.Fatalf("client got %d bytes, want %d", cw.n, total)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 4<<20 {
		t.Fatalf("serving a %d-byte body allocated %d bytes: it was buffered", total, alloc)
	}
	h.ServeHTTP(&countingWriter{h: http.Header{}}, httptest.NewRequest("GET", "http://example.com/big", nil))
	if calls.Load() != 2 {
		t.Fatalf("an oversized response was cached")
	}
}

func TestSecurity_streaming_response_is_flushed_and_not_stored(t *testing.T) {
	s, _ := miniStore(t)
	c := responsecache.New(s, responsecache.Options{})
	var calls atomic.Int32
	release := make(chan struct{})
	h := c.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("Content-Type", "text/event-stream")
		w.Header().Set("Cache-Control", "max-age=600")
		io.WriteString(w, "data: 1\n\n")
		http.NewResponseController(w).Flush()
		<-release
		io.WriteString(w, "data: 2\n\n")
	}))
	srv := httptest.NewServer(h)
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/events")
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 9)
	if _, err := io.ReadFull(resp.Body, buf); err != nil || string(buf) != "data: 1\n\n" {
		t.Fatalf("first event not flushed through: %q %v", buf, err)
	}
	close(release)
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	resp, err = http.Get(srv.URL + "/events")
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if calls.Load() != 2 {
		t.Fatalf("an event stream was cached")
	}
}

func TestFailure_redis_down_passes_to_origin(t *testing.T) {
	s, srv := realStore(t)
	c := responsecache.New(s, responsecache.Options{StoreTimeout: 100 * time.Millisecond})
	o := &origin{}
	o.set(respond(200, "ok", "Cache-Control", "max-age=600"))
	h := c.Handler(o)
	send(h, "GET", "http://example.com/")
	srv.Kill()
	for i := 0; i < 10; i++ {
		w := send(h, "GET", "http://example.com/")
		if w.Code != 200 || w.Body.String() != "ok" {
			t.Fatalf("request %d with Redis down: %d %q", i, w.Code, w.Body.String())
		}
	}
	if o.count() < 2 {
		t.Fatalf("origin asked %d times", o.count())
	}
}

func TestFailure_redis_killed_mid_request_still_answers(t *testing.T) {
	s, srv := realStore(t)
	c := responsecache.New(s, responsecache.Options{StoreTimeout: 100 * time.Millisecond})
	h := c.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		srv.Kill() // Redis dies while the origin is answering
		w.Header().Set("Cache-Control", "max-age=600")
		w.Header().Set("Surrogate-Key", "t1")
		io.WriteString(w, "ok")
	}))
	w := send(h, "GET", "http://example.com/")
	if w.Code != 200 || w.Body.String() != "ok" {
		t.Fatalf("got %d %q", w.Code, w.Body.String())
	}
	srv.Restart()
	w = send(h, "GET", "http://example.com/")
	if w.Code != 200 {
		t.Fatalf("after restart: %d", w.Code)
	}
}

func TestCorrupt_entry_is_a_miss_and_is_deleted(t *testing.T) {
	s, srv := realStore(t)
	rc := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	defer rc.Close()
	c := responsecache.New(s, responsecache.Options{})
	o := &origin{}
	o.set(respond(200, "ok", "Cache-Control", "max-age=600"))
	h := c.Handler(o)
	send(h, "GET", "http://example.com/c")
	keys, err := rc.Keys(context.Background(), "{rc:http://example.com/c}").Result()
	if err != nil || len(keys) != 1 {
		t.Fatalf("keys %v %v", keys, err)
	}
	rc.Set(context.Background(), keys[0], "\xc5\x01\x01garbage", time.Minute)
	w := send(h, "GET", "http://example.com/c")
	if w.Code != 200 || w.Body.String() != "ok" || o.count() != 2 {
		t.Fatalf("corrupt entry: %d %q, origin %d", w.Code, w.Body.String(), o.count())
	}
	if send(h, "GET", "http://example.com/c"); o.count() != 2 {
		t.Fatalf("the replacement entry was not stored")
	}
}

func TestTags_PurgeTag_removes_tagged_entries_and_header_is_stripped(t *testing.T) {
	s, _ := realStore(t)
	c := responsecache.New(s, responsecache.Options{})
	o := &origin{}
	h := c.Handler(o)
	o.set(respond(200, "p1", "Cache-Control", "max-age=600", "Surrogate-Key", "product-1 all"))
	w := send(h, "GET", "http://example.com/p1")
	if w.Header().Get("Surrogate-Key") != "" {
		t.Fatalf("tag header leaked to the client")
	}
	o.set(respond(200, "p2", "Cache-Control", "max-age=600", "Cache-Tag", "product-2,all"))
	send(h, "GET", "http://example.com/p2")
	if err := c.PurgeTag(context.Background(), "product-1"); err != nil {
		t.Fatal(err)
	}
	before := o.count()
	send(h, "GET", "http://example.com/p1")
	send(h, "GET", "http://example.com/p2")
	if o.count() != before+1 {
		t.Fatalf("after PurgeTag(product-1): origin asked %d times, want 1", o.count()-before)
	}
	if err := c.PurgeTag(context.Background(), "all"); err != nil {
		t.Fatal(err)
	}
	before = o.count()
	send(h, "GET", "http://example.com/p2")
	if o.count() != before+1 {
		t.Fatalf("PurgeTag(all) left /p2 cached")
	}
}

func TestTags_AddTags_and_route_tags(t *testing.T) {
	s, _ := realStore(t)
	c := responsecache.New(s, responsecache.Options{})
	var calls atomic.Int32
	h := c.Route(responsecache.Route{Tags: []string{"route"}})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		responsecache.AddTags(r, "user-7")
		w.Header().Set("Cache-Control", "max-age=600")
		io.WriteString(w, "x")
	}))
	send(h, "GET", "http://example.com/u")
	c.PurgeTag(context.Background(), "user-7")
	send(h, "GET", "http://example.com/u")
	c.PurgeTag(context.Background(), "route")
	send(h, "GET", "http://example.com/u")
	if calls.Load() != 3 {
		t.Fatalf("origin asked %d times, want 3", calls.Load())
	}
}

func TestPurge_URL_and_prefix(t *testing.T) {
	s, _ := realStore(t)
	c := responsecache.New(s, responsecache.Options{})
	o := &origin{}
	o.set(respond(200, "x", "Cache-Control", "max-age=600", "Vary", "Accept-Language"))
	h := c.Handler(o)
	for _, p := range []string{"/blog/1", "/blog/2", "/shop/1"} {
		send(h, "GET", "http://example.com"+p, "Accept-Language", "en")
	}
	if err := c.PurgeURL(context.Background(), "http://example.com/shop/1"); err != nil {
		t.Fatal(err)
	}
	if err := c.PurgePrefix(context.Background(), "http://example.com/blog/"); err != nil {
		t.Fatal(err)
	}
	before := o.count()
	for _, p := range []string{"/blog/1", "/blog/2", "/shop/1"} {
		send(h, "GET", "http://example.com"+p, "Accept-Language", "en")
	}
	if o.count() != before+3 {
		t.Fatalf("after purges, origin asked %d times, want 3", o.count()-before)
	}
	if err := c.PurgeURL(context.Background(), "/relative"); !errors.Is(err, responsecache.ErrBadPurge) {
		t.Fatalf("relative URL: %v", err)
	}
}

func TestPurgeHandler_denies_by_default_and_purges_when_authorised(t *testing.T) {
	s, _ := miniStore(t)
	c := responsecache.New(s, responsecache.Options{})
	if w := send(c.PurgeHandler(nil), "POST", "http://example.com/purge?tag=a"); w.Code != http.StatusForbidden {
		t.Fatalf("nil authorize: %d", w.Code)
	}
	ok := c.PurgeHandler(func(r *http.Request) bool { return r.Header.Get("Authorization") == "Bearer t" })
	if w := send(ok, "POST", "http://example.com/purge?tag=a"); w.Code != http.StatusForbidden {
		t.Fatalf("no token: %d", w.Code)
	}
	if w := send(ok, "POST", "http://example.com/purge?tag=a", "Authorization", "Bearer t"); w.Code != http.StatusNoContent {
		t.Fatalf("authorised: %d", w.Code)
	}
	if w := send(ok, "POST", "http://example.com/purge?tag=a&url=http://x/", "Authorization", "Bearer t"); w.Code != http.StatusBadRequest {
		t.Fatalf("two targets: %d", w.Code)
	}
}

func TestStaleWhileRevalidate_refreshes_once_in_background(t *testing.T) {
	s, _ := realStore(t)
	c := responsecache.New(s, responsecache.Options{})
	var calls atomic.Int32
	release := make(chan struct{})
	h := c.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			w.Header().Set("Cache-Control", "max-age=1, stale-while-revalidate=60")
			w.Header().Set("Age", "2") // stale on arrival
			io.WriteString(w, "v1")
			return
		}
		// The background refresh: held until every stale request has been
		// answered, so that none of them can see it finish.
		<-release
		w.Header().Set("Cache-Control", "max-age=600")
		io.WriteString(w, "v2")
	}))
	send(h, "GET", "http://example.com/swr")
	var wg sync.WaitGroup
	for i := 0; i < 10; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := send(h, "GET", "http://example.com/swr")
			if !strings.Contains(w.Header().Get("Cache-Status"), "hit") || w.Body.String() != "v1" {
				t.Errorf("stale request not served from cache: %q %q", w.Header().Get("Cache-Status"), w.Body.String())
			}
		}()
	}
	wg.Wait() // the stale requests did not wait for the refresh
	close(release)
	deadline := time.Now().Add(5 * time.Second)
	for {
		w := send(h, "GET", "http://example.com/swr")
		if w.Body.String() == "v2" {
			if !strings.Contains(w.Header().Get("Cache-Status"), "hit") {
				t.Fatalf("refreshed entry not served from cache: %q", w.Header().Get("Cache-Status"))
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the background refresh was not stored (origin asked %d times)", calls.Load())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if n := calls.Load(); n != 2 {
		t.Fatalf("origin asked %d times, want 2 (one background refresh)", n)
	}
}

func TestRoute_key_functions(t *testing.T) {
	s, _ := miniStore(t)
	c := responsecache.New(s, responsecache.Options{})
	var calls atomic.Int32
	h := c.Route(responsecache.Route{IgnoreQuery: []string{"utm_source"}, KeyHeaders: []string{"X-Tenant"}, DefaultTTL: time.Minute})(
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			calls.Add(1)
			io.WriteString(w, r.Header.Get("X-Tenant"))
		}))
	send(h, "GET", "http://example.com/p?a=1&utm_source=x", "X-Tenant", "t1")
	send(h, "GET", "http://example.com/p?a=1&utm_source=y", "X-Tenant", "t1")
	if calls.Load() != 1 {
		t.Fatalf("ignored query parameter split the entry (DefaultTTL applied?): %d calls", calls.Load())
	}
	if got := send(h, "GET", "http://example.com/p?a=1", "X-Tenant", "t2").Body.String(); got != "t2" || calls.Load() != 2 {
		t.Fatalf("tenant t2 got %q", got)
	}
}

func TestLocalTier_is_invalidated_across_instances(t *testing.T) {
	s, srv := realStore(t)
	s2 := goredis.New(redis.NewClient(&redis.Options{Addr: srv.Addr()}))
	c1 := responsecache.New(s, responsecache.Options{LocalBytes: 1 << 20})
	c2 := responsecache.New(s2, responsecache.Options{LocalBytes: 1 << 20})
	defer c1.Close()
	defer c2.Close()
	waitSubscribed(t, srv.Addr(), 2)
	var version atomic.Int32
	version.Store(1)
	origin := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=600")
		io.WriteString(w, string(rune('0'+version.Load())))
	})
	h1, h2 := c1.Handler(origin), c2.Handler(origin)
	send(h1, "GET", "http://example.com/l")
	if got := send(h2, "GET", "http://example.com/l").Body.String(); got != "1" {
		t.Fatalf("instance 2 got %q", got)
	}
	send(h2, "GET", "http://example.com/l") // now in instance 2's local tier
	version.Store(2)
	if err := c1.PurgeURL(context.Background(), "http://example.com/l"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		got := send(h2, "GET", "http://example.com/l").Body.String()
		if got == "2" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("instance 2 still serves %q after the purge", got)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestCluster_vary_and_tag_purge(t *testing.T) {
	cl := redistest.SharedCluster(t)
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: cl.Addrs()})
	defer cc.Close()
	var st store.Store = goredis.New(cc)
	c := responsecache.New(st, responsecache.Options{})
	o := &origin{}
	o.set(respond(200, "x", "Cache-Control", "max-age=600", "Vary", "Accept-Encoding", "Surrogate-Key", "k"))
	h := c.Handler(o)
	for i := 0; i < 5; i++ {
		p := "http://example.com/n" + string(rune('0'+i))
		send(h, "GET", p, "Accept-Encoding", "gzip")
		send(h, "GET", p, "Accept-Encoding", "gzip")
	}
	if o.count() != 5 {
		t.Fatalf("origin asked %d times, want 5", o.count())
	}
	if err := c.PurgeTag(context.Background(), "k"); err != nil {
		t.Fatal(err)
	}
	send(h, "GET", "http://example.com/n0", "Accept-Encoding", "gzip")
	if o.count() != 6 {
		t.Fatalf("tag purge on Cluster left entries")
	}
	for i := 1; i < 5; i++ {
		send(h, "GET", "http://example.com/n"+string(rune('0'+i)), "Accept-Encoding", "gzip")
	}
	if err := c.PurgePrefix(context.Background(), "http://example.com/n"); err != nil {
		t.Fatal(err)
	}
	before := o.count()
	for i := 0; i < 5; i++ {
		send(h, "GET", "http://example.com/n"+string(rune('0'+i)), "Accept-Encoding", "gzip")
	}
	if o.count() != before+5 {
		t.Fatalf("prefix purge on Cluster left %d entries", 5-(o.count()-before))
	}
}

func TestTags_large_tag_set_is_pruned_of_expired_members(t *testing.T) {
	s, srv := realStore(t)
	rc := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	defer rc.Close()
	ctx := context.Background()
	members := make([]any, 2047)
	for i := range members {
		members[i] = "{rc:http://example.com/gone" + string(rune('a'+i%26)) + "}" + strings.Repeat("x", i%50) + ":" + time.Now().String() + string(rune(i))
	}
	if err := rc.SAdd(ctx, "{rc:tag:big}", members...).Err(); err != nil {
		t.Fatal(err)
	}
	c := responsecache.New(s, responsecache.Options{})
	o := &origin{}
	o.set(respond(200, "x", "Cache-Control", "max-age=600", "Surrogate-Key", "big"))
	send(c.Handler(o), "GET", "http://example.com/live")
	deadline := time.Now().Add(3 * time.Second)
	for {
		n, _ := rc.SCard(ctx, "{rc:tag:big}").Result()
		if n < 2048 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("tag set still has %d members", n)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if ok, _ := rc.SIsMember(ctx, "{rc:tag:big}", "{rc:http://example.com/live}").Result(); !ok {
		t.Fatal("the live member was pruned")
	}
}

func TestCoalescing_across_instances_with_lock(t *testing.T) {
	s, srv := realStore(t)
	s2 := goredis.New(redis.NewClient(&redis.Options{Addr: srv.Addr()}))
	// The lock outlives the fill by far even under -race on a loaded
	// machine; a late request then polls for the entry instead of fetching.
	opts := responsecache.Options{CrossInstanceLock: true, LockTTL: 10 * time.Second}
	c1, c2 := responsecache.New(s, opts), responsecache.New(s2, opts)
	var calls atomic.Int32
	origin := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		time.Sleep(150 * time.Millisecond)
		w.Header().Set("Cache-Control", "max-age=600")
		io.WriteString(w, "filled")
	})
	hs := []http.Handler{c1.Handler(origin), c2.Handler(origin)}
	var wg sync.WaitGroup
	for i := 0; i < 6; i++ {
		wg.Add(1)
		go func(h http.Handler) {
			defer wg.Done()
			if w := send(h, "GET", "http://example.com/x"); w.Body.String() != "filled" {
				t.Errorf("body %q", w.Body.String())
			}
		}(hs[i%2])
	}
	wg.Wait()
	if calls.Load() != 1 {
		t.Fatalf("origin asked %d times across two instances, want 1", calls.Load())
	}
}

func TestRoute_on_chi(t *testing.T) {
	s, _ := miniStore(t)
	c := responsecache.New(s, responsecache.Options{})
	var calls atomic.Int32
	r := chi.NewRouter()
	r.With(c.Route(responsecache.Route{DefaultTTL: time.Minute})).Get("/items/{id}", func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		io.WriteString(w, chi.URLParam(r, "id"))
	})
	r.Post("/items/{id}", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	send(r, "GET", "http://example.com/items/7")
	if got := send(r, "GET", "http://example.com/items/7"); got.Body.String() != "7" || calls.Load() != 1 {
		t.Fatalf("chi route not cached: %q, %d calls", got.Body.String(), calls.Load())
	}
}

func TestCacheStatus_name_is_a_valid_structured_field(t *testing.T) {
	s, _ := miniStore(t)
	for name, want := range map[string]string{"edge-1": "edge-1; ", "my cache": `"my cache"; `, `a"b`: `"a\"b"; `} {
		c := responsecache.New(s, responsecache.Options{Name: name, KeyPrefix: "n" + strings.ReplaceAll(name, " ", "")})
		w := send(c.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})), "GET", "http://example.com/")
		if got := w.Header().Get("Cache-Status"); !strings.HasPrefix(got, want) {
			t.Errorf("name %q: Cache-Status %q, want prefix %q", name, got, want)
		}
	}
}

func TestFailure_redis_down_is_reported_in_Cache_Status(t *testing.T) {
	s, srv := realStore(t)
	c := responsecache.New(s, responsecache.Options{StoreTimeout: 100 * time.Millisecond})
	srv.Kill()
	w := send(c.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })), "GET", "http://example.com/")
	if w.Code != 200 || w.Header().Get("Cache-Status") != `rediware; fwd=miss; detail="store-unavailable"` {
		t.Fatalf("got %d, Cache-Status %q", w.Code, w.Header().Get("Cache-Status"))
	}
}

func TestOriginUnreachable_serves_stale_where_allowed(t *testing.T) {
	s, _ := miniStore(t)
	c := responsecache.New(s, responsecache.Options{})
	var down atomic.Bool
	var cc atomic.Value
	cc.Store("max-age=1")
	h := c.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if down.Load() {
			responsecache.OriginUnreachable(r)
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		w.Header().Set("Cache-Control", cc.Load().(string))
		w.Header().Set("Age", "2")
		io.WriteString(w, "stale but fine")
	}))
	send(h, "GET", "http://example.com/a")
	cc.Store("max-age=1, must-revalidate")
	send(h, "GET", "http://example.com/b")
	down.Store(true)
	if w := send(h, "GET", "http://example.com/a"); w.Code != 200 || w.Body.String() != "stale but fine" {
		t.Fatalf("stale not served while the origin is down: %d %q", w.Code, w.Body.String())
	}
	if w := send(h, "GET", "http://example.com/b"); w.Code != http.StatusBadGateway {
		t.Fatalf("must-revalidate entry served stale: %d", w.Code)
	}
}

func TestLocalTier_is_flushed_when_the_subscription_reconnects(t *testing.T) {
	s, srv := realStore(t)
	c := responsecache.New(s, responsecache.Options{LocalBytes: 1 << 20, StoreTimeout: 100 * time.Millisecond})
	defer c.Close()
	waitSubscribed(t, srv.Addr(), 1)
	var calls atomic.Int32
	h := c.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("Cache-Control", "max-age=600")
		io.WriteString(w, "v")
	}))
	rc := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	defer rc.Close()
	// Fill the local tier, then remove the entry behind the cache's back
	// (no invalidation message): only the local tier can still answer.
	// The tier turns on just after the subscription is confirmed, so a
	// fill may have to be repeated.
	deadline := time.Now().Add(5 * time.Second)
	for {
		send(h, "GET", "http://example.com/r")
		send(h, "GET", "http://example.com/r") // filled into the local tier
		rc.FlushAll(context.Background())
		before := calls.Load()
		if send(h, "GET", "http://example.com/r"); calls.Load() == before {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the local tier did not hold the entry")
		}
		time.Sleep(20 * time.Millisecond)
	}
	srv.Restart() // the subscription reconnects
	deadline = time.Now().Add(5 * time.Second)
	for {
		before := calls.Load()
		send(h, "GET", "http://example.com/r")
		if calls.Load() > before {
			break // the local copy is gone: the request reached the origin
		}
		if time.Now().After(deadline) {
			t.Fatal("the local tier kept serving an entry after its subscription reconnected")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitSubscribed waits until n clients are subscribed to the cache's
// invalidation channel on the server at addr.
func waitSubscribed(t *testing.T, addr string, n int64) {
	t.Helper()
	rc := redis.NewClient(&redis.Options{Addr: addr})
	defer rc.Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		m, _ := rc.PubSubNumSub(context.Background(), "rc:invalidate").Result()
		if m["rc:invalidate"] >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d invalidation subscribers, want %d", m["rc:invalidate"], n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestTrustForwarded_keys_on_the_forwarded_host(t *testing.T) {
	s, _ := miniStore(t)
	c := responsecache.New(s, responsecache.Options{TrustForwarded: true})
	h := c.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=600")
		io.WriteString(w, r.Header.Get("X-Forwarded-Host"))
	}))
	send(h, "GET", "http://lb.internal/", "X-Forwarded-Host", "a.example")
	if got := send(h, "GET", "http://lb.internal/", "X-Forwarded-Host", "b.example").Body.String(); got != "b.example" {
		t.Fatalf("b.example got %q", got)
	}
	if got := send(h, "GET", "http://lb.internal/", "X-Forwarded-Host", "a.example"); !strings.Contains(got.Header().Get("Cache-Status"), "hit") {
		t.Fatalf("a.example not served from cache: %q", got.Header().Get("Cache-Status"))
	}
}

func TestTags_purge_during_fetch_does_not_leave_the_new_entry(t *testing.T) {
	s, _ := realStore(t)
	c := responsecache.New(s, responsecache.Options{})
	var calls atomic.Int32
	h := c.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			// A purge of the tag lands while this response is being
			// produced, before it is stored and indexed.
			if err := c.PurgeTag(context.Background(), "race"); err != nil {
				t.Error(err)
			}
		}
		w.Header().Set("Cache-Control", "max-age=600")
		w.Header().Set("Surrogate-Key", "race")
		io.WriteString(w, "x")
	}))
	send(h, "GET", "http://example.com/race")
	send(h, "GET", "http://example.com/race")
	if calls.Load() != 2 {
		t.Fatal("a response fetched across a purge of its tag survived the purge")
	}
	send(h, "GET", "http://example.com/race")
	if calls.Load() != 2 {
		t.Fatal("a response fetched after the purge was not stored")
	}
}

func TestSecurity_TrustForwarded_still_keys_the_other_unkeyed_headers(t *testing.T) {
	s, _ := miniStore(t)
	c := responsecache.New(s, responsecache.Options{TrustForwarded: true})
	// An origin that routes by X-Original-URL and builds links from
	// X-Forwarded-Prefix, as some frameworks do. The trusted proxy sets
	// X-Forwarded-Host and -Proto, but passes the other fields on.
	h := c.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		path := r.URL.Path
		if u := r.Header.Get("X-Original-URL"); u != "" {
			path = u
		}
		w.Header().Set("Cache-Control", "max-age=600")
		io.WriteString(w, r.Header.Get("X-Forwarded-Prefix")+path)
	}))
	for _, attack := range [][]string{
		{"X-Original-URL", "/admin"},
		{"X-Forwarded-Prefix", "//evil.example"},
		{"X-HTTP-Method-Override", "DELETE"},
		{"Forwarded", "host=evil.example"},
	} {
		target := "http://lb.internal/page-" + strings.ToLower(attack[0])
		send(h, "GET", target, "X-Forwarded-Host", "shop.example", attack[0], attack[1])
		victim := send(h, "GET", target, "X-Forwarded-Host", "shop.example")
		if !strings.Contains(victim.Header().Get("Cache-Status"), "fwd=uri-miss") {
			t.Errorf("%s: a later client was served the attacker's entry: %q (%s)", attack[0], victim.Body.String(), victim.Header().Get("Cache-Status"))
		}
	}
}

func TestVary_Accept_Encoding_never_serves_a_coding_the_client_did_not_accept(t *testing.T) {
	s, _ := miniStore(t)
	c := responsecache.New(s, responsecache.Options{})
	// The origin picks the best coding it knows among those accepted.
	h := c.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ae := r.Header.Get("Accept-Encoding")
		w.Header().Set("Cache-Control", "max-age=600")
		w.Header().Set("Vary", "Accept-Encoding")
		for _, coding := range []string{"zstd", "br", "deflate", "gzip"} {
			if strings.Contains(ae, coding) {
				w.Header().Set("Content-Encoding", coding)
				break
			}
		}
		io.WriteString(w, "x")
	}))
	for _, tc := range []struct{ stored, later, refused string }{
		{"gzip, deflate, br, zstd", "gzip, deflate, br", "zstd"}, // Chrome, then Safari
		{"deflate", "", "deflate"},
	} {
		path := "http://example.com/ae/" + strings.NewReplacer(" ", "", ",", "_").Replace(tc.stored)
		send(h, "GET", path, "Accept-Encoding", tc.stored)
		got := send(h, "GET", path, "Accept-Encoding", tc.later)
		if tc.refused != "" && got.Header().Get("Content-Encoding") == tc.refused {
			t.Errorf("Accept-Encoding %q was served the %s response stored for %q (%s)", tc.later, tc.refused, tc.stored, got.Header().Get("Cache-Status"))
		}
	}
	// Spellings of the same set still share one variant.
	send(h, "GET", "http://example.com/ae/same", "Accept-Encoding", "gzip, br")
	if got := send(h, "GET", "http://example.com/ae/same", "Accept-Encoding", "br;q=1.0,GZIP"); !strings.Contains(got.Header().Get("Cache-Status"), "hit") {
		t.Errorf("a respelling of the same Accept-Encoding missed: %q", got.Header().Get("Cache-Status"))
	}
}

func TestVary_missing_and_empty_fields_are_distinct_variants_that_coexist(t *testing.T) {
	s, _ := miniStore(t)
	c := responsecache.New(s, responsecache.Options{})
	o := &origin{}
	o.set(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=600")
		w.Header().Set("Vary", "X-A, X-B")
		_, hasA := r.Header["X-A"]
		_, hasB := r.Header["X-B"]
		io.WriteString(w, strconv.FormatBool(hasA)+","+strconv.FormatBool(hasB))
	})
	h := c.Handler(o)
	req := func(kv ...string) *httptest.ResponseRecorder {
		r := httptest.NewRequest("GET", "http://example.com/vary-empty", nil)
		for i := 0; i+1 < len(kv); i += 2 {
			r.Header[kv[i]] = []string{kv[i+1]}
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	req("X-B", "") // X-A missing, X-B empty
	req("X-A", "") // X-A empty, X-B missing
	if w := req("X-A", ""); w.Body.String() != "true,false" || !strings.Contains(w.Header().Get("Cache-Status"), "hit") {
		t.Fatalf("X-A empty: %q %q", w.Body.String(), w.Header().Get("Cache-Status"))
	}
	if w := req("X-B", ""); w.Body.String() != "false,true" || !strings.Contains(w.Header().Get("Cache-Status"), "hit") {
		t.Fatalf("X-B empty: %q %q (one variant replaced the other)", w.Body.String(), w.Header().Get("Cache-Status"))
	}
	if w := req(); w.Body.String() != "false,false" {
		t.Fatalf("both missing got %q", w.Body.String())
	}
	if o.count() != 3 {
		t.Fatalf("origin asked %d times, want 3", o.count())
	}
}

func TestCoalescing_across_instances_stops_waiting_when_the_lock_holder_stores_nothing(t *testing.T) {
	s, srv := realStore(t)
	s2 := goredis.New(redis.NewClient(&redis.Options{Addr: srv.Addr()}))
	// Waits bounded only by a minute: without noticing the released lock,
	// the second instance would poll that long for an entry that never
	// comes.
	opts := responsecache.Options{CrossInstanceLock: true, LockTTL: time.Minute, CoalesceWait: time.Minute}
	c1, c2 := responsecache.New(s, opts), responsecache.New(s2, opts)
	var calls atomic.Int32
	entered := make(chan struct{}, 2)
	release := make(chan struct{})
	origin := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		entered <- struct{}{}
		<-release
		w.Header().Set("Cache-Control", "private, max-age=600")
		io.WriteString(w, "mine")
	})
	// Real servers, so that each request's context ends with it and the
	// lock holder releases the lock.
	srv1, srv2 := httptest.NewServer(c1.Handler(origin)), httptest.NewServer(c2.Handler(origin))
	defer srv1.Close()
	defer srv2.Close()
	get := func(base string, done chan<- string) {
		req, _ := http.NewRequest("GET", base+"/private", nil)
		req.Host = "shared.example" // one key on both instances
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			done <- err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		done <- string(b)
	}
	done1, done2 := make(chan string, 1), make(chan string, 1)
	go get(srv1.URL, done1)
	<-entered // instance 1 holds the lock and is at the origin
	rc := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	defer rc.Close()
	base := getCalls(t, rc)
	go get(srv2.URL, done2)
	// Instance 2 found the lock taken and polls once it has made its
	// lookup GET and a poll round's GETs of the lock and the entry.
	deadline := time.Now().Add(10 * time.Second)
	for getCalls(t, rc) < base+3 {
		if time.Now().After(deadline) {
			t.Fatal("instance 2 did not start polling")
		}
		time.Sleep(5 * time.Millisecond)
	}
	close(release)
	if got := <-done1; got != "mine" {
		t.Fatalf("instance 1 got %q", got)
	}
	select {
	case got := <-done2:
		if got != "mine" || calls.Load() != 2 {
			t.Fatalf("instance 2 got %q, origin asked %d times", got, calls.Load())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("instance 2 still waiting 20s after the lock holder finished without storing")
	}
}

// getCalls returns how many GET commands the server has run.
func getCalls(t *testing.T, rc *redis.Client) int64 {
	t.Helper()
	info, err := rc.Info(context.Background(), "commandstats").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(info, "\n") {
		if rest, ok := strings.CutPrefix(line, "cmdstat_get:calls="); ok {
			n, _ := strconv.ParseInt(rest[:strings.IndexByte(rest, ',')], 10, 64)
			return n
		}
	}
	return 0
}

// countingStore counts the commands a Cache sends through it.
type countingStore struct {
	store.Store
	gets, sets atomic.Int64
}

func (s *countingStore) Get(ctx context.Context, key string) ([]byte, bool, error) {
	s.gets.Add(1)
	return s.Store.Get(ctx, key)
}

func (s *countingStore) Set(ctx context.Context, key string, v []byte, ttl time.Duration) error {
	s.sets.Add(1)
	return s.Store.Set(ctx, key, v, ttl)
}

// untilLocalHolds repeats requests until one round of them sends no GET to
// Redis: until the local tier holds what they read. It fails the test
// after 5s.
func untilLocalHolds(t *testing.T, cs *countingStore, what string, requests func()) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		before := cs.gets.Load()
		requests()
		if cs.gets.Load() == before {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the local tier never held " + what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestLocalTier_hit_sends_nothing_to_Redis(t *testing.T) {
	s, srv := realStore(t)
	cs := &countingStore{Store: s}
	c := responsecache.New(cs, responsecache.Options{LocalBytes: 1 << 20})
	defer c.Close()
	waitSubscribed(t, srv.Addr(), 1)
	o := &origin{}
	h := c.Handler(o)
	for _, tc := range []struct {
		name, path string
		kv         []string // origin header fields
		req        []string // request header fields
	}{
		{"plain", "/a", []string{"Cache-Control", "max-age=600"}, nil},
		{"request fields", "/b?q=1", []string{"Cache-Control", "max-age=600"}, []string{"Accept", "*/*", "User-Agent", "t", "Accept-Encoding", "gzip"}},
		{"vary", "/c", []string{"Cache-Control", "max-age=600", "Vary", "Accept-Encoding"}, []string{"Accept-Encoding", "gzip"}},
		{"escaped path", "/d%7Bx%7D", []string{"Cache-Control", "max-age=600"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o.set(respond(200, "body", tc.kv...))
			url := "http://example.com" + tc.path
			send(h, "GET", url, tc.req...) // miss: stored
			// A hit from Redis fills the local tier (once its subscription
			// is live, just after the server reports it: maybe retry).
			untilLocalHolds(t, cs, "the entry", func() { send(h, "GET", url, tc.req...) })
			gets, sets, calls := cs.gets.Load(), cs.sets.Load(), o.count()
			for range 3 {
				w := send(h, "GET", url, tc.req...)
				if cs := w.Header().Get("Cache-Status"); !strings.Contains(cs, "hit") || w.Body.String() != "body" || w.Header().Get("Age") == "" {
					t.Fatalf("not a hit: %q %q", cs, w.Body.String())
				}
			}
			if g, s := cs.gets.Load()-gets, cs.sets.Load()-sets; g != 0 || s != 0 || o.count() != calls {
				t.Fatalf("local-tier hits sent %d GET and %d SET to Redis, %d requests to the origin", g, s, o.count()-calls)
			}
		})
	}
}

func TestLocalTier_Vary_hits_serve_each_request_its_own_variant(t *testing.T) {
	s, srv := realStore(t)
	cs := &countingStore{Store: s}
	c := responsecache.New(cs, responsecache.Options{LocalBytes: 1 << 20})
	defer c.Close()
	waitSubscribed(t, srv.Addr(), 1)
	h := c.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=600")
		w.Header().Set("Vary", "Accept-Encoding, X-Lang")
		io.WriteString(w, "ae="+r.Header.Get("Accept-Encoding")+" lang="+strings.Join(r.Header.Values("X-Lang"), "|"))
	}))
	const url = "http://example.com/v"
	cases := []struct {
		req  []string
		want string // body: the first spelling of the variant that was stored
	}{
		{[]string{"Accept-Encoding", "gzip, br"}, "ae=gzip, br lang="},
		{[]string{"Accept-Encoding", "br,gzip"}, "ae=gzip, br lang="}, // same set of codings
		{[]string{"Accept-Encoding", "gzip"}, "ae=gzip lang="},
		{nil, "ae= lang="},
		{[]string{"Accept-Encoding", "gzip", "X-Lang", "de"}, "ae=gzip lang=de"},
		{[]string{"Accept-Encoding", "gzip", "X-Lang", "de", "X-Lang", "en"}, "ae=gzip lang=de|en"},
		{[]string{"Accept-Encoding", "gzip", "X-Lang", "de, en"}, "ae=gzip lang=de|en"}, // lines combined
		{[]string{"Accept-Encoding", "gzip", "X-Lang", ""}, "ae=gzip lang="},
	}
	// Store every variant, then read each until it comes from the local
	// tier.
	for _, tc := range cases {
		send(h, "GET", url, tc.req...)
	}
	untilLocalHolds(t, cs, "every variant", func() {
		for _, tc := range cases {
			send(h, "GET", url, tc.req...)
		}
	})
	gets := cs.gets.Load()
	for round := range 3 {
		for i, tc := range cases {
			w := send(h, "GET", url, tc.req...)
			if !strings.Contains(w.Header().Get("Cache-Status"), "hit") || w.Body.String() != tc.want {
				t.Fatalf("round %d case %d %q: %q %q, want %q", round, i, tc.req, w.Header().Get("Cache-Status"), w.Body.String(), tc.want)
			}
		}
	}
	if n := cs.gets.Load() - gets; n != 0 {
		t.Fatalf("local-tier Vary hits sent %d GETs to Redis", n)
	}
}

func TestRedisHit_serves_the_stored_bytes_after_another_instance_replaced_them(t *testing.T) {
	s, _ := realStore(t)
	a := responsecache.New(s, responsecache.Options{})
	b := responsecache.New(s, responsecache.Options{})
	var version atomic.Int32
	version.Store(1)
	origin := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=600")
		io.WriteString(w, "v"+strconv.Itoa(int(version.Load())))
	})
	ha, hb := a.Handler(origin), b.Handler(origin)
	const url = "http://example.com/replaced"
	send(ha, "GET", url)
	for range 3 { // hits from Redis, the same bytes each time
		if got := send(ha, "GET", url).Body.String(); got != "v1" {
			t.Fatalf("A got %q, want v1", got)
		}
	}
	for v := int32(2); v <= 3; v++ {
		version.Store(v)
		if err := b.PurgeURL(context.Background(), url); err != nil {
			t.Fatal(err)
		}
		send(hb, "GET", url) // B stores the new version
		want := "v" + strconv.Itoa(int(v))
		if w := send(ha, "GET", url); w.Body.String() != want || !strings.Contains(w.Header().Get("Cache-Status"), "hit") {
			t.Fatalf("A got %q (%s), want the hit %q that B stored", w.Body.String(), w.Header().Get("Cache-Status"), want)
		}
	}
}

func TestHit_honours_Range_and_If_None_Match_however_many_request_fields(t *testing.T) {
	// The hit path scans a small request header once for the fields it
	// needs, and looks them up one by one in a large one: both must find
	// the preconditions and Range.
	for _, filler := range []int{0, 3, 40} {
		t.Run(strconv.Itoa(filler)+"_other_fields", func(t *testing.T) {
			s, _ := miniStore(t)
			c := responsecache.New(s, responsecache.Options{})
			o := &origin{}
			o.set(respond(http.StatusOK, "0123456789", "Cache-Control", "max-age=600", "ETag", `"v1"`))
			h := c.Handler(o)
			var extra []string
			for i := range filler {
				extra = append(extra, "X-Filler-"+strconv.Itoa(i), "x")
			}
			send(h, "GET", "http://example.com/f", extra...)
			got := send(h, "GET", "http://example.com/f", append([]string{"Range", "bytes=2-4"}, extra...)...)
			if got.Code != http.StatusPartialContent || got.Body.String() != "234" || got.Header().Get("Content-Range") != "bytes 2-4/10" {
				t.Fatalf("Range on a hit: %d %q %q", got.Code, got.Body.String(), got.Header().Get("Content-Range"))
			}
			got = send(h, "GET", "http://example.com/f", append([]string{"If-None-Match", `"v1"`}, extra...)...)
			if got.Code != http.StatusNotModified || got.Body.Len() != 0 {
				t.Fatalf("If-None-Match on a hit: %d %q", got.Code, got.Body.String())
			}
			got = send(h, "GET", "http://example.com/f", extra...)
			if got.Code != http.StatusOK || got.Body.String() != "0123456789" || got.Header().Get("Content-Length") != "10" {
				t.Fatalf("plain hit: %d %q %q", got.Code, got.Body.String(), got.Header().Get("Content-Length"))
			}
			if o.count() != 1 {
				t.Fatalf("origin asked %d times, want 1 (every request after the first is a hit)", o.count())
			}
		})
	}
}
