package middleware_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/rediware/rediware/middleware"
)

func tag(name string, trail *[]string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			*trail = append(*trail, name)
			next.ServeHTTP(w, r)
			*trail = append(*trail, "/"+name)
		})
	}
}

func TestChain_first_is_outermost(t *testing.T) {
	var trail []string
	h := middleware.Chain(tag("a", &trail), tag("b", &trail), tag("c", &trail))(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		trail = append(trail, "h")
	}))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))
	if got := strings.Join(trail, " "); got != "a b c h /c /b /a" {
		t.Fatalf("order %q", got)
	}
}

func TestChain_skips_nil(t *testing.T) {
	var trail []string
	h := middleware.Chain(nil, tag("a", &trail), nil)(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		trail = append(trail, "h")
	}))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))
	if got := strings.Join(trail, " "); got != "a h /a" {
		t.Fatalf("order %q", got)
	}
}

func TestChain_empty_returns_handler(t *testing.T) {
	h := http.NotFoundHandler()
	got := middleware.Chain()(h)
	rec := httptest.NewRecorder()
	got.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	if rec.Code != http.StatusNotFound {
		t.Fatalf("status %d, want 404", rec.Code)
	}
}

func TestChain_ignores_later_changes_to_callers_slice(t *testing.T) {
	var trail []string
	mws := []func(http.Handler) http.Handler{tag("a", &trail)}
	chain := middleware.Chain(mws...)
	mws[0] = tag("z", &trail)
	chain(http.NotFoundHandler()).ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))
	if got := strings.Join(trail, " "); got != "a /a" {
		t.Fatalf("order %q", got)
	}
}

func TestChain_nil_handler_panics(t *testing.T) {
	defer func() {
		if r := recover(); r == nil || !strings.Contains(r.(string), "middleware: Chain") {
			t.Fatalf("recovered %v, want a Chain panic", r)
		}
	}()
	middleware.Chain()(nil)
}
