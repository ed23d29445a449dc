package responsecache_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rediware/rediware/responsecache"
)

func TestSecurity_malformed_private_directive_is_still_private(t *testing.T) {
	for _, cc := range []string{"private; max-age=600", "no-store;", "public, no-store ;x", `private x`} {
		t.Run(cc, func(t *testing.T) {
			s, _ := miniStore(t)
			c := responsecache.New(s, responsecache.Options{DefaultTTL: time.Minute})
			o := &origin{}
			o.set(respond(200, "alice's page", "Cache-Control", cc))
			h := c.Handler(o)
			send(h, "GET", "http://example.com/me")
			send(h, "GET", "http://example.com/me")
			if o.count() != 2 {
				t.Fatalf("Cache-Control %q: the response was stored and served again", cc)
			}
		})
	}
}

func TestRobustness_handler_cut_short_by_client_disconnect_is_not_stored(t *testing.T) {
	s, _ := miniStore(t)
	c := responsecache.New(s, responsecache.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	o := &origin{}
	o.set(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=600")
		io.WriteString(w, "part one;")
		cancel() // the client goes away mid-response
		if r.Context().Err() != nil {
			return // and the handler stops producing
		}
		io.WriteString(w, " part two")
	})
	h := c.Handler(o)
	r := httptest.NewRequest("GET", "http://example.com/doc", nil).WithContext(ctx)
	h.ServeHTTP(httptest.NewRecorder(), r)
	got := send(h, "GET", "http://example.com/doc")
	if got.Body.String() != "part one; part two" {
		t.Fatalf("body %q: a response truncated by a client disconnect was stored", got.Body.String())
	}
}

func TestRobustness_hijacked_response_is_not_stored(t *testing.T) {
	s, _ := miniStore(t)
	c := responsecache.New(s, responsecache.Options{DefaultTTL: time.Minute})
	o := &origin{}
	o.set(func(w http.ResponseWriter, r *http.Request) {
		conn, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Errorf("hijack: %v", err)
			return
		}
		io.WriteString(conn, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nraw")
		conn.Close()
	})
	srv := httptest.NewServer(c.Handler(o))
	defer srv.Close()
	for i := 0; i < 2; i++ {
		resp, err := http.Get(srv.URL + "/raw")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != "raw" {
			t.Fatalf("request %d: body %q, Cache-Status %q", i, b, resp.Header.Get("Cache-Status"))
		}
	}
	if o.count() != 2 {
		t.Fatalf("origin %d times: an empty response was stored for a hijacked connection", o.count())
	}
}

func TestRobustness_handler_panic_mid_body_stores_nothing(t *testing.T) {
	s, _ := miniStore(t)
	c := responsecache.New(s, responsecache.Options{})
	o := &origin{}
	o.set(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=600")
		io.WriteString(w, "half")
		panic(http.ErrAbortHandler)
	})
	h := c.Handler(o)
	for i := 0; i < 2; i++ {
		func() {
			defer func() {
				if v := recover(); v != http.ErrAbortHandler {
					t.Fatalf("request %d: recovered %v, want the handler's panic", i, v)
				}
			}()
			send(h, "GET", "http://example.com/p")
		}()
	}
	if o.count() != 2 {
		t.Fatalf("origin %d times: the body of a panicking handler was stored", o.count())
	}
}

func TestSecurity_non_canonical_response_header_keys_are_honoured(t *testing.T) {
	for _, kv := range [][2]string{{"set-cookie", "session=alice"}, {"cache-control", "private"}, {"CACHE-CONTROL", "no-store"}, {"vary", "*"}} {
		t.Run(kv[0]+": "+kv[1], func(t *testing.T) {
			s, _ := miniStore(t)
			c := responsecache.New(s, responsecache.Options{DefaultTTL: time.Minute})
			o := &origin{}
			o.set(func(w http.ResponseWriter, r *http.Request) {
				w.Header()[kv[0]] = []string{kv[1]} // written to the wire as it is
				io.WriteString(w, "alice's page")
			})
			h := c.Handler(o)
			first := send(h, "GET", "http://example.com/me")
			send(h, "GET", "http://example.com/me")
			if o.count() != 2 {
				t.Fatalf("a response with %s: %s set under a non-canonical key was stored", kv[0], kv[1])
			}
			var got []string
			for k, vs := range first.Header() {
				if strings.EqualFold(k, kv[0]) {
					got = append(got, vs...)
				}
			}
			if len(got) != 1 || got[0] != kv[1] {
				t.Fatalf("client got %s %q, want %q", kv[0], got, kv[1])
			}
		})
	}
}

