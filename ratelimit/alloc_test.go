package ratelimit_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/rediware/rediware/ratelimit"
	"github.com/rediware/rediware/store"
)

// replyStore answers every Eval with one fixed reply, allocating nothing, so
// that a benchmark sees only the middleware's own allocations.
type replyStore struct{ reply any }

var errNotUsed = errors.New("not used")

func (s replyStore) Get(context.Context, string) ([]byte, bool, error)        { return nil, false, errNotUsed }
func (s replyStore) Set(context.Context, string, []byte, time.Duration) error { return errNotUsed }
func (s replyStore) Delete(context.Context, ...string) (int64, error)         { return 0, errNotUsed }
func (s replyStore) Expire(context.Context, string, time.Duration) (bool, error) {
	return false, errNotUsed
}
func (s replyStore) Publish(context.Context, string, []byte) (int64, error) { return 0, errNotUsed }
func (s replyStore) SetNX(context.Context, string, []byte, time.Duration) (bool, error) {
	return false, errNotUsed
}
func (s replyStore) TTL(context.Context, string) (time.Duration, bool, error) {
	return 0, false, errNotUsed
}
func (s replyStore) Subscribe(context.Context, []string, []string) (store.Subscription, error) {
	return nil, errNotUsed
}
func (s replyStore) Scan(context.Context, string, int, func([]string) error) error { return errNotUsed }
func (s replyStore) Eval(context.Context, *store.Script, []string, ...any) (any, error) {
	return s.reply, nil
}

// discard is a ResponseWriter that keeps one reusable header map.
type discard struct{ h http.Header }

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(p []byte) (int, error) { return len(p), nil }
func (d *discard) WriteHeader(int)             {}

func middlewareAllocs(t testing.TB, allowed bool) float64 {
	reply := []any{int64(1), int64(1), int64(7), int64(0), int64(300_000)}
	if !allowed {
		reply = []any{int64(0), int64(0), int64(0), int64(250_000), int64(1_000_000)}
	}
	l := ratelimit.New(replyStore{reply}, ratelimit.PerSecond(10))
	h := l.Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	if !allowed {
		h = ratelimit.Middleware(l, ratelimit.MiddlewareOptions{
			DenyHandler: func(w http.ResponseWriter, r *http.Request, res *ratelimit.Result) { w.WriteHeader(429) },
		})(nil2(h))
	}
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.RemoteAddr = "192.0.2.1:1234"
	w := &discard{h: http.Header{}}
	return testing.AllocsPerRun(1000, func() {
		clear(w.h)
		h.ServeHTTP(w, r)
	})
}

// nil2 returns a do-nothing handler (the deny path never reaches it).
func nil2(http.Handler) http.Handler {
	return http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
}

func TestMiddleware_allocates_at_most_3_times_per_decision(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector changes allocation counts")
	}
	for _, allowed := range []bool{true, false} {
		if n := middlewareAllocs(t, allowed); n > 3 {
			t.Errorf("allowed=%v: %.1f allocations per request, want <= 3", allowed, n)
		}
	}
}

func BenchmarkMiddleware_own_allocations(b *testing.B) {
	reply := []any{int64(1), int64(1), int64(7), int64(0), int64(300_000)}
	l := ratelimit.New(replyStore{reply}, ratelimit.PerSecond(10))
	h := l.Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.RemoteAddr = "192.0.2.1:1234"
	w := &discard{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		clear(w.h)
		h.ServeHTTP(w, r)
	}
}
