package responsecache

import (
	"bufio"
	"context"
	"errors"
	"net"
	"net/http"
	"strconv"
	"strings"
)

// writeMode is what a captureWriter does with the response it is given.
type writeMode uint8

const (
	// modePass writes the response through to the client, teeing the body
	// into a bounded buffer when it is to be stored.
	modePass writeMode = iota + 1
	// modeCapture keeps the response from the client: a 304 to a
	// revalidation, or an error replaced by a stale entry.
	modeCapture
)

// captureWriter is the ResponseWriter handed to the origin handler on a
// forwarded request. The handler writes into its own header map; at the
// final header, decide picks the mode and whether to keep a copy of the
// body. The copy never grows beyond max: past it the copy is dropped and
// the rest streams through uncached. Flush passes straight through, so
// streaming responses are not delayed.
type captureWriter struct {
	ctx    context.Context // the forwarded request's
	w      http.ResponseWriter
	h      http.Header
	decide func(status int, h http.Header) (writeMode, bool)

	mode        writeMode
	status      int
	wroteHeader bool
	keep        bool   // copying the body for storage
	buf         []byte // the copy
	max         int64
	written     int64
	failed      bool // a write to the client failed: the response is incomplete
	hijacked    bool // the handler took the connection over
}

func newCaptureWriter(ctx context.Context, w http.ResponseWriter, max int64, decide func(int, http.Header) (writeMode, bool)) *captureWriter {
	return &captureWriter{ctx: ctx, w: w, h: make(http.Header), decide: decide, max: max}
}

// writer is the ResponseWriter to hand to the origin handler: cw itself,
// or, when the client's writer can be hijacked, cw with a Hijack method
// that records the hijack (a hijacked response is never stored, and no
// header is written for it afterwards).
func (cw *captureWriter) writer() http.ResponseWriter {
	for w := cw.w; w != nil; {
		switch t := w.(type) {
		case http.Hijacker:
			return hijackCaptureWriter{cw}
		case interface{ Unwrap() http.ResponseWriter }:
			w = t.Unwrap()
		default:
			return cw
		}
	}
	return cw
}

// finish completes the response once the handler has returned: a handler
// that wrote nothing sent an empty 200, unless it hijacked the connection;
// the trailers it set after the header went out are passed on to the
// client's header, where net/http looks for them.
func (cw *captureWriter) finish() {
	if !cw.wroteHeader && !cw.hijacked {
		cw.WriteHeader(http.StatusOK)
	}
	if cw.mode != modePass || cw.hijacked {
		return
	}
	dst := cw.w.Header()
	for _, line := range cw.h["Trailer"] {
		for _, k := range splitList(line) {
			k = http.CanonicalHeaderKey(k)
			if vs, ok := cw.h[k]; ok {
				dst[k] = vs
			}
		}
	}
	for k, vs := range cw.h {
		if strings.HasPrefix(k, http.TrailerPrefix) {
			dst[k] = vs
		}
	}
}

// hijackCaptureWriter is a captureWriter whose client's writer can be
// hijacked (directly or through Unwrap).
type hijackCaptureWriter struct{ *captureWriter }

// Hijack hijacks the client's connection; the response is then not stored.
func (hw hijackCaptureWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, rw, err := http.NewResponseController(hw.w).Hijack()
	if err == nil {
		hw.hijacked = true
		hw.keep, hw.buf = false, nil
	}
	return conn, rw, err
}

func (cw *captureWriter) Header() http.Header { return cw.h }

func (cw *captureWriter) WriteHeader(code int) {
	if cw.wroteHeader {
		return
	}
	if code >= 100 && code < 200 && code != http.StatusSwitchingProtocols {
		cw.informational(code)
		return
	}
	cw.wroteHeader = true
	cw.status = code
	canonicalize(cw.h)
	cw.mode, cw.keep = cw.decide(code, cw.h)
	if cw.keep {
		if cl, err := strconv.ParseInt(cw.h.Get("Content-Length"), 10, 64); err == nil {
			if cl > cw.max {
				cw.keep = false
			} else if cl > 0 {
				cw.buf = make([]byte, 0, cl)
			}
		}
	}
	if cw.mode == modePass {
		dst := cw.w.Header()
		for k, v := range cw.h {
			dst[k] = v
		}
		cw.w.WriteHeader(code)
	}
}

// canonicalize moves the values of header keys set in a non-canonical
// form (h["set-cookie"] = ...) to their canonical key, after its own
// values. net/http writes such keys as they are, and every decision of the
// cache (Set-Cookie, Cache-Control, Vary, ...) reads the canonical key, so
// "cache-control: private" would otherwise be stored and shared.
func canonicalize(h http.Header) {
	for k, v := range h {
		if ck := http.CanonicalHeaderKey(k); ck != k {
			delete(h, k)
			h[ck] = append(h[ck], v...)
		}
	}
}

// informational passes a 1xx response (102, 103 Early Hints) through to
// the client with the fields the handler set for it, then clears them, as
// httputil.ReverseProxy does, so that they do not leak into the final
// response.
func (cw *captureWriter) informational(code int) {
	dst := cw.w.Header()
	saved := dst.Clone()
	for k, v := range cw.h {
		dst[k] = v
	}
	cw.w.WriteHeader(code)
	clear(dst)
	for k, v := range saved {
		dst[k] = v
	}
	clear(cw.h)
}

func (cw *captureWriter) Write(p []byte) (int, error) {
	if !cw.wroteHeader {
		cw.WriteHeader(http.StatusOK)
	}
	n := len(p)
	if n == 0 {
		return 0, nil
	}
	var err error
	if cw.mode == modePass {
		n, err = cw.w.Write(p)
		if err != nil && !errors.Is(err, http.ErrBodyNotAllowed) {
			cw.failed = true
		}
	}
	cw.written += int64(n)
	if cw.keep {
		if cw.written > cw.max {
			cw.keep, cw.buf = false, nil
		} else {
			cw.buf = append(cw.buf, p[:n]...)
		}
	}
	return n, err
}

// Flush sends what was written so far to the client at once.
func (cw *captureWriter) Flush() {
	if !cw.wroteHeader {
		cw.WriteHeader(http.StatusOK)
	}
	if cw.mode == modePass {
		_ = http.NewResponseController(cw.w).Flush()
	}
}

// Unwrap returns the client's writer, for http.NewResponseController.
func (cw *captureWriter) Unwrap() http.ResponseWriter { return cw.w }

// complete reports whether the body copy holds the whole response. It
// does not once the request's context is done: the client went away (or
// its deadline passed) while the handler ran, and a handler that notices
// may have stopped writing part way through a response without a
// Content-Length.
func (cw *captureWriter) complete() bool {
	if !cw.keep || cw.failed || cw.hijacked || cw.ctx.Err() != nil {
		return false
	}
	if cl := cw.h.Get("Content-Length"); cl != "" {
		n, err := strconv.ParseInt(cl, 10, 64)
		return err == nil && n == int64(len(cw.buf))
	}
	return true
}

// discardWriter is the client of a background revalidation.
type discardWriter struct{ h http.Header }

func (d *discardWriter) Header() http.Header {
	if d.h == nil {
		d.h = make(http.Header)
	}
	return d.h
}
func (d *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (d *discardWriter) WriteHeader(int)             {}
