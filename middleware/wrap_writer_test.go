package middleware_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/textproto"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rediware/rediware/middleware"
)

// foreignWrapper is a third-party style wrapper that exposes nothing but
// Unwrap, as net/http's ResponseController expects.
type foreignWrapper struct{ http.ResponseWriter }

func (f foreignWrapper) Unwrap() http.ResponseWriter { return f.ResponseWriter }

// bareWriter implements only http.ResponseWriter.
type bareWriter struct {
	h      http.Header
	status int
	body   bytes.Buffer
}

func (b *bareWriter) Header() http.Header {
	if b.h == nil {
		b.h = http.Header{}
	}
	return b.h
}
func (b *bareWriter) Write(p []byte) (int, error) {
	if b.status == 0 {
		b.status = 200
	}
	return b.body.Write(p)
}
func (b *bareWriter) WriteHeader(code int) {
	if b.status == 0 {
		b.status = code
	}
}

// nest wraps w in n layers, putting a foreign Unwrap-only wrapper between
// each pair of WrapWriter layers.
func nest(w http.ResponseWriter, n int) middleware.WrapResponseWriter {
	ww := middleware.WrapWriter(w)
	for i := 1; i < n; i++ {
		ww = middleware.WrapWriter(foreignWrapper{ww})
	}
	return ww
}

// logBuffer collects a test server's error log.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// newServer starts a test server whose error log is returned for inspection.
func newServer(t *testing.T, h http.Handler) (*httptest.Server, *logBuffer) {
	t.Helper()
	logs := &logBuffer{}
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ErrorLog = log.New(logs, "", 0)
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, logs
}

func TestWrapWriter_Status_zero_before_header(t *testing.T) {
	ww := middleware.WrapWriter(httptest.NewRecorder())
	if got := ww.Status(); got != 0 {
		t.Fatalf("Status before any write = %d, want 0", got)
	}
	if ww.HeaderWritten() {
		t.Fatal("HeaderWritten before any write = true")
	}
}

func TestWrapWriter_Status_implicit_200_on_Write(t *testing.T) {
	rec := httptest.NewRecorder()
	ww := middleware.WrapWriter(rec)
	n, err := ww.Write([]byte("hello"))
	if err != nil || n != 5 {
		t.Fatalf("Write = %d, %v", n, err)
	}
	if ww.Status() != 200 || !ww.HeaderWritten() || ww.BytesWritten() != 5 {
		t.Fatalf("Status=%d HeaderWritten=%v BytesWritten=%d", ww.Status(), ww.HeaderWritten(), ww.BytesWritten())
	}
	if rec.Code != 200 || rec.Body.String() != "hello" {
		t.Fatalf("recorder got %d %q", rec.Code, rec.Body.String())
	}
}

func TestWrapWriter_second_WriteHeader_ignored(t *testing.T) {
	var status int
	srv, logs := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ww := middleware.WrapWriter(w)
		ww.WriteHeader(http.StatusTeapot)
		ww.WriteHeader(http.StatusInternalServerError)
		_, _ = ww.Write([]byte("x"))
		status = ww.Status()
	}))
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusTeapot || status != http.StatusTeapot {
		t.Fatalf("client status %d, Status() %d; want 418", resp.StatusCode, status)
	}
	if strings.Contains(logs.String(), "superfluous") {
		t.Fatalf("server logged a superfluous WriteHeader: %s", logs.String())
	}
}

func TestWrapWriter_WriteHeader_invalid_code_panics_before_hooks(t *testing.T) {
	ww := middleware.WrapWriter(httptest.NewRecorder())
	ran := false
	ww.Before(func(int) { ran = true })
	defer func() {
		if recover() == nil {
			t.Fatal("WriteHeader(42) did not panic")
		}
		if ran {
			t.Fatal("hook ran for an invalid status code")
		}
	}()
	ww.WriteHeader(42)
}

