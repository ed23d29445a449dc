package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rediware/rediware/internal/redistest"
)

// demo is a running example-app for a test.
type demo struct {
	base   string
	client *http.Client
	logs   *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startDemo runs the app with args on a free port until the test ends.
func startDemo(t *testing.T, dbPath string, args ...string) *demo {
	t.Helper()
	if dbPath == "" {
		dbPath = filepath.Join(t.TempDir(), "demo.db")
	}
	ctx, cancel := context.WithCancel(context.Background())
	addrc := make(chan string, 1)
	errc := make(chan error, 1)
	logs := &syncBuffer{}
	all := append([]string{"-addr", "127.0.0.1:0", "-db", dbPath}, args...)
	go func() {
		errc <- run(ctx, all, func(string) string { return "" }, logs, func(a string) { addrc <- a })
	}()
	var addr string
	select {
	case addr = <-addrc:
	case err := <-errc:
		cancel()
		t.Fatalf("demo did not start: %v\n%s", err, logs.String())
	case <-time.After(20 * time.Second):
		cancel()
		t.Fatalf("demo did not start in time\n%s", logs.String())
	}
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-errc:
			if err != nil {
				t.Errorf("demo exited with %v", err)
			}
		case <-time.After(20 * time.Second):
			t.Errorf("demo did not shut down in time")
		}
	})
	return &demo{base: "http://" + addr, client: &http.Client{Timeout: 10 * time.Second}, logs: logs}
}

// backends runs fn against the demo on embedded miniredis and on a real
// redis-server.
func backends(t *testing.T, fn func(t *testing.T, start func(t *testing.T, db string) *demo)) {
	t.Run("miniredis", func(t *testing.T) {
		fn(t, func(t *testing.T, db string) *demo { return startDemo(t, db) })
	})
	t.Run("redis-server", func(t *testing.T) {
		srv := redistest.Start(t)
		fn(t, func(t *testing.T, db string) *demo { return startDemo(t, db, "-redis", srv.URL()) })
	})
}

func (d *demo) do(t *testing.T, method, path, body string, hdr ...string) *http.Response {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, d.base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := d.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func readJSON(t *testing.T, resp *http.Response, v any) {
	t.Helper()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("decode %s: %v", resp.Request.URL, err)
	}
}

func wantStatus(t *testing.T, resp *http.Response, want int) {
	t.Helper()
	if resp.StatusCode != want {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("%s %s = %d, want %d; body: %s", resp.Request.Method, resp.Request.URL.Path, resp.StatusCode, want, b)
	}
}

func TestDemo_healthz(t *testing.T) {
	backends(t, func(t *testing.T, start func(*testing.T, string) *demo) {
		d := start(t, "")
		resp := d.do(t, "GET", "/healthz", "")
		wantStatus(t, resp, http.StatusOK)
		var body struct {
			Status string `json:"status"`
			Redis  struct{ Status string }
		}
		readJSON(t, resp, &body)
		if body.Status != "ok" || body.Redis.Status != "ok" {
			t.Fatalf("healthz = %+v", body)
		}
	})
}

func TestDemo_index(t *testing.T) {
	d := startDemo(t, "")
	resp := d.do(t, "GET", "/", "")
	wantStatus(t, resp, http.StatusOK)
	b, _ := io.ReadAll(resp.Body)
	for _, route := range []string{"/healthz", "/users/1", "/api/limited", "/reports/{id}", "/events"} {
		if !strings.Contains(string(b), route) {
			t.Errorf("index page does not mention %s", route)
		}
	}
}

func TestDemo_logsSecureOff(t *testing.T) {
	d := startDemo(t, "")
	if !strings.Contains(d.logs.String(), "without the Secure flag") {
		t.Fatalf("log does not say Secure is off:\n%s", d.logs.String())
	}
}

