package bench

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/alexedwards/scs/redisstore"
	"github.com/alexedwards/scs/v2"
	redigo "github.com/gomodule/redigo/redis"
	"github.com/redis/go-redis/v9"

	"github.com/rediware/rediware/internal/redistest"
	"github.com/rediware/rediware/session"
	"github.com/rediware/rediware/store/goredis"
	rwredigo "github.com/rediware/rediware/store/redigo"
)

// sessionMiddleware is what the benchmark compares: a middleware, the
// function that reads the session value, and the one that writes it.
type sessionMiddleware struct {
	wrap func(http.Handler) http.Handler
	get  func(ctx context.Context) string
	put  func(ctx context.Context, v string)
}

func benchPool(addr string, size int) *redigo.Pool {
	return &redigo.Pool{MaxIdle: size, IdleTimeout: time.Minute,
		Dial: func() (redigo.Conn, error) { return redigo.Dial("tcp", addr) }}
}

// BenchmarkSession measures requests that read a logged-in session without
// changing it (the common case: one GET each), through scs with
// scs/redisstore on redigo and through rediware's session.Manager on
// go-redis (with and without auto-pipelining) and on redigo, with 1 client
// and with 64 concurrent clients, against one redis-server.
func BenchmarkSession(b *testing.B) { benchSession(b, false) }

// BenchmarkSessionWrite is BenchmarkSession with a request that changes
// the logged-in session every time (a read and a save each). rediware's
// save of a logged-in session is two calls (user index, then session).
func BenchmarkSessionWrite(b *testing.B) { benchSession(b, true) }

func benchSession(b *testing.B, write bool) {
	srv := redistest.Start(b)
	const conns = 64

	scsPool := benchPool(srv.Addr(), conns)
	defer scsPool.Close()
	sm := scs.New()
	sm.Store = redisstore.New(scsPool)

	newClient := func() *redis.Client {
		return redis.NewClient(&redis.Options{Addr: srv.Addr(), PoolSize: conns, ContextTimeoutEnabled: true})
	}
	c1, c2 := newClient(), newClient()
	defer c1.Close()
	defer c2.Close()
	plain := goredis.New(c1)
	auto, err := goredis.NewWithOptions(c2, goredis.Options{AutoPipeline: true})
	if err != nil {
		b.Fatal(err)
	}
	rwPool := benchPool(srv.Addr(), conns)
	defer rwPool.Close()

	rw := func(m *session.Manager) sessionMiddleware {
		return sessionMiddleware{m.LoadAndSave, func(ctx context.Context) string { return m.GetString(ctx, "user") },
			func(ctx context.Context, v string) { m.Put(ctx, "user", v) }}
	}
	cases := []struct {
		name string
		mw   sessionMiddleware
	}{
		{"scs-redisstore-redigo", sessionMiddleware{sm.LoadAndSave, func(ctx context.Context) string { return sm.GetString(ctx, "user") },
			func(ctx context.Context, v string) { sm.Put(ctx, "user", v) }}},
		{"rediware-goredis", rw(session.New(plain))},
		{"rediware-goredis-autopipeline", rw(session.New(auto))},
		{"rediware-redigo", rw(session.New(rwredigo.New(rwPool)))},
	}
	for _, clients := range []int{1, 64} {
		for _, tc := range cases {
			b.Run(tc.name+"/clients="+strconv.Itoa(clients), func(b *testing.B) {
				h := tc.mw.wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if r.URL.Path == "/login" || write {
						tc.mw.put(r.Context(), "user-42")
					}
					io.WriteString(w, tc.mw.get(r.Context()))
				}))
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, httptest.NewRequest("GET", "/login", nil))
				var cookie *http.Cookie
				for _, c := range rec.Result().Cookies() {
					cookie = c
				}
				if cookie == nil {
					b.Fatal("no cookie")
				}
				one := func() {
					// As net/http does, every request gets a context that is
					// cancelled when it ends.
					ctx, cancel := context.WithCancel(context.Background())
					defer cancel()
					req := httptest.NewRequestWithContext(ctx, "GET", "/", nil)
					req.AddCookie(cookie)
					rec := httptest.NewRecorder()
					h.ServeHTTP(rec, req)
					if rec.Code != 200 || rec.Body.String() != "user-42" {
						b.Errorf("status %d body %q", rec.Code, rec.Body.String())
					}
				}
				b.ReportAllocs()
				b.ResetTimer()
				if clients == 1 {
					for b.Loop() {
						one()
					}
					return
				}
				b.SetParallelism(clients / runtime.GOMAXPROCS(0))
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						one()
					}
				})
			})
		}
	}
}