func TestSecurity_DefaultTTL_does_not_store_an_error_an_unkeyed_header_caused(t *testing.T) {
	s, _ := miniStore(t)
	c := responsecache.New(s, responsecache.Options{DefaultTTL: time.Minute})
	o := &origin{}
	o.set(func(w http.ResponseWriter, r *http.Request) {
		if len(r.Header.Get("X-Junk")) > 16 {
			http.Error(w, "request header too large", http.StatusBadRequest)
			return
		}
		io.WriteString(w, "page")
	})
	h := c.Handler(o)
	send(h, "GET", "http://example.com/p", "X-Junk", strings.Repeat("x", 64)) // the attacker's request
	if got := send(h, "GET", "http://example.com/p"); got.Code != http.StatusOK || got.Body.String() != "page" {
		t.Fatalf("the next client got %d %q (Cache-Status %q): a 400 was stored under DefaultTTL",
			got.Code, got.Body.String(), got.Header().Get("Cache-Status"))
	}
}

func TestDefaultTTL_applies_to_heuristically_cacheable_statuses(t *testing.T) {
	s, _ := miniStore(t)
	c := responsecache.New(s, responsecache.Options{DefaultTTL: time.Minute})
	o := &origin{}
	o.set(respond(http.StatusNotFound, "gone"))
	h := c.Handler(o)
	send(h, "GET", "http://example.com/missing")
	if got := send(h, "GET", "http://example.com/missing"); o.count() != 1 || got.Code != http.StatusNotFound {
		t.Fatalf("origin %d times, status %d: a 404 without freshness did not get DefaultTTL", o.count(), got.Code)
	}
}

func TestStaleIfError_request_directive_does_not_override_s_maxage(t *testing.T) {
	s, _ := miniStore(t)
	c := responsecache.New(s, responsecache.Options{})
	o := &origin{}
	o.set(respond(http.StatusOK, "old", "Cache-Control", "s-maxage=1", "Age", "10", "ETag", `"v1"`)) // stored stale
	h := c.Handler(o)
	send(h, "GET", "http://example.com/s")
	o.set(respond(http.StatusServiceUnavailable, "down"))
	got := send(h, "GET", "http://example.com/s", "Cache-Control", "stale-if-error=600")
	if got.Code != http.StatusServiceUnavailable {
		t.Fatalf("got %d %q (Cache-Status %q): a stale s-maxage response (proxy-revalidate semantics, RFC 9111 section 5.2.2.10) was served on error",
			got.Code, got.Body.String(), got.Header().Get("Cache-Status"))
	}
}

func TestRevalidation_304_with_private_or_no_store_does_not_keep_the_entry(t *testing.T) {
	for _, cc := range []string{"private, max-age=600", "no-store, max-age=600"} {
		t.Run(cc, func(t *testing.T) {
			s, _ := miniStore(t)
			c := responsecache.New(s, responsecache.Options{})
			o := &origin{}
			o.set(respond(http.StatusOK, "page", "Cache-Control", "max-age=1", "Age", "10", "ETag", `"v1"`)) // stored stale
			h := c.Handler(o)
			send(h, "GET", "http://example.com/r")
			o.set(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Cache-Control", cc)
				w.Header().Set("ETag", `"v1"`)
				w.WriteHeader(http.StatusNotModified)
			})
			if got := send(h, "GET", "http://example.com/r"); got.Body.String() != "page" {
				t.Fatalf("the revalidating client got %d %q", got.Code, got.Body.String())
			}
			send(h, "GET", "http://example.com/r")
			if o.count() != 3 {
				t.Fatalf("origin %d times: the entry updated by a 304 with %q was kept and served", o.count(), cc)
			}
		})
	}
}

func TestInvalidation_unsafe_method_with_an_implicit_200_invalidates(t *testing.T) {
	for _, method := range []string{"DELETE", "PUT", "PATCH", "POST"} {
		t.Run(method, func(t *testing.T) {
			s, _ := miniStore(t)
			c := responsecache.New(s, responsecache.Options{})
			o := &origin{}
			o.set(func(w http.ResponseWriter, r *http.Request) {
				if r.Method == http.MethodGet {
					w.Header().Set("Cache-Control", "max-age=600")
					io.WriteString(w, "item")
				}
				// other methods: done, nothing written (net/http sends 200)
			})
			h := c.Handler(o)
			send(h, "GET", "http://example.com/item")
			if got := send(h, method, "http://example.com/item"); got.Code != http.StatusOK {
				t.Fatalf("%s got %d", method, got.Code)
			}
			send(h, "GET", "http://example.com/item")
			if o.count() != 3 {
				t.Fatalf("origin %d times: a %s answered with an implicit 200 left the entry in place", o.count(), method)
			}
		})
	}
}