func TestDemo_users(t *testing.T) {
	backends(t, func(t *testing.T, start func(*testing.T, string) *demo) {
		d := start(t, "")

		first := d.do(t, "GET", "/users/1", "")
		wantStatus(t, first, http.StatusOK)
		if got := first.Header.Get("Cache-Control"); got != "public, max-age=60" {
			t.Errorf("Cache-Control = %q", got)
		}
		if got := first.Header.Get("Surrogate-Key"); got != "user:1" {
			t.Errorf("tag header Surrogate-Key = %q, want user:1", got)
		}
		etag := first.Header.Get("ETag")
		if etag == "" {
			t.Fatal("no ETag")
		}
		if cs := first.Header.Get("Cache-Status"); !strings.Contains(cs, "fwd=uri-miss") {
			t.Errorf("first Cache-Status = %q, want a miss", cs)
		}
		var u User
		readJSON(t, first, &u)
		if u.ID != 1 || u.Name != "Ada Lovelace" {
			t.Fatalf("user = %+v", u)
		}

		second := d.do(t, "GET", "/users/1", "")
		wantStatus(t, second, http.StatusOK)
		if cs := second.Header.Get("Cache-Status"); !strings.Contains(cs, "hit") {
			t.Errorf("repeat Cache-Status = %q, want a hit", cs)
		}
		if second.Header.Get("Age") == "" {
			t.Error("a hit has no Age header")
		}

		cond := d.do(t, "GET", "/users/1", "", "If-None-Match", etag)
		wantStatus(t, cond, http.StatusNotModified)

		wantStatus(t, d.do(t, "GET", "/users/999", ""), http.StatusNotFound)
		bad := d.do(t, "GET", "/users/abc", "")
		wantStatus(t, bad, http.StatusBadRequest)
		if ct := bad.Header.Get("Content-Type"); ct != "application/problem+json" {
			t.Errorf("error Content-Type = %q", ct)
		}
	})
}

func TestDemo_createUser(t *testing.T) {
	d := startDemo(t, "")
	resp := d.do(t, "POST", "/users", `{"name":"Edsger Dijkstra","email":"ewd@example.com"}`)
	wantStatus(t, resp, http.StatusCreated)
	loc := resp.Header.Get("Location")
	if !strings.HasPrefix(loc, "/users/") {
		t.Fatalf("Location = %q", loc)
	}
	got := d.do(t, "GET", loc, "")
	wantStatus(t, got, http.StatusOK)
	var u User
	readJSON(t, got, &u)
	if u.Name != "Edsger Dijkstra" {
		t.Fatalf("created user = %+v", u)
	}

	for _, tc := range []struct {
		name, body string
		want       int
	}{
		{"not json", `{"name":`, http.StatusBadRequest},
		{"unknown field", `{"name":"a","email":"a@b.c","admin":true}`, http.StatusBadRequest},
		{"two objects", `{"name":"a","email":"a@b.c"}{}`, http.StatusBadRequest},
		{"empty name", `{"name":" ","email":"a@b.c"}`, http.StatusUnprocessableEntity},
		{"bad email", `{"name":"a","email":"not-an-email"}`, http.StatusUnprocessableEntity},
		{"too large", `{"name":"` + strings.Repeat("x", 70<<10) + `","email":"a@b.c"}`, http.StatusRequestEntityTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantStatus(t, d.do(t, "POST", "/users", tc.body), tc.want)
		})
	}
}

func TestDemo_updateVisibleOnOtherInstance(t *testing.T) {
	srv := redistest.Start(t)
	db := filepath.Join(t.TempDir(), "shared.db")
	a := startDemo(t, db, "-redis", srv.URL())
	b := startDemo(t, db, "-redis", srv.URL())

	wantStatus(t, b.do(t, "GET", "/users/2", ""), http.StatusOK)
	hit := b.do(t, "GET", "/users/2", "")
	if cs := hit.Header.Get("Cache-Status"); !strings.Contains(cs, "hit") {
		t.Fatalf("B's repeat Cache-Status = %q, want a hit", cs)
	}

	wantStatus(t, a.do(t, "PUT", "/users/2", `{"name":"Alan M. Turing","email":"turing@example.com"}`), http.StatusOK)

	resp := b.do(t, "GET", "/users/2", "")
	wantStatus(t, resp, http.StatusOK)
	var u User
	readJSON(t, resp, &u)
	if u.Name != "Alan M. Turing" || u.Email != "turing@example.com" {
		t.Fatalf("B serves %+v after A's update", u)
	}
	wantStatus(t, a.do(t, "PUT", "/users/999", `{"name":"x","email":"x@example.com"}`), http.StatusNotFound)
}

