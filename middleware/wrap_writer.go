package middleware

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
)

// ErrWriteInHook is returned by Write, WriteString and ReadFrom on a
// [WrapResponseWriter] when they are called from a Before hook. Hooks run while the header is being
// sent; they may edit the header map but must not write the body.
var ErrWriteInHook = errors.New("middleware: body written from a Before hook")

// WrapResponseWriter is an http.ResponseWriter that records what the handler
// sent and runs hooks just before the response header goes out.
//
// The value returned by [WrapWriter] also implements io.StringWriter, and
// implements http.Flusher (with FlushError), http.Hijacker and io.ReaderFrom
// only when they work, so type assertions stay truthful:
//
//   - Flush and Hijack when http.NewResponseController(w) would find them,
//     that is on w itself or behind any chain of Unwrap methods;
//   - ReadFrom when w itself is an io.ReaderFrom (going around a wrapper
//     that only has Unwrap would skip whatever that wrapper does to the body).
//
// It implements Unwrap, so http.NewResponseController reaches Flush, Hijack,
// deadlines and full duplex through any stack of wrappers. The deprecated
// http.Pusher (HTTP/2 server push) and http.CloseNotifier (use the request's
// context) are not passed through. Like any
// ResponseWriter it must not be used from several goroutines at once.
type WrapResponseWriter interface {
	http.ResponseWriter

	// Status returns the final status code sent, or 0 if the header has not
	// been sent yet. It is 200 when the handler wrote or flushed without
	// calling WriteHeader. 1xx informational responses (other than 101)
	// are not final and leave Status at 0.
	Status() int

	// BytesWritten returns the number of body bytes accepted by the wrapped
	// writer, through Write and ReadFrom alike.
	BytesWritten() int64

	// HeaderWritten reports whether the final header has been sent (or is
	// being sent: it is already true while Before hooks run). Hijack does
	// not change it.
	HeaderWritten() bool

	// Before registers fn to run exactly once, just before the final header
	// is sent, whichever of WriteHeader, Write, WriteString, Flush or
	// ReadFrom sends it. fn receives the status about to be sent (200 for an
	// implicit one) and may modify Header(), for example to add a
	// Set-Cookie. Hooks run in the order they were registered.
	//
	// Hooks must not write the body: Write, WriteString and ReadFrom called
	// from a hook return [ErrWriteInHook], and WriteHeader and Flush called
	// from a hook are ignored. Before has no effect once HeaderWritten is
	// true or the connection has been hijacked; a nil fn is ignored. Hooks
	// never run if the connection is hijacked, or if nothing at all is
	// written (see [WrapWriter] for finishing such a response).
	Before(fn func(status int))

	// Tee copies every body byte accepted by the wrapped writer to w as well,
	// after it has been written to the client. Errors from w are ignored. A nil
	// w stops the copying; a second call replaces the first writer.
	Tee(w io.Writer)

	// Unwrap returns the wrapped writer, for http.NewResponseController.
	Unwrap() http.ResponseWriter
}

// WrapWriter wraps w in a [WrapResponseWriter]. Wrapping an already wrapped
// writer is fine: each layer keeps its own hooks and counters, and the hooks of
// the innermost layer (the one the handler writes to) run first.
//
// A handler may return without writing anything, leaving net/http to send an
// implicit 200 that no hook sees. A middleware whose hooks must always run
// (to set a cookie, say) finishes the response itself after the handler:
//
//	ww := middleware.WrapWriter(w)
//	ww.Before(setCookie)
//	next.ServeHTTP(ww, r)
//	if !ww.HeaderWritten() {
//		ww.WriteHeader(http.StatusOK) // runs the hooks; a no-op after Hijack
//	}
func WrapWriter(w http.ResponseWriter) WrapResponseWriter {
	var kind int
	if canFlush(w) {
		kind |= kindFlush
	}
	if canHijack(w) {
		kind |= kindHijack
	}
	if _, ok := w.(io.ReaderFrom); ok {
		kind |= kindReadFrom
	}
	switch kind {
	case kindFlush:
		x := &flushWriter{writer{w: w}}
		x.hooks = x.hookBuf[:0]
		return x
	case kindHijack:
		x := &hijackWriter{writer{w: w}}
		x.hooks = x.hookBuf[:0]
		return x
	case kindReadFrom:
		x := &readFromWriter{writer{w: w}}
		x.hooks = x.hookBuf[:0]
		return x
	case kindFlush | kindHijack:
		x := &flushHijackWriter{writer{w: w}}
		x.hooks = x.hookBuf[:0]
		return x
	case kindFlush | kindReadFrom:
		x := &flushReadFromWriter{writer{w: w}}
		x.hooks = x.hookBuf[:0]
		return x
	case kindHijack | kindReadFrom:
		x := &hijackReadFromWriter{writer{w: w}}
		x.hooks = x.hookBuf[:0]
		return x
	case kindFlush | kindHijack | kindReadFrom:
		x := &fullWriter{writer{w: w}}
		x.hooks = x.hookBuf[:0]
		return x
	}
	x := &writer{w: w}
	x.hooks = x.hookBuf[:0]
	return x
}