func TestWrapWriter_Before_runs_once_in_registration_order(t *testing.T) {
	rec := httptest.NewRecorder()
	ww := middleware.WrapWriter(rec)
	var got []string
	for _, name := range []string{"a", "b", "c"} {
		ww.Before(func(status int) { got = append(got, name) })
	}
	ww.WriteHeader(http.StatusCreated)
	_, _ = ww.Write([]byte("x"))
	_, _ = ww.Write([]byte("y"))
	ww.(http.Flusher).Flush()
	if strings.Join(got, ",") != "a,b,c" {
		t.Fatalf("hooks ran as %v, want [a b c] once", got)
	}
}

func TestWrapWriter_Before_can_set_header_and_sees_status(t *testing.T) {
	for name, send := range map[string]func(middleware.WrapResponseWriter){
		"WriteHeader": func(w middleware.WrapResponseWriter) { w.WriteHeader(http.StatusAccepted) },
		"Write":       func(w middleware.WrapResponseWriter) { _, _ = w.Write([]byte("body")) },
		"Flush":       func(w middleware.WrapResponseWriter) { w.(http.Flusher).Flush() },
		"ReadFrom": func(w middleware.WrapResponseWriter) {
			_, _ = w.(io.ReaderFrom).ReadFrom(strings.NewReader("body"))
		},
	} {
		t.Run(name, func(t *testing.T) {
			var seen int
			srv, _ := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				ww := middleware.WrapWriter(w)
				ww.Before(func(status int) {
					seen = status
					http.SetCookie(ww, &http.Cookie{Name: "s", Value: "v"})
				})
				send(ww)
			}))
			resp, err := http.Get(srv.URL)
			if err != nil {
				t.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			want := http.StatusOK
			if name == "WriteHeader" {
				want = http.StatusAccepted
			}
			if seen != want || resp.StatusCode != want {
				t.Fatalf("hook saw %d, client got %d; want %d", seen, resp.StatusCode, want)
			}
			if c := resp.Header.Get("Set-Cookie"); c != "s=v" {
				t.Fatalf("Set-Cookie = %q, want s=v", c)
			}
		})
	}
}

func TestWrapWriter_Before_after_header_is_ignored(t *testing.T) {
	ww := middleware.WrapWriter(httptest.NewRecorder())
	ww.WriteHeader(http.StatusOK)
	ran := false
	ww.Before(func(int) { ran = true })
	_, _ = ww.Write([]byte("x"))
	if ran {
		t.Fatal("hook registered after the header was sent ran")
	}
}

func TestWrapWriter_Before_nested_inner_hooks_run_first(t *testing.T) {
	rec := httptest.NewRecorder()
	outer := middleware.WrapWriter(rec)
	inner := middleware.WrapWriter(outer)
	var got []string
	outer.Before(func(int) { got = append(got, "outer") })
	inner.Before(func(int) { got = append(got, "inner") })
	_, _ = inner.Write([]byte("x"))
	if strings.Join(got, ",") != "inner,outer" {
		t.Fatalf("hooks ran as %v, want [inner outer]", got)
	}
	if outer.Status() != 200 || outer.BytesWritten() != 1 {
		t.Fatalf("outer Status=%d BytesWritten=%d", outer.Status(), outer.BytesWritten())
	}
}

func TestWrapWriter_Write_from_hook_fails(t *testing.T) {
	rec := httptest.NewRecorder()
	ww := middleware.WrapWriter(rec)
	var hookErr error
	ww.Before(func(int) {
		_, hookErr = ww.Write([]byte("from hook"))
		ww.WriteHeader(http.StatusTeapot) // ignored
	})
	ww.WriteHeader(http.StatusCreated)
	if !errors.Is(hookErr, middleware.ErrWriteInHook) {
		t.Fatalf("Write from hook error = %v, want ErrWriteInHook", hookErr)
	}
	if rec.Code != http.StatusCreated || rec.Body.Len() != 0 {
		t.Fatalf("recorder got %d %q", rec.Code, rec.Body.String())
	}
}