func TestDemo_visitsWriteBehind(t *testing.T) {
	backends(t, func(t *testing.T, start func(*testing.T, string) *demo) {
		d := start(t, "")
		for i := 0; i < 3; i++ {
			wantStatus(t, d.do(t, "PATCH", "/users/3/visits", ""), http.StatusAccepted)
		}
		deadline := time.Now().Add(10 * time.Second)
		for {
			var u User
			resp := d.do(t, "GET", "/users/3", "", "Cache-Control", "no-cache")
			wantStatus(t, resp, http.StatusOK)
			readJSON(t, resp, &u)
			if u.Visits == 3 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("visits = %d after 10s, want 3", u.Visits)
			}
			time.Sleep(50 * time.Millisecond)
		}
		wantStatus(t, d.do(t, "PATCH", "/users/999/visits", ""), http.StatusNotFound)
	})
}

func TestDemo_sessions(t *testing.T) {
	backends(t, func(t *testing.T, start func(*testing.T, string) *demo) {
		d := start(t, "")
		jar := newJar()
		d.client.Jar = jar

		wantStatus(t, d.do(t, "GET", "/me", ""), http.StatusUnauthorized)
		before := jar.token()

		wantStatus(t, d.do(t, "POST", "/login", `{"name":"ada"}`), http.StatusOK)
		after := jar.token()
		if after == "" || after == before {
			t.Fatalf("login did not renew the session token (before %q, after %q)", before, after)
		}
		me := d.do(t, "GET", "/me", "")
		wantStatus(t, me, http.StatusOK)
		var body map[string]string
		readJSON(t, me, &body)
		if body["name"] != "ada" {
			t.Fatalf("/me = %v", body)
		}

		wantStatus(t, d.do(t, "POST", "/logout", ""), http.StatusOK)
		wantStatus(t, d.do(t, "GET", "/me", ""), http.StatusUnauthorized)

		// The old token is dead even if a client replays it.
		d.client.Jar = nil
		wantStatus(t, d.do(t, "GET", "/me", "", "Cookie", "demo_session="+after), http.StatusUnauthorized)
		wantStatus(t, d.do(t, "POST", "/login", `{"name":""}`), http.StatusUnprocessableEntity)
		wantStatus(t, d.do(t, "POST", "/login", `nope`), http.StatusBadRequest)
	})
}

func TestDemo_rateLimit(t *testing.T) {
	backends(t, func(t *testing.T, start func(*testing.T, string) *demo) {
		d := start(t, "")
		for i := 1; i <= 5; i++ {
			resp := d.do(t, "GET", "/api/limited", "")
			wantStatus(t, resp, http.StatusOK)
			if resp.Header.Get("RateLimit") == "" || resp.Header.Get("RateLimit-Policy") == "" {
				t.Fatalf("request %d has no RateLimit headers: %v", i, resp.Header)
			}
		}
		resp := d.do(t, "GET", "/api/limited", "")
		wantStatus(t, resp, http.StatusTooManyRequests)
		if resp.Header.Get("Retry-After") == "" {
			t.Fatal("429 without Retry-After")
		}
		// X-Forwarded-For is not trusted by default: a spoofed one does not
		// open a new budget.
		wantStatus(t, d.do(t, "GET", "/api/limited", "", "X-Forwarded-For", "203.0.113.9"), http.StatusTooManyRequests)
	})
}

func TestDemo_rateLimitTrustedProxy(t *testing.T) {
	d := startDemo(t, "", "-trusted-proxies", "127.0.0.1/32,::1/128")
	for i := 0; i < 5; i++ {
		wantStatus(t, d.do(t, "GET", "/api/limited", "", "X-Forwarded-For", "203.0.113.1"), http.StatusOK)
	}
	wantStatus(t, d.do(t, "GET", "/api/limited", "", "X-Forwarded-For", "203.0.113.1"), http.StatusTooManyRequests)
	wantStatus(t, d.do(t, "GET", "/api/limited", "", "X-Forwarded-For", "203.0.113.2"), http.StatusOK)
}