const (
	kindFlush = 1 << iota
	kindHijack
	kindReadFrom
)

// maxUnwrap bounds the walk down a chain of Unwrap methods, so that a
// wrapper whose Unwrap returns itself cannot hang the request.
const maxUnwrap = 64

type flushErrorer interface{ FlushError() error }

type unwrapper interface{ Unwrap() http.ResponseWriter }

// canFlush reports whether http.NewResponseController(w).Flush would find
// a flush method: it follows the same walk.
func canFlush(w http.ResponseWriter) bool {
	for range maxUnwrap {
		switch t := w.(type) {
		case flushErrorer, http.Flusher:
			return true
		case unwrapper:
			w = t.Unwrap()
		default:
			return false
		}
	}
	return false
}

// canHijack reports whether http.NewResponseController(w).Hijack would find
// a Hijack method.
func canHijack(w http.ResponseWriter) bool {
	for range maxUnwrap {
		switch t := w.(type) {
		case http.Hijacker:
			return true
		case unwrapper:
			w = t.Unwrap()
		default:
			return false
		}
	}
	return false
}

// writer holds the state shared by all variants. It implements exactly the
// WrapResponseWriter interface; the variants below add Flush, Hijack and
// ReadFrom on top.
type writer struct {
	w        http.ResponseWriter
	tee      io.Writer
	hooks    []func(int)
	hookBuf  [2]func(int) // room for the common case without a second allocation
	bytes    int64
	status   int
	wrote    bool
	inHooks  bool
	hijacked bool
}

func (w *writer) Header() http.Header         { return w.w.Header() }
func (w *writer) Status() int                 { return w.status }
func (w *writer) BytesWritten() int64         { return w.bytes }
func (w *writer) HeaderWritten() bool         { return w.wrote }
func (w *writer) Tee(t io.Writer)             { w.tee = t }
func (w *writer) Unwrap() http.ResponseWriter { return w.w }

func (w *writer) Before(fn func(status int)) {
	if fn == nil || w.wrote || w.hijacked {
		return
	}
	w.hooks = append(w.hooks, fn)
}

func (w *writer) WriteHeader(code int) {
	if w.wrote || w.inHooks || w.hijacked {
		return // never a superfluous WriteHeader on the wrapped writer
	}
	if code >= 100 && code <= 199 && code != http.StatusSwitchingProtocols {
		w.w.WriteHeader(code) // informational: not the final header
		return
	}
	w.commit(code)
}

// commit sends the final header: hooks first, then the wrapped WriteHeader.
func (w *writer) commit(code int) {
	if code < 100 || code > 999 {
		// Same programmer error, same message as net/http, but raised
		// before any hook runs.
		panic(fmt.Sprintf("invalid WriteHeader code %v", code))
	}
	w.wrote = true
	w.status = code
	if len(w.hooks) > 0 {
		w.runHooks(code)
	}
	w.w.WriteHeader(code)
}

func (w *writer) runHooks(code int) {
	w.inHooks = true
	defer func() { w.inHooks = false }()
	for i, fn := range w.hooks {
		w.hooks[i] = nil
		fn(code)
	}
	w.hooks = nil
}

func (w *writer) Write(p []byte) (int, error) {
	if w.inHooks {
		return 0, ErrWriteInHook
	}
	if !w.wrote && !w.hijacked {
		w.commit(http.StatusOK)
	}
	n, err := w.w.Write(p)
	w.bytes += int64(n)
	if w.tee != nil && n > 0 {
		_, _ = w.tee.Write(p[:n])
	}
	return n, err
}

// WriteString writes s like Write, without copying it to a byte slice when
// the wrapped writer is an io.StringWriter (as net/http's writers are).
func (w *writer) WriteString(s string) (int, error) {
	sw, ok := w.w.(io.StringWriter)
	if !ok || w.inHooks {
		return w.Write([]byte(s))
	}
	if !w.wrote && !w.hijacked {
		w.commit(http.StatusOK)
	}
	n, err := sw.WriteString(s)
	w.bytes += int64(n)
	if w.tee != nil && n > 0 {
		_, _ = io.WriteString(w.tee, s[:n])
	}
	return n, err
}

