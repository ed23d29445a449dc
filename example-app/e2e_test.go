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
