package middleware_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/go-chi/chi/v5"

	"github.com/rediware/rediware/middleware"
)

// routeSeen records what a middleware saw before and after calling next.
type routeSeen struct {
	method, before, after, param string
}

func recordRoute(seen *routeSeen) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			seen.method, seen.before = middleware.RouteMethodPattern(r)
			seen.param = middleware.URLParam(r, "id")
			next.ServeHTTP(w, r)
			seen.after = middleware.RoutePattern(r)
		})
	}
}

var okHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})

func serve(h http.Handler, method, target string) int {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, target, nil))
	return rec.Code
}

func TestRoutePattern_chi_With_on_route(t *testing.T) {
	var seen routeSeen
	r := chi.NewRouter()
	r.With(recordRoute(&seen)).Get("/users/{id}", okHandler)
	serve(r, http.MethodGet, "/users/42")
	if seen.before != "/users/{id}" || seen.method != "GET" || seen.param != "42" {
		t.Fatalf("saw %+v", seen)
	}
}

func TestRoutePattern_chi_Route_group(t *testing.T) {
	var seen routeSeen
	r := chi.NewRouter()
	r.Route("/api", func(r chi.Router) {
		r.Route("/v1", func(r chi.Router) {
			r.With(recordRoute(&seen)).Post("/users/{id}/orders", okHandler)
		})
	})
	serve(r, http.MethodPost, "/api/v1/users/7/orders")
	if seen.before != "/api/v1/users/{id}/orders" || seen.method != "POST" || seen.param != "7" {
		t.Fatalf("saw %+v", seen)
	}
}

func TestRoutePattern_chi_mounted_subrouter(t *testing.T) {
	var seen routeSeen
	sub := chi.NewRouter()
	sub.With(recordRoute(&seen)).Get("/{id}", okHandler)
	r := chi.NewRouter()
	r.Mount("/users", sub)
	serve(r, http.MethodGet, "/users/9")
	if seen.before != "/users/{id}" || seen.param != "9" {
		t.Fatalf("saw %+v", seen)
	}
}

func TestRoutePattern_chi_Use_sees_pattern_after_next(t *testing.T) {
	var seen routeSeen
	r := chi.NewRouter()
	r.Use(recordRoute(&seen))
	r.Get("/users/{id}", okHandler)
	serve(r, http.MethodGet, "/users/42")
	if seen.before != "" || seen.after != "/users/{id}" {
		t.Fatalf("saw %+v, want empty before next and the pattern after", seen)
	}
}

func TestRoutePattern_ServeMux_strips_method(t *testing.T) {
	var seen routeSeen
	mux := http.NewServeMux()
	mux.Handle("GET /users/{id}", recordRoute(&seen)(okHandler))
	serve(mux, http.MethodGet, "/users/42")
	if seen.before != "/users/{id}" || seen.method != "GET" || seen.param != "42" {
		t.Fatalf("saw %+v", seen)
	}
}

func TestRoutePattern_ServeMux_any_method_and_host(t *testing.T) {
	for _, tc := range []struct {
		pattern, target, wantMethod, wantPattern string
	}{
		{"/files/{path...}", "/files/a/b", "", "/files/{path...}"},
		{"example.com/users/{id}", "http://example.com/users/1", "", "example.com/users/{id}"},
		{"DELETE example.com/users/{id}", "http://example.com/users/1", "DELETE", "example.com/users/{id}"},
	} {
		t.Run(tc.pattern, func(t *testing.T) {
			var seen routeSeen
			mux := http.NewServeMux()
			mux.Handle(tc.pattern, recordRoute(&seen)(okHandler))
			method := tc.wantMethod
			if method == "" {
				method = http.MethodGet
			}
			serve(mux, method, tc.target)
			if seen.method != tc.wantMethod || seen.before != tc.wantPattern {
				t.Fatalf("got (%q, %q), want (%q, %q)", seen.method, seen.before, tc.wantMethod, tc.wantPattern)
			}
		})
	}
}

func TestRoutePattern_ServeMux_wrapping_middleware_sees_pattern_after_next(t *testing.T) {
	var seen routeSeen
	mux := http.NewServeMux()
	mux.Handle("GET /users/{id}", okHandler)
	serve(recordRoute(&seen)(mux), http.MethodGet, "/users/42")
	if seen.before != "" || seen.after != "/users/{id}" {
		t.Fatalf("saw %+v, want empty before next and the pattern after", seen)
	}
}

func TestRoutePattern_no_router(t *testing.T) {
	r := httptest.NewRequest(http.MethodGet, "/x", nil)
	if m, p := middleware.RouteMethodPattern(r); m != "" || p != "" {
		t.Fatalf("got (%q, %q), want empty", m, p)
	}
	if v := middleware.URLParam(r, "id"); v != "" {
		t.Fatalf("URLParam = %q, want empty", v)
	}
}

func TestURLParam_ServeMux_inside_chi(t *testing.T) {
	var got string
	mux := http.NewServeMux()
	mux.HandleFunc("GET /items/{id}", func(w http.ResponseWriter, r *http.Request) {
		got = middleware.URLParam(r, "id")
	})
	r := chi.NewRouter()
	r.Mount("/", mux)
	serve(r, http.MethodGet, "/items/5")
	if got != "5" {
		t.Fatalf("URLParam = %q, want 5", got)
	}
}

func TestURLParam_is_decoded_with_chi_and_ServeMux(t *testing.T) {
	var got []string
	record := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = append(got, middleware.URLParam(r, "id"))
	})
	r := chi.NewRouter()
	r.Get("/c/{id}", record)
	mux := http.NewServeMux()
	mux.Handle("GET /m/{id}", record)
	for _, tc := range []struct {
		h    http.Handler
		path string
		want string
	}{
		{r, "/c/A", "A"},
		{r, "/c/%41", "A"},     // RawPath kept: chi saw "%41"
		{r, "/c/a%2Fb", "a/b"}, // RawPath kept: chi saw "a%2Fb"
		{r, "/c/%2541", "%41"}, // no RawPath: chi saw the decoded "%41", not to be decoded again
		{mux, "/m/%41", "A"},
		{mux, "/m/a%2Fb", "a/b"},
	} {
		got = nil
		tc.h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", tc.path, nil))
		if len(got) != 1 || got[0] != tc.want {
			t.Errorf("%s: URLParam = %q, want %q", tc.path, got, tc.want)
		}
	}
}
