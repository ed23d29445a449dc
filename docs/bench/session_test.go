package bench

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/alexedwards/scs/redisstore"
	"github.com/alexedwards/scs/v2"
	redigo "github.com/gomodule/redigo/redis"
	"github.com/redis/go-redis/v9"

	"github.com/rediware/rediware/internal/redistest"
	"github.com/rediware/rediware/session"
	"github.com/rediware/rediware/store"
	"github.com/rediware/rediware/store/goredis"
	rwredigo "github.com/rediware/rediware/store/redigo"
)

// sessionCase is one middleware under test, with a logged-in session.
type sessionCase struct {
	name   string
	h      http.Handler
	cookie *http.Cookie
}

func benchPool(addr string, size int) *redigo.Pool {
	return &redigo.Pool{MaxIdle: size, IdleTimeout: time.Minute,
		Dial: func() (redigo.Conn, error) { return redigo.Dial("tcp", addr) }}
}

// sessionCases starts one redis-server and builds, against it: scs with
// scs/redisstore on redigo, and rediware's session.Manager on go-redis
// (with its default automatic pipelining, and with NoAutoPipeline) and on
// redigo. Every handler reads the
// session value "user"; with write it also changes it on every request.
// Pools hold up to 64 connections.
func sessionCases(b *testing.B, write bool) []sessionCase {
	srv := redistest.Start(b)
	const conns = 64

	scsPool := benchPool(srv.Addr(), conns)
	b.Cleanup(func() { scsPool.Close() })
	sm := scs.New()
	sm.Store = redisstore.New(scsPool)

	newClient := func() *redis.Client {
		c := redis.NewClient(&redis.Options{Addr: srv.Addr(), PoolSize: conns, ContextTimeoutEnabled: true})
		b.Cleanup(func() { c.Close() })
		return c
	}
	nopipe, err := goredis.NewWithOptions(newClient(), goredis.Options{NoAutoPipeline: true})
	if err != nil {
		b.Fatal(err)
	}
	rwPool := benchPool(srv.Addr(), conns)
	b.Cleanup(func() { rwPool.Close() })

	handler := func(wrap func(http.Handler) http.Handler, get func(context.Context, string) string,
		put func(context.Context, string, any)) http.Handler {
		n := 0
		var mu sync.Mutex
		return wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/login" {
				put(r.Context(), "user", "user-42")
			} else if write {
				mu.Lock()
				n++
				v := n
				mu.Unlock()
				put(r.Context(), "n", v)
			}
			io.WriteString(w, get(r.Context(), "user"))
		}))
	}
	// Every Redis call bounded, as by default, but by 10s rather than the
	// default 1s: on a loaded 2-core machine some calls do take over 1s.
	// (scs has no bound at all. Timeout: -1, no bound, would make
	// store/redigo run every call through redigo's DoContext, a goroutine
	// and a channel per call, about twice the time of a write.)
	newManager := func(s store.Store) *session.Manager {
		return session.NewManager(s, session.Config{Timeout: 10 * time.Second})
	}
	rw := func(m *session.Manager) http.Handler { return handler(m.LoadAndSave, m.GetString, m.Put) }

	cases := []sessionCase{
		{name: "scs-redisstore-redigo", h: handler(sm.LoadAndSave, sm.GetString, sm.Put)},
		{name: "rediware-goredis", h: rw(newManager(goredis.New(newClient())))},
		{name: "rediware-goredis-nopipeline", h: rw(newManager(nopipe))},
		{name: "rediware-redigo", h: rw(newManager(rwredigo.New(rwPool)))},
	}
	for i := range cases {
		rec := httptest.NewRecorder()
		cases[i].h.ServeHTTP(rec, httptest.NewRequest("GET", "/login", nil))
		for _, c := range rec.Result().Cookies() {
			cases[i].cookie = c
		}
		if cases[i].cookie == nil {
			b.Fatalf("%s: no cookie", cases[i].name)
		}
	}
	return cases
}

// serve sends one request with the session cookie. As net/http does, the
// request gets a context that is cancelled when it ends.
func (c *sessionCase) serve(tb testing.TB) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req := httptest.NewRequestWithContext(ctx, "GET", "/", nil)
	req.AddCookie(c.cookie)
	rec := httptest.NewRecorder()
	c.h.ServeHTTP(rec, req)
	if rec.Code != 200 || rec.Body.String() != "user-42" {
		tb.Errorf("%s: status %d body %q", c.name, rec.Code, rec.Body.String())
	}
}

// BenchmarkSession measures requests that read a logged-in session without
// changing it (the common case: one GET each), with 1 client and with 64
// concurrent clients (goroutines).
func BenchmarkSession(b *testing.B) { benchSession(b, false) }

// BenchmarkSessionWrite is BenchmarkSession with a request that changes the
// session every time (a read and a save each).
func BenchmarkSessionWrite(b *testing.B) { benchSession(b, true) }

func benchSession(b *testing.B, write bool) {
	cases := sessionCases(b, write)
	for _, clients := range []int{1, 64} {
		for _, tc := range cases {
			b.Run(tc.name+"/clients="+strconv.Itoa(clients), func(b *testing.B) {
				b.ReportAllocs()
				if clients == 1 {
					for b.Loop() {
						tc.serve(b)
					}
					return
				}
				b.SetParallelism(clients / runtime.GOMAXPROCS(0))
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						tc.serve(b)
					}
				})
			})
		}
	}
}

// BenchmarkSessionInterleaved compares the same cases under the same load:
// each iteration serves a round of 2000 requests (with 1 or 64 clients)
// through every case in turn, and the time of each case is summed across
// rounds. On a shared machine whose load changes during the run, this keeps
// the comparison fair where separate sub-benchmarks would not. It reports
// µs per request for each case and the speed-up over scs+redisstore.
//
//	go test -run '^$' -bench SessionInterleaved -benchtime 10x
func BenchmarkSessionInterleaved(b *testing.B) {
	for _, write := range []bool{false, true} {
		kind := "read"
		if write {
			kind = "write"
		}
		cases := sessionCases(b, write)
		for _, clients := range []int{1, 64} {
			b.Run(fmt.Sprintf("%s/clients=%d", kind, clients), func(b *testing.B) {
				const round = 2000
				total := make([]time.Duration, len(cases))
				var n int
				for b.Loop() {
					for i := range cases {
						total[i] += serveRound(b, &cases[i], clients, round)
					}
					n += round
				}
				for i, tc := range cases {
					b.ReportMetric(float64(total[i].Microseconds())/float64(n), tc.name+"-µs/req")
					if i > 0 {
						b.ReportMetric(float64(total[0])/float64(total[i]), tc.name+"-x")
					}
				}
			})
		}
	}
}

// serveRound serves n requests through c with the given number of
// concurrent clients and returns the wall time.
func serveRound(tb testing.TB, c *sessionCase, clients, n int) time.Duration {
	start := time.Now()
	if clients == 1 {
		for range n {
			c.serve(tb)
		}
		return time.Since(start)
	}
	var wg sync.WaitGroup
	per := n / clients
	for range clients {
		wg.Go(func() {
			for range per {
				c.serve(tb)
			}
		})
	}
	wg.Wait()
	return time.Since(start) * time.Duration(n) / time.Duration(per*clients)
}