func TestWrapWriter_interfaces_are_truthful(t *testing.T) {
	bare := middleware.WrapWriter(&bareWriter{})
	if _, ok := bare.(http.Flusher); ok {
		t.Error("wrapper of a bare writer claims http.Flusher")
	}
	if _, ok := bare.(http.Hijacker); ok {
		t.Error("wrapper of a bare writer claims http.Hijacker")
	}
	if _, ok := bare.(io.ReaderFrom); ok {
		t.Error("wrapper of a bare writer claims io.ReaderFrom")
	}

	rec := middleware.WrapWriter(httptest.NewRecorder()) // Flusher only
	if _, ok := rec.(http.Flusher); !ok {
		t.Error("wrapper of a ResponseRecorder lacks http.Flusher")
	}
	if _, ok := rec.(http.Hijacker); ok {
		t.Error("wrapper of a ResponseRecorder claims http.Hijacker")
	}

	// Flush is reachable through a foreign Unwrap-only wrapper, so claiming
	// it is truthful; ReadFrom is not (it would skip the foreign layer).
	viaForeign := middleware.WrapWriter(foreignWrapper{httptest.NewRecorder()})
	if _, ok := viaForeign.(http.Flusher); !ok {
		t.Error("wrapper over an Unwrap-only layer lacks http.Flusher")
	}

	srv, _ := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ww := nest(w, 3)
		_, fl := ww.(http.Flusher)
		_, hj := ww.(http.Hijacker)
		_, rf := middleware.WrapWriter(middleware.WrapWriter(w)).(io.ReaderFrom)
		if !fl || !hj || !rf {
			t.Errorf("wrappers of a net/http writer: Flusher=%v Hijacker=%v ReaderFrom=%v", fl, hj, rf)
		}
	}))
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
}

func TestWrapWriter_ResponseController_Flush_unsupported_keeps_header_unsent(t *testing.T) {
	ww := middleware.WrapWriter(foreignWrapper{&bareWriter{}})
	err := http.NewResponseController(ww).Flush()
	if !errors.Is(err, http.ErrNotSupported) {
		t.Fatalf("Flush error = %v, want ErrNotSupported", err)
	}
	if ww.HeaderWritten() {
		t.Fatal("unsupported Flush sent the header")
	}
}

func TestWrapWriter_Flush_streams_server_sent_events(t *testing.T) {
	ack := make(chan struct{})
	srv, _ := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ww := nest(w, 3)
		ww.Before(func(int) { ww.Header().Set("Content-Type", "text/event-stream") })
		rc := http.NewResponseController(ww)
		for i := range 3 {
			if _, err := io.WriteString(ww, "data: "+string(rune('a'+i))+"\n\n"); err != nil {
				return
			}
			if err := rc.Flush(); err != nil {
				t.Errorf("Flush: %v", err)
				return
			}
			select {
			case <-ack: // the client read this event before we write the next
			case <-r.Context().Done():
				return
			}
		}
	}))
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("Content-Type = %q", ct)
	}
	br := bufio.NewReader(resp.Body)
	for i := range 3 {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("event %d: %v (not flushed?)", i, err)
		}
		if want := "data: " + string(rune('a'+i)) + "\n"; line != want {
			t.Fatalf("event %d = %q, want %q", i, line, want)
		}
		_, _ = br.ReadString('\n')
		ack <- struct{}{}
	}
}

