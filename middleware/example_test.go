package middleware_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/go-chi/chi/v5"

	"github.com/rediware/rediware/middleware"
)

func ExampleChain() {
	say := func(word string) func(http.Handler) http.Handler {
		return func(next http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				fmt.Println(word)
				next.ServeHTTP(w, r)
			})
		}
	}
	h := middleware.Chain(say("outer"), nil, say("inner"))(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Println("handler")
	}))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))
	// Output:
	// outer
	// inner
	// handler
}

func ExampleWrapWriter() {
	// A middleware that stamps a header just before the response goes out,
	// whatever the handler does first: WriteHeader, Write, Flush or io.Copy.
	stamp := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ww := middleware.WrapWriter(w)
			ww.Before(func(status int) {
				ww.Header().Set("X-Status-Seen", fmt.Sprint(status))
			})
			next.ServeHTTP(ww, r)
			fmt.Println("status:", ww.Status(), "bytes:", ww.BytesWritten())
		})
	}
	h := stamp(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "hello") // implicit 200
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	fmt.Println("header:", rec.Header().Get("X-Status-Seen"))
	// Output:
	// status: 200 bytes: 5
	// header: 200
}

func ExampleClientIP() {
	proxies, err := middleware.ParseTrustedProxies("10.0.0.0/8")
	if err != nil {
		panic(err)
	}
	ip := &middleware.ClientIP{TrustedProxies: proxies}

	// Through the load balancer at 10.0.0.5: the client spoofed 6.6.6.6, but
	// the balancer appended the real peer, 198.51.100.7.
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.RemoteAddr = "10.0.0.5:41000"
	r.Header.Set("X-Forwarded-For", "6.6.6.6, 198.51.100.7")
	fmt.Println(ip.Addr(r))

	// Straight from the internet: the header is ignored.
	r.RemoteAddr = "203.0.113.9:5000"
	fmt.Println(ip.Addr(r))
	// Output:
	// 198.51.100.7
	// 203.0.113.9
}

func ExampleClientIP_Key() {
	var ip middleware.ClientIP // zero value: trust no proxy
	for _, addr := range []string{"192.0.2.1:80", "[2001:db8:1:2:aaaa::1]:80", "[::ffff:192.0.2.1]:80", "garbage"} {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.RemoteAddr = addr
		fmt.Println(ip.Key(r))
	}
	// Output:
	// 192.0.2.1
	// 2001:db8:1:2::/64
	// 192.0.2.1
	// invalid
}

func ExampleClientIP_AppendKey() {
	ip := &middleware.ClientIP{IPv6Prefix: 48}
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.RemoteAddr = "[2001:db8:1:2::1]:80"
	buf := make([]byte, 0, 64)
	buf = ip.AppendKey(append(buf, "rl:"...), r)
	fmt.Println(string(buf))
	// Output:
	// rl:2001:db8:1::/48
}

func ExampleParseTrustedProxies() {
	proxies, err := middleware.ParseTrustedProxies("127.0.0.1, ::1, 10.0.0.0/8, 192.168.7.9/24")
	fmt.Println(proxies, err)

	_, err = middleware.ParseTrustedProxies("10.0.0.0/8, localhost")
	fmt.Println(err)
	// Output:
	// [127.0.0.1/32 ::1/128 10.0.0.0/8 192.168.7.0/24] <nil>
	// middleware: invalid trusted proxy "localhost": ParseAddr("localhost"): unable to parse IP
}

func ExampleRoutePattern() {
	show := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Println(middleware.RoutePattern(r))
			next.ServeHTTP(w, r)
		})
	}
	noop := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})

	mux := http.NewServeMux()
	mux.Handle("GET /users/{id}", show(noop))
	mux.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/users/42", nil))

	r := chi.NewRouter()
	r.Route("/api", func(r chi.Router) {
		r.With(show).Get("/users/{id}", noop)
	})
	r.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/api/users/42", nil))
	// Output:
	// /users/{id}
	// /api/users/{id}
}

func ExampleRouteMethodPattern() {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /users/{id}", func(w http.ResponseWriter, r *http.Request) {
		fmt.Println(middleware.RouteMethodPattern(r))
	})
	mux.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/users/42", nil))
	// Output:
	// GET /users/{id}
}

func ExampleURLParam() {
	h := func(w http.ResponseWriter, r *http.Request) {
		fmt.Println(middleware.URLParam(r, "id"))
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /users/{id}", h)
	mux.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/users/7", nil))

	r := chi.NewRouter()
	r.Get("/users/{id}", h)
	r.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/users/8", nil))
	// Output:
	// 7
	// 8
}

func ExampleWriteProblem() {
	rec := httptest.NewRecorder()
	middleware.WriteProblem(rec, middleware.Problem{
		Status:     http.StatusTooManyRequests,
		Detail:     "Rate limit of 10 requests per second exceeded.",
		Extensions: map[string]any{"retry_after": 1},
	})
	fmt.Println(rec.Code, rec.Header().Get("Content-Type"), rec.Header().Get("X-Content-Type-Options"))
	fmt.Println(rec.Body.String())
	// Output:
	// 429 application/problem+json nosniff
	// {"type":"about:blank","title":"Too Many Requests","status":429,"detail":"Rate limit of 10 requests per second exceeded.","retry_after":1}
}