func (w *writer) flush() error {
	if w.inHooks {
		return nil
	}
	if w.hijacked {
		return http.ErrHijacked
	}
	if !w.wrote && !w.hijacked {
		w.commit(http.StatusOK)
	}
	switch t := w.w.(type) {
	case flushErrorer:
		return t.FlushError()
	case http.Flusher:
		t.Flush()
		return nil
	}
	return http.NewResponseController(w.w).Flush()
}

func (w *writer) hijack() (net.Conn, *bufio.ReadWriter, error) {
	var (
		c   net.Conn
		brw *bufio.ReadWriter
		err error
	)
	if h, ok := w.w.(http.Hijacker); ok {
		c, brw, err = h.Hijack()
	} else {
		c, brw, err = http.NewResponseController(w.w).Hijack()
	}
	if err == nil {
		w.hijacked = true
		w.hooks = nil
	}
	return c, brw, err
}

// writerOnly hides every method but Write, so io.CopyBuffer cannot loop back
// into ReadFrom.
type writerOnly struct{ io.Writer }

var copyBufPool = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

func (w *writer) readFrom(src io.Reader) (int64, error) {
	if w.inHooks {
		return 0, ErrWriteInHook
	}
	if w.tee != nil || w.hijacked {
		// Go through Write so the tee sees exactly the bytes written.
		bp := copyBufPool.Get().(*[]byte)
		defer copyBufPool.Put(bp)
		return io.CopyBuffer(writerOnly{w}, src, *bp)
	}
	if !w.wrote {
		w.commit(http.StatusOK)
	}
	n, err := w.w.(io.ReaderFrom).ReadFrom(src)
	w.bytes += n
	return n, err
}

type (
	flushWriter          struct{ writer }
	hijackWriter         struct{ writer }
	readFromWriter       struct{ writer }
	flushHijackWriter    struct{ writer }
	flushReadFromWriter  struct{ writer }
	hijackReadFromWriter struct{ writer }
	fullWriter           struct{ writer }
)

func (w *flushWriter) Flush()                    { _ = w.flush() }
func (w *flushWriter) FlushError() error         { return w.flush() }
func (w *flushHijackWriter) Flush()              { _ = w.flush() }
func (w *flushHijackWriter) FlushError() error   { return w.flush() }
func (w *flushReadFromWriter) Flush()            { _ = w.flush() }
func (w *flushReadFromWriter) FlushError() error { return w.flush() }
func (w *fullWriter) Flush()                     { _ = w.flush() }
func (w *fullWriter) FlushError() error          { return w.flush() }

func (w *hijackWriter) Hijack() (net.Conn, *bufio.ReadWriter, error)         { return w.hijack() }
func (w *flushHijackWriter) Hijack() (net.Conn, *bufio.ReadWriter, error)    { return w.hijack() }
func (w *hijackReadFromWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) { return w.hijack() }
func (w *fullWriter) Hijack() (net.Conn, *bufio.ReadWriter, error)           { return w.hijack() }

func (w *readFromWriter) ReadFrom(r io.Reader) (int64, error)       { return w.readFrom(r) }
func (w *flushReadFromWriter) ReadFrom(r io.Reader) (int64, error)  { return w.readFrom(r) }
func (w *hijackReadFromWriter) ReadFrom(r io.Reader) (int64, error) { return w.readFrom(r) }
func (w *fullWriter) ReadFrom(r io.Reader) (int64, error)           { return w.readFrom(r) }

var (
	_ WrapResponseWriter = (*writer)(nil)
	_ io.StringWriter    = (*writer)(nil)
	_ http.Flusher       = (*flushWriter)(nil)
	_ http.Hijacker      = (*hijackWriter)(nil)
	_ io.ReaderFrom      = (*readFromWriter)(nil)
	_ http.Flusher       = (*flushHijackWriter)(nil)
	_ http.Hijacker      = (*flushHijackWriter)(nil)
	_ http.Flusher       = (*flushReadFromWriter)(nil)
	_ io.ReaderFrom      = (*flushReadFromWriter)(nil)
	_ http.Hijacker      = (*hijackReadFromWriter)(nil)
	_ io.ReaderFrom      = (*hijackReadFromWriter)(nil)
	_ http.Flusher       = (*fullWriter)(nil)
	_ http.Hijacker      = (*fullWriter)(nil)
	_ io.ReaderFrom      = (*fullWriter)(nil)
)