func TestSecurity_TrustForwarded_host_with_a_path_cannot_poison_another_URL(t *testing.T) {
	s, _ := miniStore(t)
	c := responsecache.New(s, responsecache.Options{TrustForwarded: true})
	// An origin that builds absolute links from the forwarded host.
	h := c.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host := r.Host
		if f := r.Header.Get("X-Forwarded-Host"); f != "" {
			host = f
		}
		w.Header().Set("Cache-Control", "max-age=600")
		io.WriteString(w, `<script src="https://`+host+`/app.js">`+r.URL.Path)
	}))
	// X-Forwarded-Host "shop.example/x" with path "/y" spells the same
	// URL as host "shop.example" with path "/x/y".
	send(h, "GET", "http://lb.internal/y", "X-Forwarded-Host", "shop.example/x")
	victim := send(h, "GET", "http://lb.internal/x/y", "X-Forwarded-Host", "shop.example")
	if want := `<script src="https://shop.example/app.js">/x/y`; victim.Body.String() != want {
		t.Fatalf("victim got %q (Cache-Status %q), want %q", victim.Body.String(), victim.Header().Get("Cache-Status"), want)
	}
}

func TestSecurity_huge_Accept_Encoding_is_normalised_in_bounded_time(t *testing.T) {
	s, _ := miniStore(t)
	c := responsecache.New(s, responsecache.Options{})
	o := &origin{}
	o.set(respond(http.StatusOK, "page", "Cache-Control", "max-age=600", "Vary", "Accept-Encoding"))
	h := c.Handler(o)
	send(h, "GET", "http://example.com/v", "Accept-Encoding", "gzip")
	// 1 MiB of distinct codings, the most net/http accepts by default: a
	// normalisation quadratic in their number took minutes of CPU.
	var b strings.Builder
	for i := 0; b.Len() < 1<<20; i++ {
		b.WriteString("c" + strconv.Itoa(i) + ",")
	}
	done := make(chan *httptest.ResponseRecorder, 1)
	go func() { done <- send(h, "GET", "http://example.com/v", "Accept-Encoding", b.String()) }()
	select {
	case got := <-done:
		if got.Code != http.StatusOK || got.Body.String() != "page" {
			t.Fatalf("got %d %q", got.Code, got.Body.String())
		}
	case <-time.After(20 * time.Second): // generous: it takes well under a second
		t.Fatal("a request with a 1 MiB Accept-Encoding was still being keyed after 20s")
	}
}

func TestRange_with_the_largest_last_byte_pos_serves_the_rest(t *testing.T) {
	s, _ := miniStore(t)
	c := responsecache.New(s, responsecache.Options{})
	o := &origin{}
	o.set(respond(http.StatusOK, "0123456789", "Cache-Control", "max-age=600"))
	h := c.Handler(o)
	send(h, "GET", "http://example.com/r")
	got := send(h, "GET", "http://example.com/r", "Range", "bytes=2-9223372036854775807")
	if got.Code != http.StatusPartialContent || got.Body.String() != "23456789" || got.Header().Get("Content-Range") != "bytes 2-9/10" {
		t.Fatalf("got %d %q, Content-Range %q", got.Code, got.Body.String(), got.Header().Get("Content-Range"))
	}
}

func TestFailure_only_if_cached_with_redis_down_is_a_504_not_an_origin_request(t *testing.T) {
	s, srv := realStore(t)
	c := responsecache.New(s, responsecache.Options{StoreTimeout: 100 * time.Millisecond})
	o := &origin{}
	o.set(respond(http.StatusOK, "from origin", "Cache-Control", "max-age=600"))
	h := c.Handler(o)
	srv.Kill()
	got := send(h, "GET", "http://example.com/o", "Cache-Control", "only-if-cached")
	if got.Code != http.StatusGatewayTimeout || o.count() != 0 {
		t.Fatalf("got %d, origin %d times: only-if-cached (RFC 9111 section 5.2.1.7) reached the origin", got.Code, o.count())
	}
}

func TestForwarded_response_trailers_reach_the_client(t *testing.T) {
	for _, declared := range []string{"X-Checksum", "x-checksum"} {
		t.Run(declared, func(t *testing.T) {
			s, _ := miniStore(t)
			c := responsecache.New(s, responsecache.Options{})
			h := c.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Trailer", declared)
				w.Header().Set("Cache-Control", "max-age=600")
				io.WriteString(w, "body")
				w.Header().Set("X-Checksum", "abc")                // declared trailer
				w.Header().Set(http.TrailerPrefix+"X-Late", "xyz") // undeclared trailer
			}))
			srv := httptest.NewServer(h)
			defer srv.Close()
			resp, err := http.Get(srv.URL + "/t")
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.Trailer.Get("X-Checksum") != "abc" || resp.Trailer.Get("X-Late") != "xyz" {
				t.Fatalf("trailers %v: lost on the way through the cache", resp.Trailer)
			}
		})
	}
}
