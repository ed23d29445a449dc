package locking

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/rediware/rediware/middleware"
)

// FailurePolicy says what RouteLock does when the lock cannot be asked for
// because Redis is unavailable (store.ErrUnavailable and other store
// errors).
type FailurePolicy int

const (
	// FailClosed refuses the request with 503 Service Unavailable: no
	// request runs unserialised. It is the default, because a route is
	// locked precisely when running it twice at once is harmful.
	FailClosed FailurePolicy = iota

	// FailOpen runs the handler without a lock (FromContext returns nil).
	// Choose it when the lock only saves duplicate work.
	FailOpen
)

// RouteLock is a middleware that lets one request at a time run per lock
// key, the key being made of the request method (HEAD counting as GET,
// whose handler it runs), the matched route pattern, chosen URL parameters
// and, optionally, a caller-supplied part such as the user ID. Other
// requests for the same key get 409 Conflict with Retry-After (fail-fast,
// the default) or wait a bounded time first.
//
// Mount it on the routes it guards, where the router has already matched
// the pattern and URL parameters:
//
//	rl := &locking.RouteLock{Locker: locker, Params: []string{"id"}, TTL: 30 * time.Second}
//	r.With(rl.Handler).Post("/invoices/{id}/pay", pay)            // chi
//	mux.Handle("POST /invoices/{id}/pay", rl.Handler(payHandler)) // ServeMux
//
// With chi, r.With inside r.Route works too. A chi r.Use inside a sub-router
// runs before the rest of the path is routed: the pattern then ends in
// "/*" and URL parameters are not known yet, so a request naming Params
// gets 500 (programming error) rather than a lock on the wrong key.
//
// The handler's request context carries the lock (FromContext) and is
// cancelled as soon as the lock is lost; the lock is released when the
// handler returns or panics (the panic then continues), with a fresh
// context so that a client that went away does not leave it held.
//
// TTL versus handler duration: the lock must outlive the handler. Either
// set TTL no shorter than the handler's timeout (http.Server.WriteTimeout,
// http.TimeoutHandler), or set Watchdog so that the lock is extended every
// TTL/3 while the handler runs, up to MaxHold. Without the watchdog, the
// request context is cancelled when the TTL elapses.
type RouteLock struct {
	// Locker obtains the locks. Required.
	Locker *Locker

	// TTL is the lock's time to live. Default: 30s.
	TTL time.Duration

	// Params are the URL parameters that are part of the key ("id" in
	// "/invoices/{id}"), read with middleware.URLParam, which decodes
	// them, so "/invoices/%41" and "/invoices/A" share one lock. Default:
	// none (one lock per method and route). A request that was not routed
	// (no pattern) is keyed by its decoded, cleaned path instead. Keys
	// longer than 512 bytes are replaced by their SHA-256, so a client
	// cannot make an unbounded key.
	Params []string

	// KeyFunc, if set, returns one more part of the key, such as the
	// authenticated user's ID to serialise per user. An error is answered
	// with 500 through ErrorHandler.
	KeyFunc func(r *http.Request) (string, error)

	// Wait is how long a request waits for the lock before 409. Default:
	// 0, fail fast. The wait also ends with the request's context.
	Wait time.Duration

	// Retry paces the attempts while waiting. Default:
	// ExponentialBackoff(5ms, 200ms). Ignored when Wait is 0.
	Retry RetryStrategy

	// Watchdog extends the lock while the handler runs, up to MaxHold
	// (default 10×TTL). Default: off.
	Watchdog bool

	// MaxHold caps the watchdog; see ObtainOptions.MaxHold.
	MaxHold time.Duration

	// ReleaseTimeout bounds the release after the handler. Default: 2s.
	ReleaseTimeout time.Duration

	// FailurePolicy applies when Redis cannot be asked. Default: FailClosed.
	FailurePolicy FailurePolicy

	// ErrorHandler writes the response for a refused request: err is a
	// *NotObtainedError (errors.Is ErrNotObtained) when another request
	// holds the lock, a store error (503 under FailClosed), or a key
	// error. Default: DefaultErrorHandler, which never shows err to the
	// client.
	ErrorHandler func(w http.ResponseWriter, r *http.Request, err error)
}

// ErrKey is wrapped by the errors RouteLock passes to its ErrorHandler
// when it cannot build the lock key (a missing URL parameter, a KeyFunc
// error).
var ErrKey = errors.New("locking: cannot build the lock key")

// Middleware returns a fail-fast RouteLock on locker with ttl and the
// URL parameters params; see RouteLock for the options.
func Middleware(locker *Locker, ttl time.Duration, params ...string) func(http.Handler) http.Handler {
	return (&RouteLock{Locker: locker, TTL: ttl, Params: params}).Handler
}

type ctxKey struct{}

// FromContext returns the lock RouteLock holds for the request, or nil
// (no RouteLock, or FailOpen while Redis was down). Its Fence guards the
// handler's writes.
func FromContext(ctx context.Context) *Lock {
	l, _ := ctx.Value(ctxKey{}).(*Lock)
	return l
}