func TestWrapWriter_Flush_before_Write_sends_header(t *testing.T) {
	release := make(chan struct{})
	var hookStatus int
	srv, _ := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ww := nest(w, 2)
		ww.Before(func(status int) {
			hookStatus = status
			ww.Header().Set("X-Hook", "ran")
		})
		if err := http.NewResponseController(ww).Flush(); err != nil {
			t.Errorf("Flush: %v", err)
		}
		select { // hold the body open: the client must see the header first
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer close(release)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("no header before the body ended: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || hookStatus != 200 || resp.Header.Get("X-Hook") != "ran" {
		t.Fatalf("status %d, hook saw %d, X-Hook %q", resp.StatusCode, hookStatus, resp.Header.Get("X-Hook"))
	}
}

func TestWrapWriter_ResponseController_Hijack_through_nested_wrappers(t *testing.T) {
	hookRan := false
	srv, _ := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ww := middleware.WrapWriter(foreignWrapper{nest(w, 3)})
		ww.Before(func(int) { hookRan = true })
		conn, brw, err := http.NewResponseController(ww).Hijack()
		if err != nil {
			t.Errorf("Hijack: %v", err)
			return
		}
		defer conn.Close()
		_, _ = brw.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 8\r\nConnection: close\r\n\r\nhijacked")
		_ = brw.Flush()
	}))
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "hijacked" {
		t.Fatalf("body = %q, want hijacked", body)
	}
	if hookRan {
		t.Fatal("Before hook ran on a hijacked connection")
	}
}

func TestWrapWriter_ResponseController_SetWriteDeadline_through_nested_wrappers(t *testing.T) {
	srv, _ := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(nest(w, 3))
		if err := rc.SetWriteDeadline(time.Now().Add(time.Minute)); err != nil {
			t.Errorf("SetWriteDeadline: %v", err)
		}
		if err := rc.SetReadDeadline(time.Now().Add(time.Minute)); err != nil {
			t.Errorf("SetReadDeadline: %v", err)
		}
		if err := rc.EnableFullDuplex(); err != nil {
			t.Errorf("EnableFullDuplex: %v", err)
		}
	}))
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
}

func TestWrapWriter_ReadFrom_runs_hooks_and_counts_bytes(t *testing.T) {
	content := bytes.Repeat([]byte("0123456789abcdef"), 10_000) // 160 kB
	path := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(path, content, 0o600); err != nil {
		t.Fatal(err)
	}
	for name, open := range map[string]func() (io.Reader, func()){
		"os.File": func() (io.Reader, func()) {
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			return f, func() { f.Close() }
		},
		"bytes.Reader": func() (io.Reader, func()) { return bytes.NewReader(content), func() {} },
	} {
		t.Run(name, func(t *testing.T) {
			var (
				hookStatus int
				written    int64
				copied     int64
			)
			srv, _ := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				ww := nest(w, 2)
				if _, ok := middleware.WrapWriter(w).(io.ReaderFrom); !ok {
					t.Error("wrapper of net/http writer lacks io.ReaderFrom")
				}
				ww.Before(func(status int) { hookStatus = status; ww.Header().Set("X-Hook", "ran") })
				src, done := open()
				defer done()
				var err error
				copied, err = io.Copy(ww, src)
				if err != nil {
					t.Errorf("io.Copy: %v", err)
				}
				written = ww.BytesWritten()
			}))
			resp, err := http.Get(srv.URL)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if !bytes.Equal(body, content) {
				t.Fatalf("client got %d bytes, want %d", len(body), len(content))
			}
			if hookStatus != 200 || resp.Header.Get("X-Hook") != "ran" {
				t.Fatalf("hook saw %d, X-Hook %q", hookStatus, resp.Header.Get("X-Hook"))
			}
			if copied != int64(len(content)) || written != int64(len(content)) {
				t.Fatalf("io.Copy=%d BytesWritten=%d, want %d", copied, written, len(content))
			}
		})
	}
}

func TestWrapWriter_ReadFrom_direct_counts_bytes(t *testing.T) {
	srv, _ := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ww := middleware.WrapWriter(w)
		n, err := ww.(io.ReaderFrom).ReadFrom(io.LimitReader(strings.NewReader(strings.Repeat("z", 5000)), 4000))
		if err != nil || n != 4000 || ww.BytesWritten() != 4000 || ww.Status() != 200 {
			t.Errorf("ReadFrom = %d, %v; BytesWritten=%d Status=%d", n, err, ww.BytesWritten(), ww.Status())
		}
	}))
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if len(body) != 4000 {
		t.Fatalf("client got %d bytes, want 4000", len(body))
	}
}

