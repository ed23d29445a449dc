package ratelimit_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/go-chi/chi/v5"
	"github.com/redis/go-redis/v9"

	"github.com/rediware/rediware/middleware"
	"github.com/rediware/rediware/ratelimit"
	"github.com/rediware/rediware/store/goredis"
)

// exampleStore returns a store over an in-memory miniredis, so that the
// examples run anywhere; use a real Redis in production. Its clock (what
// TIME returns to the script) is frozen, so that the printed times do not
// depend on how long the example takes to run.
func exampleStore() (*goredis.Store, func()) {
	mr, err := miniredis.Run()
	if err != nil {
		panic(err)
	}
	mr.SetTime(time.Unix(1_700_000_000, 0))
	c := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	return goredis.New(c), func() { _ = c.Close(); mr.Close() }
}

func ExampleNew() {
	s, done := exampleStore()
	defer done()

	logins := ratelimit.New(s, ratelimit.PerMinute(3).WithName("login"))
	for range 4 {
		res, err := logins.Allow(context.Background(), "alice@example.com")
		if err != nil {
			fmt.Println("error:", err)
			return
		}
		fmt.Println(res.Allowed, res.Remaining)
	}
	// Output:
	// true 2
	// true 1
	// true 0
	// false 0
}

func ExampleNewWithOptions() {
	s, done := exampleStore()
	defer done()

	l, err := ratelimit.NewWithOptions(s, ratelimit.Options{
		Name: "api",
		Limits: []ratelimit.Limit{
			ratelimit.PerSecond(10).WithBurst(20).WithName("burst"),
			ratelimit.PerHour(1000).WithName("hourly").WithAlgorithm(ratelimit.SlidingWindowCounter),
		},
		Failure: ratelimit.FailOpen,
	})
	if err != nil {
		panic(err)
	}
	res, err := l.AllowN(context.Background(), "api-key-42", 5)
	if err != nil {
		panic(err)
	}
	for _, p := range res.Policies {
		fmt.Println(p.Limit.Name, p.Allowed, p.Remaining)
	}
	// Output:
	// burst true 15
	// hourly true 995
}

func ExampleMiddleware() {
	s, done := exampleStore()
	defer done()

	ip := &middleware.ClientIP{} // add TrustedProxies behind a load balancer
	global, _ := ratelimit.NewWithOptions(s, ratelimit.Options{
		Name: "global", Limits: []ratelimit.Limit{ratelimit.PerMinute(100).WithName("global")},
	})
	search, _ := ratelimit.NewWithOptions(s, ratelimit.Options{
		Name: "search", Limits: []ratelimit.Limit{ratelimit.PerMinute(1).WithName("search")},
	})

	r := chi.NewRouter()
	r.Use(ratelimit.Middleware(global, ratelimit.MiddlewareOptions{Key: ratelimit.ByIP(ip)}))
	r.With(ratelimit.Middleware(search, ratelimit.MiddlewareOptions{Key: ratelimit.ByIP(ip)})).
		Get("/search", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("results")) })

	for range 2 {
		req := httptest.NewRequest(http.MethodGet, "/search", nil)
		req.RemoteAddr = "192.0.2.1:4321"
		w := httptest.NewRecorder()
		r.ServeHTTP(w, req)
		fmt.Printf("%d %q Retry-After=%q\n", w.Code, w.Header().Values("RateLimit-Policy"), w.Header().Get("Retry-After"))
	}
	// Output:
	// 200 ["\"global\";q=100;w=60" "\"search\";q=1;w=60"] Retry-After=""
	// 429 ["\"global\";q=100;w=60" "\"search\";q=1;w=60"] Retry-After="60"
}

func ExamplePerMinute() {
	fmt.Println(ratelimit.PerMinute(100))
	fmt.Println(ratelimit.PerSecond(10).WithBurst(50).WithAlgorithm(ratelimit.TokenBucket))
	fmt.Println(ratelimit.Per(5, 200*time.Millisecond).WithAlgorithm(ratelimit.SlidingWindowLog))
	// Output:
	// 100 per 1m0s (gcra, burst 100)
	// 10 per 1s (tb, burst 50)
	// 5 per 200ms (swl)
}

// A global limit on every route and a tighter one on /search, decided
// together on /search: a search the route policy denies costs the global
// budget nothing, unlike two stacked middlewares.
func ExampleLimiter_With() {
	s, done := exampleStore()
	defer done()

	global, _ := ratelimit.NewWithOptions(s, ratelimit.Options{
		Name: "api", Limits: []ratelimit.Limit{ratelimit.PerMinute(100).WithName("global")},
	})
	search, _ := global.With(ratelimit.PerMinute(1).WithName("search"))
	byIP := ratelimit.MiddlewareOptions{Key: ratelimit.ByIP(&middleware.ClientIP{})}

	r := chi.NewRouter()
	r.Group(func(r chi.Router) { // the global limiter on every route but /search
		r.Use(ratelimit.Middleware(global, byIP))
		r.Get("/", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("home")) })
	})
	// global and search, all or nothing
	r.With(ratelimit.Middleware(search, byIP)).
		Get("/search", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("results")) })

	for _, path := range []string{"/search", "/search", "/search", "/"} {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		req.RemoteAddr = "192.0.2.1:4321"
		w := httptest.NewRecorder()
		r.ServeHTTP(w, req)
		fmt.Printf("%s %d %q\n", path, w.Code, w.Header().Values("RateLimit"))
	}
	// Output:
	// /search 200 ["\"global\";r=99;t=1, \"search\";r=0;t=60"]
	// /search 429 ["\"global\";r=99;t=1, \"search\";r=0;t=60"]
	// /search 429 ["\"global\";r=99;t=1, \"search\";r=0;t=60"]
	// / 200 ["\"global\";r=98;t=2"]
}