// Handler is the middleware.
func (m *RouteLock) Handler(next http.Handler) http.Handler {
	if m.Locker == nil {
		panic("locking: RouteLock needs a Locker")
	}
	ttl := m.TTL
	if ttl <= 0 {
		ttl = 30 * time.Second
	}
	retry := m.Retry
	if retry == nil {
		retry = ExponentialBackoff(5*time.Millisecond, 200*time.Millisecond)
	}
	releaseTimeout := m.ReleaseTimeout
	if releaseTimeout <= 0 {
		releaseTimeout = 2 * time.Second
	}
	onError := m.ErrorHandler
	if onError == nil {
		onError = DefaultErrorHandler
	}
	opts := &ObtainOptions{Watchdog: m.Watchdog, MaxHold: m.MaxHold}
	params := append([]string(nil), m.Params...)
	keyFunc, wait, policy := m.KeyFunc, m.Wait, m.FailurePolicy
	locker := m.Locker

	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key, err := routeKey(r, params, keyFunc)
		if err != nil {
			onError(w, r, err)
			return
		}
		ctx := r.Context()
		o := *opts
		if wait > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, wait)
			defer cancel()
			o.Retry = retry
		}
		lock, err := locker.Obtain(ctx, key, ttl, &o)
		switch {
		case err == nil:
		case r.Context().Err() != nil:
			return // the client is gone: nothing to answer, nothing to run
		case errors.Is(err, ErrNotObtained):
			onError(w, r, err)
			return
		case policy == FailOpen:
			next.ServeHTTP(w, r)
			return
		default:
			onError(w, r, err)
			return
		}
		defer func() {
			// Runs on panic too; the panic then continues to the server.
			ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), releaseTimeout)
			defer cancel()
			_ = lock.Release(ctx) // a lock that already expired is not an error here
		}()
		hctx, cancel := context.WithCancelCause(context.WithValue(r.Context(), ctxKey{}, lock))
		defer cancel(nil)
		stop := context.AfterFunc(lock.Context(), func() { cancel(context.Cause(lock.Context())) })
		defer stop()
		next.ServeHTTP(w, r.WithContext(hctx))
	})
}

// maxKeyPart is the length past which a route key is replaced by its hash.
const maxKeyPart = 512

// routeKey builds "METHOD pattern?p1=v1&p2=v2#part" (HEAD counting as
// GET), with the values query-escaped so that no value can imitate a
// separator, or "sha256 <hex>" of that when it is longer than maxKeyPart.
func routeKey(r *http.Request, params []string, keyFunc func(*http.Request) (string, error)) (string, error) {
	_, pattern := middleware.RouteMethodPattern(r)
	if pattern == "" {
		// Not routed: the path is the resource, decoded and cleaned so
		// that "/jobs/%78" and "/jobs/./x" are the lock of "/jobs/x".
		pattern = path.Clean("/" + r.URL.Path)
	}
	method := r.Method
	if method == http.MethodHead {
		// A HEAD is a GET without the body: the same handler (ServeMux's
		// "GET /x" serves both) on the same resource, so the same lock.
		method = http.MethodGet
	}
	var b strings.Builder
	b.WriteString(method)
	b.WriteByte(' ')
	b.WriteString(pattern)
	for i, name := range params {
		v := middleware.URLParam(r, name)
		if v == "" {
			return "", fmt.Errorf("%w: URL parameter %q not found in route %q (mount RouteLock on the route, e.g. chi's r.With)", ErrKey, name, pattern)
		}
		if i == 0 {
			b.WriteByte('?')
		} else {
			b.WriteByte('&')
		}
		b.WriteString(url.QueryEscape(name))
		b.WriteByte('=')
		b.WriteString(url.QueryEscape(v))
	}
	if keyFunc != nil {
		part, err := keyFunc(r)
		if err != nil {
			return "", fmt.Errorf("%w: KeyFunc: %w", ErrKey, err)
		}
		b.WriteByte('#')
		b.WriteString(url.QueryEscape(part))
	}
	key := b.String()
	if len(key) > maxKeyPart {
		// Bounded whatever the client sent (the method too): a key Redis
		// refused would be a store error, and so under FailOpen a way to
		// run unlocked. No unhashed key has this form, as every pattern
		// and path contains a '/'.
		h := sha256.Sum256([]byte(key))
		key = "sha256 " + hex.EncodeToString(h[:])
	}
	return key, nil
}

// DefaultErrorHandler answers a request RouteLock refused with an RFC 9457
// problem: 409 Conflict with Retry-After (the holder's remaining TTL,
// rounded up to whole seconds, at least 1) when the lock is held; 500 for
// a key error (also logged with slog, as it is a programming error); 503
// Service Unavailable with Retry-After: 1 otherwise. It never shows err's
// text to the client.
func DefaultErrorHandler(w http.ResponseWriter, r *http.Request, err error) {
	var ne *NotObtainedError
	switch {
	case errors.As(err, &ne):
		secs := int64((ne.HolderTTL + time.Second - 1) / time.Second)
		secs = max(secs, 1)
		w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
		middleware.WriteProblem(w, middleware.Problem{
			Status: http.StatusConflict,
			Detail: "Another request for this resource is in progress. Retry later.",
		})
	case errors.Is(err, ErrKey):
		// A misconfigured route: tell the operator, not the client.
		slog.ErrorContext(r.Context(), "locking: RouteLock", "method", r.Method, "path", r.URL.Path, "err", err)
		middleware.WriteProblem(w, middleware.Problem{Status: http.StatusInternalServerError})
	default:
		w.Header().Set("Retry-After", "1")
		middleware.WriteProblem(w, middleware.Problem{
			Status: http.StatusServiceUnavailable,
			Detail: "The lock service is unavailable. Retry later.",
		})
	}
}