func TestDemo_reportsLock(t *testing.T) {
	backends(t, func(t *testing.T, start func(*testing.T, string) *demo) {
		d := start(t, "")
		type result struct {
			status int
			retry  string
		}
		results := make(chan result, 3)
		post := func(id string) {
			req, _ := http.NewRequest("POST", d.base+"/reports/"+id, nil)
			resp, err := d.client.Do(req)
			if err != nil {
				results <- result{status: -1}
				return
			}
			resp.Body.Close()
			results <- result{resp.StatusCode, resp.Header.Get("Retry-After")}
		}
		start2 := time.Now()
		go post("7")
		time.Sleep(200 * time.Millisecond)
		go post("7")
		go post("8")
		var ok, conflict int
		for i := 0; i < 3; i++ {
			r := <-results
			switch r.status {
			case http.StatusOK:
				ok++
			case http.StatusConflict:
				conflict++
				if r.retry == "" {
					t.Error("409 without Retry-After")
				}
			default:
				t.Errorf("unexpected status %d", r.status)
			}
		}
		if ok != 2 || conflict != 1 {
			t.Fatalf("ok=%d conflict=%d, want 2 and 1", ok, conflict)
		}
		// Ids 7 and 8 ran in parallel: well under two seconds in all.
		if el := time.Since(start2); el > 1900*time.Millisecond {
			t.Logf("note: reports took %v", el)
		}
	})
}

func TestDemo_eventsStream(t *testing.T) {
	backends(t, func(t *testing.T, start func(*testing.T, string) *demo) {
		d := start(t, "")
		req, _ := http.NewRequest("GET", d.base+"/events", nil)
		resp, err := (&http.Client{}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
			t.Fatalf("Content-Type = %q", ct)
		}
		lines := make(chan string, 16)
		go func() {
			buf := make([]byte, 4096)
			for {
				n, err := resp.Body.Read(buf)
				if n > 0 {
					lines <- string(buf[:n])
				}
				if err != nil {
					close(lines)
					return
				}
			}
		}()
		// The subscription comment arrives before any event: Flush works.
		select {
		case l := <-lines:
			if !strings.Contains(l, "subscribed") {
				t.Fatalf("first chunk = %q", l)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("no flushed bytes from /events")
		}
		wantStatus(t, d.do(t, "PUT", "/users/1", `{"name":"Ada King","email":"ada@example.com"}`), http.StatusOK)
		deadline := time.After(5 * time.Second)
		var got strings.Builder
		for !strings.Contains(got.String(), `"tag":"user:1"`) {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatalf("stream ended: %q", got.String())
				}
				got.WriteString(l)
			case <-deadline:
				t.Fatalf("no invalidation event; got %q", got.String())
			}
		}
	})
}

func TestDemo_redisDown(t *testing.T) {
	srv := redistest.Start(t)
	d := startDemo(t, "", "-redis", srv.URL())
	wantStatus(t, d.do(t, "GET", "/users/1", ""), http.StatusOK)
	srv.Kill()

	// The HTTP cache and cache-aside fall through to the database.
	wantStatus(t, d.do(t, "GET", "/users/1", ""), http.StatusOK)
	// Health reports Redis down.
	resp := d.do(t, "GET", "/healthz", "")
	var h struct {
		Status string
		Redis  struct{ Status string }
	}
	readJSON(t, resp, &h)
	if h.Redis.Status != "down" || h.Status != "degraded" {
		t.Fatalf("healthz with Redis down = %+v", h)
	}
	// Locks fail closed with 503.
	wantStatus(t, d.do(t, "POST", "/reports/1", ""), http.StatusServiceUnavailable)
	// The event stream cannot subscribe: 503, not a hanging stream.
	wantStatus(t, d.do(t, "GET", "/events", ""), http.StatusServiceUnavailable)
	// Sessions answer 503 rather than losing a login.
	wantStatus(t, d.do(t, "POST", "/login", `{"name":"ada"}`), http.StatusServiceUnavailable)
	// The rate limit falls back to a local limiter: still 5 per window.
	var ok, limited int
	for i := 0; i < 7; i++ {
		switch d.do(t, "GET", "/api/limited", "").StatusCode {
		case http.StatusOK:
			ok++
		case http.StatusTooManyRequests:
			limited++
		}
	}
	if ok > 5 || limited == 0 {
		t.Fatalf("with Redis down: %d allowed, %d limited", ok, limited)
	}

	srv.Restart()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var h struct{ Redis struct{ Status string } }
		readJSON(t, d.do(t, "GET", "/healthz", ""), &h)
		if h.Redis.Status == "ok" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("Redis not back after restart")
		}
		time.Sleep(100 * time.Millisecond)
	}
	wantStatus(t, d.do(t, "POST", "/login", `{"name":"ada"}`), http.StatusOK)
}
