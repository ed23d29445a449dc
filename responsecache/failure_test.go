package responsecache_test

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
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

func TestSecurity_absolute_form_request_target_cannot_poison_the_Host_entry(t *testing.T) {
	s, _ := miniStore(t)
	c := responsecache.New(s, responsecache.Options{})
	srv := httptest.NewServer(c.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=600")
		io.WriteString(w, `<a href="http://`+r.Host+`/">`)
	})))
	t.Cleanup(srv.Close)
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	br := bufio.NewReader(conn)
	do := func(raw string) string {
		t.Helper()
		if _, err := io.WriteString(conn, raw); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return string(b)
	}
	// The attacker's absolute-form target names another host than Host.
	if got := do("GET http://evil.example/x HTTP/1.1\r\nHost: shop.example\r\n\r\n"); !strings.Contains(got, "evil") {
		t.Fatalf("the origin did not see the attacker's host (%q): the test proves nothing", got)
	}
	for _, host := range []string{"shop.example", "SHOP.example", "shop.example:80"} {
		if got := do("GET /x HTTP/1.1\r\nHost: " + host + "\r\n\r\n"); strings.Contains(got, "evil") {
			t.Fatalf("Host %s was served the attacker's entry: %q", host, got)
		}
	}
}

func TestNew_and_Route_do_not_write_into_the_callers_slices(t *testing.T) {
	s, _ := miniStore(t)
	tags := []string{"surrogate-key"}
	c := responsecache.New(s, responsecache.Options{TagHeaders: tags})
	hdrs := []string{"x-tenant"}
	c.Route(responsecache.Route{KeyHeaders: hdrs})
	if tags[0] != "surrogate-key" || hdrs[0] != "x-tenant" {
		t.Fatalf("caller's slices rewritten: %q %q", tags, hdrs)
	}
}

func TestSecurity_non_ASCII_Host_is_not_folded_onto_an_ASCII_host(t *testing.T) {
	s, _ := miniStore(t)
	c := responsecache.New(s, responsecache.Options{})
	h := c.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=600")
		io.WriteString(w, r.Host)
	}))
	// U+212A KELVIN SIGN lowercases to an ASCII "k" with strings.ToLower.
	// net/http's servers reject such a Host, but the middleware may sit
	// behind other front ends.
	r := httptest.NewRequest("GET", "http://key.example/", nil)
	r.Host = "\u212Aey.example"
	h.ServeHTTP(httptest.NewRecorder(), r)
	if got := send(h, "GET", "http://key.example/").Body.String(); got != "key.example" {
		t.Fatalf("key.example was served %q", got)
	}
}

func TestSecurity_Set_Cookie_on_a_304_is_not_stored_by_default(t *testing.T) {
	s, _ := miniStore(t)
	c := responsecache.New(s, responsecache.Options{})
	o := &origin{}
	o.set(respond(200, "page", "Cache-Control", "max-age=0", "ETag", `"v1"`))
	h := c.Handler(o)
	send(h, "GET", "http://example.com/p")
	o.set(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("If-None-Match") != `"v1"` {
			t.Errorf("revalidation without the stored validator: %q", r.Header.Get("If-None-Match"))
		}
		w.Header().Set("Cache-Control", "max-age=600")
		w.Header().Set("Set-Cookie", "session=alice")
		w.WriteHeader(http.StatusNotModified)
	})
	if got := send(h, "GET", "http://example.com/p"); got.Header().Get("Set-Cookie") != "session=alice" || got.Body.String() != "page" {
		t.Fatalf("revalidating client: Set-Cookie %q, body %q", got.Header().Get("Set-Cookie"), got.Body.String())
	}
	got := send(h, "GET", "http://example.com/p")
	if !strings.Contains(got.Header().Get("Cache-Status"), "hit") {
		t.Fatalf("the 304's update was not stored: %q", got.Header().Get("Cache-Status"))
	}
	if sc := got.Header().Values("Set-Cookie"); len(sc) != 0 {
		t.Fatalf("another client got the cookie from the 304: %q", sc)
	}
}

func TestSecurity_GET_with_a_body_cannot_poison_the_entry(t *testing.T) {
	s, _ := miniStore(t)
	c := responsecache.New(s, responsecache.Options{})
	// An origin that reads parameters from the body of a GET ("fat GET"),
	// as some frameworks do; the body is not part of the key.
	h := c.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("Cache-Control", "max-age=600")
		io.WriteString(w, "callback="+string(b))
	}))
	for _, chunked := range []bool{false, true} {
		target := "http://example.com/fat-get?chunked=" + strconv.FormatBool(chunked)
		r := httptest.NewRequest("GET", target, strings.NewReader("evil"))
		if chunked {
			r.ContentLength = -1
		}
		h.ServeHTTP(httptest.NewRecorder(), r)
		if got := send(h, "GET", target).Body.String(); got != "callback=" {
			t.Fatalf("chunked=%v: a later client got %q", chunked, got)
		}
	}
}