func TestWrapWriter_1xx_is_not_the_final_header(t *testing.T) {
	var (
		statusAfter103 int
		hooksAt103     int
		hookStatus     int
	)
	srv, _ := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ww := nest(w, 2)
		hooks := 0
		ww.Before(func(status int) { hooks++; hookStatus = status })
		ww.Header().Set("Link", "</style.css>; rel=preload; as=style")
		ww.WriteHeader(http.StatusEarlyHints)
		statusAfter103, hooksAt103 = ww.Status(), hooks
		ww.WriteHeader(http.StatusCreated)
		_, _ = ww.Write([]byte("done"))
	}))
	var got1xx []int
	trace := &httptrace.ClientTrace{Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
		got1xx = append(got1xx, code)
		return nil
	}}
	req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(t.Context(), trace), http.MethodGet, srv.URL, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if len(got1xx) != 1 || got1xx[0] != http.StatusEarlyHints {
		t.Fatalf("client saw 1xx %v, want [103]", got1xx)
	}
	if statusAfter103 != 0 || hooksAt103 != 0 {
		t.Fatalf("after 103: Status=%d hooks run=%d; want 0, 0", statusAfter103, hooksAt103)
	}
	if resp.StatusCode != http.StatusCreated || hookStatus != http.StatusCreated {
		t.Fatalf("final status %d, hook saw %d; want 201", resp.StatusCode, hookStatus)
	}
}

func TestWrapWriter_Tee_copies_body(t *testing.T) {
	rec := httptest.NewRecorder()
	ww := middleware.WrapWriter(rec)
	var tee bytes.Buffer
	ww.Tee(&tee)
	_, _ = ww.Write([]byte("ab"))
	_, _ = io.Copy(ww, strings.NewReader("cd")) // ReadFrom path when available
	ww.Tee(nil)
	_, _ = ww.Write([]byte("ef"))
	if tee.String() != "abcd" || rec.Body.String() != "abcdef" || ww.BytesWritten() != 6 {
		t.Fatalf("tee %q, body %q, BytesWritten %d", tee.String(), rec.Body.String(), ww.BytesWritten())
	}
}

func TestWrapWriter_Tee_with_ReadFrom_sees_every_byte(t *testing.T) {
	var tee bytes.Buffer
	srv, _ := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ww := middleware.WrapWriter(w)
		ww.Tee(&tee)
		_, _ = ww.(io.ReaderFrom).ReadFrom(strings.NewReader(strings.Repeat("q", 70_000)))
	}))
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if len(body) != 70_000 || tee.Len() != 70_000 {
		t.Fatalf("client got %d bytes, tee %d; want 70000", len(body), tee.Len())
	}
}

func TestWrapWriter_Unwrap_returns_wrapped(t *testing.T) {
	rec := httptest.NewRecorder()
	if got := middleware.WrapWriter(rec).Unwrap(); got != rec {
		t.Fatalf("Unwrap = %T, want the recorder", got)
	}
}

func TestWrapWriter_WriteString_runs_hooks_counts_and_tees(t *testing.T) {
	for name, w := range map[string]http.ResponseWriter{
		"StringWriter":   httptest.NewRecorder(),
		"Write fallback": &bareWriter{},
	} {
		t.Run(name, func(t *testing.T) {
			ww := middleware.WrapWriter(w)
			var tee bytes.Buffer
			ww.Tee(&tee)
			hookStatus := 0
			ww.Before(func(status int) { hookStatus = status })
			n, err := io.WriteString(ww, "hello")
			if n != 5 || err != nil || hookStatus != 200 || ww.BytesWritten() != 5 || tee.String() != "hello" {
				t.Fatalf("WriteString = %d, %v; hook %d, BytesWritten %d, tee %q", n, err, hookStatus, ww.BytesWritten(), tee.String())
			}
		})
	}
}

