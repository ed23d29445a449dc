package middleware_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/rediware/rediware/middleware"
)

// discardWriter is a ResponseWriter that costs nothing, so the benchmarks
// measure the wrapper alone.
type discardWriter struct{ h http.Header }

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (d *discardWriter) WriteHeader(int)             {}
func (d *discardWriter) Flush()                      {}

var body = []byte("hello, world\n")

// BenchmarkWrapWriter measures one request's worth of wrapper work: wrap,
// register a hook, write a header and a body.
func BenchmarkWrapWriter(b *testing.B) {
	w := &discardWriter{h: http.Header{}}
	hook := func(int) {}
	b.ReportAllocs()
	for b.Loop() {
		ww := middleware.WrapWriter(w)
		ww.Before(hook)
		ww.WriteHeader(http.StatusOK)
		_, _ = ww.Write(body)
	}
}

// BenchmarkWrapWriter_nested3 measures three middlewares each wrapping the
// writer, each with two hooks.
func BenchmarkWrapWriter_nested3(b *testing.B) {
	w := &discardWriter{h: http.Header{}}
	hook := func(int) {}
	b.ReportAllocs()
	for b.Loop() {
		var ww http.ResponseWriter = w
		for range 3 {
			x := middleware.WrapWriter(ww)
			x.Before(hook)
			x.Before(hook)
			ww = x
		}
		_, _ = ww.Write(body)
	}
}

// BenchmarkWrapWriter_handler measures the wrapper inside a full middleware
// and handler call, against the same stack without it.
func BenchmarkWrapWriter_handler(b *testing.B) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write(body) })
	wrapped := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ww := middleware.WrapWriter(w)
			ww.Before(func(int) { ww.Header().Set("X-A", "1") })
			next.ServeHTTP(ww, r)
		})
	}(h)
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	w := &discardWriter{h: http.Header{}}
	b.Run("bare", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			h.ServeHTTP(w, r)
		}
	})
	b.Run("wrapped", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			wrapped.ServeHTTP(w, r)
		}
	})
}

func BenchmarkWrapWriter_ReadFrom(b *testing.B) {
	w := &readFromDiscard{discardWriter{h: http.Header{}}}
	src := make([]byte, 64<<10)
	b.SetBytes(int64(len(src)))
	b.ReportAllocs()
	for b.Loop() {
		ww := middleware.WrapWriter(w)
		_, _ = ww.(io.ReaderFrom).ReadFrom(&onlyReader{src: src})
	}
}

type readFromDiscard struct{ discardWriter }

func (d *readFromDiscard) ReadFrom(r io.Reader) (int64, error) { return io.Copy(io.Discard, r) }

type onlyReader struct{ src []byte }

func (o *onlyReader) Read(p []byte) (int, error) {
	if len(o.src) == 0 {
		return 0, io.EOF
	}
	n := copy(p, o.src)
	o.src = o.src[n:]
	return n, nil
}

func BenchmarkClientIP_Key(b *testing.B) {
	proxies := mustProxies(b, "10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, fd00::/8")
	cases := []struct {
		name   string
		cfg    *middleware.ClientIP
		remote string
		header http.Header
	}{
		{"direct_ipv4", nil, "198.51.100.7:41000", nil},
		{"direct_ipv6", nil, "[2001:db8:1:2::7]:41000", nil},
		{"xff_3_hops", &middleware.ClientIP{TrustedProxies: proxies}, "10.0.0.1:41000",
			http.Header{"X-Forwarded-For": {"198.51.100.7, 172.16.4.4, 10.9.9.9"}}},
		{"forwarded_ipv6", &middleware.ClientIP{TrustedProxies: proxies, Header: "Forwarded"}, "10.0.0.1:41000",
			http.Header{"Forwarded": {`for="[2001:db8:cafe::17]:4711";proto=https, for=10.9.9.9`}}},
		{"xff_spoof_untrusted_peer", &middleware.ClientIP{TrustedProxies: proxies}, "203.0.113.9:41000",
			http.Header{"X-Forwarded-For": {"1.1.1.1"}}},
	}
	for _, tc := range cases {
		r := request(tc.remote, tc.header)
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = tc.cfg.Key(r)
			}
		})
		b.Run(tc.name+"/AppendKey", func(b *testing.B) {
			buf := make([]byte, 0, 64)
			b.ReportAllocs()
			for b.Loop() {
				buf = tc.cfg.AppendKey(buf[:0], r)
			}
		})
	}
}
