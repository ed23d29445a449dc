package responsecache_test

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/rediware/rediware/internal/redistest"
	"github.com/rediware/rediware/store"
	"github.com/rediware/rediware/store/goredis"
)

// miniStore returns a store on a fresh miniredis.
func miniStore(t testing.TB) (store.Store, *miniredis.Miniredis) {
	t.Helper()
	mr := miniredis.RunT(t)
	c := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { c.Close() })
	return goredis.New(c), mr
}

// realStore returns a store on a real redis-server, and the server.
func realStore(t testing.TB) (store.Store, *redistest.Server) {
	t.Helper()
	srv := redistest.Start(t)
	c := redis.NewClient(&redis.Options{Addr: srv.Addr(), MaxRetries: -1, DialTimeout: 200 * time.Millisecond, ReadTimeout: 200 * time.Millisecond, WriteTimeout: 200 * time.Millisecond})
	t.Cleanup(func() { c.Close() })
	return goredis.New(c), srv
}

// httpDate formats now+offset seconds.
func httpDate(offset int) string {
	return time.Now().Add(time.Duration(offset) * time.Second).UTC().Format(http.TimeFormat)
}

// origin is a scripted origin server that counts requests.
type origin struct {
	mu   sync.Mutex
	reqs []*http.Request
	fn   func(w http.ResponseWriter, r *http.Request)
}

func (o *origin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	o.mu.Lock()
	o.reqs = append(o.reqs, r.Clone(r.Context()))
	fn := o.fn
	o.mu.Unlock()
	fn(w, r)
}

func (o *origin) count() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.reqs)
}

func (o *origin) last() *http.Request {
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.reqs) == 0 {
		return nil
	}
	return o.reqs[len(o.reqs)-1]
}

func (o *origin) set(fn func(w http.ResponseWriter, r *http.Request)) {
	o.mu.Lock()
	o.fn = fn
	o.mu.Unlock()
}

// respond returns an origin function answering status with header pairs
// and body.
func respond(status int, body string, kv ...string) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i+1 < len(kv); i += 2 {
			w.Header().Add(kv[i], kv[i+1])
		}
		if body != "" {
			w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		}
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}
}

// get sends a request through h.
func send(h http.Handler, method, target string, kv ...string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, target, nil)
	for i := 0; i+1 < len(kv); i += 2 {
		r.Header.Add(kv[i], kv[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}