func TestWrapWriter_WriteString_from_hook_fails(t *testing.T) {
	ww := middleware.WrapWriter(httptest.NewRecorder())
	var hookErr error
	ww.Before(func(int) { _, hookErr = io.WriteString(ww, "x") })
	ww.WriteHeader(http.StatusOK)
	if !errors.Is(hookErr, middleware.ErrWriteInHook) {
		t.Fatalf("WriteString from hook error = %v, want ErrWriteInHook", hookErr)
	}
}

func TestWrapWriter_HTTP2_flushes_and_does_not_claim_Hijacker(t *testing.T) {
	ack := make(chan struct{})
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ww := nest(w, 3)
		if _, ok := ww.(http.Hijacker); ok {
			t.Error("wrapper of an HTTP/2 writer claims http.Hijacker")
		}
		if _, _, err := http.NewResponseController(ww).Hijack(); !errors.Is(err, http.ErrNotSupported) {
			t.Errorf("Hijack over HTTP/2 error = %v, want ErrNotSupported", err)
		}
		rc := http.NewResponseController(ww)
		for i := range 2 {
			_, _ = io.WriteString(ww, "data: "+string(rune('a'+i))+"\n\n")
			if err := rc.Flush(); err != nil {
				t.Errorf("Flush: %v", err)
				return
			}
			select {
			case <-ack:
			case <-r.Context().Done():
				return
			}
		}
	}))
	srv.EnableHTTP2 = true
	srv.StartTLS()
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.ProtoMajor != 2 {
		t.Fatalf("protocol %s, want HTTP/2", resp.Proto)
	}
	br := bufio.NewReader(resp.Body)
	for i := range 2 {
		line, err := br.ReadString('\n')
		if err != nil || line != "data: "+string(rune('a'+i))+"\n" {
			t.Fatalf("event %d = %q, %v", i, line, err)
		}
		_, _ = br.ReadString('\n')
		ack <- struct{}{}
	}
}

func TestWrapWriter_after_Hijack_WriteHeader_and_Flush_do_nothing(t *testing.T) {
	srv, logs := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ww := middleware.WrapWriter(w)
		conn, brw, err := ww.(http.Hijacker).Hijack()
		if err != nil {
			t.Errorf("Hijack: %v", err)
			return
		}
		defer conn.Close()
		ww.WriteHeader(http.StatusOK)
		if err := http.NewResponseController(ww).Flush(); !errors.Is(err, http.ErrHijacked) {
			t.Errorf("Flush after Hijack error = %v, want ErrHijacked", err)
		}
		if ww.HeaderWritten() || ww.Status() != 0 {
			t.Errorf("after Hijack: HeaderWritten=%v Status=%d", ww.HeaderWritten(), ww.Status())
		}
		_, _ = brw.WriteString("HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n")
		_ = brw.Flush()
	}))
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("status %d, want 204", resp.StatusCode)
	}
	if strings.Contains(logs.String(), "WriteHeader") {
		t.Fatalf("server logged: %s", logs.String())
	}
}

func TestWrapWriter_empty_response_finished_by_middleware_runs_hooks(t *testing.T) {
	finish := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ww := middleware.WrapWriter(w)
			ww.Before(func(int) { http.SetCookie(ww, &http.Cookie{Name: "s", Value: "v"}) })
			next.ServeHTTP(ww, r)
			if !ww.HeaderWritten() {
				ww.WriteHeader(http.StatusOK)
			}
		})
	}
	srv, _ := newServer(t, finish(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})))
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Set-Cookie") != "s=v" {
		t.Fatalf("status %d, Set-Cookie %q", resp.StatusCode, resp.Header.Get("Set-Cookie"))
	}
}
