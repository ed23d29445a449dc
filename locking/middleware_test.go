package locking_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/rediware/rediware/locking"
	"github.com/rediware/rediware/store"
)

// blocker is a handler that holds its request until released.
type blocker struct {
	entered chan *locking.Lock
	release chan struct{}
}

func newBlocker() *blocker {
	return &blocker{entered: make(chan *locking.Lock, 10), release: make(chan struct{})}
}

func (b *blocker) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b.entered <- locking.FromContext(r.Context())
	select {
	case <-b.release:
	case <-r.Context().Done():
	}
	w.WriteHeader(http.StatusNoContent)
}

// serve runs h for one request in the background and returns its recorder
// once done.
func serve(h http.Handler, r *http.Request) <-chan *httptest.ResponseRecorder {
	ch := make(chan *httptest.ResponseRecorder, 1)
	go func() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		ch <- w
	}()
	return ch
}

func do(h http.Handler, method, path string) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(method, path, nil))
	return w
}

// wantConflict checks a 409 problem whose Retry-After is the holder's TTL
// ttl rounded up, allowing up to 2s for the time since it was obtained on
// a loaded machine (DefaultErrorHandler's test checks the rounding
// exactly).
func wantConflict(t *testing.T, w *httptest.ResponseRecorder, ttl time.Duration) {
	t.Helper()
	if w.Code != http.StatusConflict {
		t.Fatalf("status = %d, want 409", w.Code)
	}
	hi := int((ttl + time.Second - 1) / time.Second)
	got, err := strconv.Atoi(w.Header().Get("Retry-After"))
	if err != nil || got > hi || got < max(hi-2, 1) {
		t.Fatalf("Retry-After = %q, want %d or a little less", w.Header().Get("Retry-After"), hi)
	}
	if ct := w.Header().Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("Content-Type = %q", ct)
	}
	var p map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil || p["status"] != float64(409) {
		t.Fatalf("body %s: %v", w.Body, err)
	}
}

func TestRouteLock_chi_With_second_request_gets_409_with_Retry_After(t *testing.T) {
	_, s := server(t)
	b := newBlocker()
	rl := &locking.RouteLock{Locker: locking.New(s), TTL: 5 * time.Second, Params: []string{"id"}}
	r := chi.NewRouter()
	r.With(rl.Handler).Post("/items/{id}", b.ServeHTTP)

	first := serve(r, httptest.NewRequest("POST", "/items/1", nil))
	lock := <-b.entered
	if lock == nil || lock.Fence() <= 0 {
		t.Fatalf("handler lock = %v", lock)
	}
	wantConflict(t, do(r, "POST", "/items/1"), 5*time.Second)

	other := serve(r, httptest.NewRequest("POST", "/items/2", nil)) // another id: not serialised
	<-b.entered
	close(b.release)
	if w := <-first; w.Code != http.StatusNoContent {
		t.Fatalf("first = %d", w.Code)
	}
	if w := <-other; w.Code != http.StatusNoContent {
		t.Fatalf("other id = %d", w.Code)
	}
	if w := do(r, "POST", "/items/1"); w.Code != http.StatusNoContent { // released
		t.Fatalf("after release = %d", w.Code)
	}
}

func TestRouteLock_chi_With_inside_Route(t *testing.T) {
	_, s := server(t)
	b := newBlocker()
	rl := &locking.RouteLock{Locker: locking.New(s), TTL: 1500 * time.Millisecond, Params: []string{"id"}}
	r := chi.NewRouter()
	r.Route("/api", func(r chi.Router) {
		r.With(rl.Handler).Put("/docs/{id}", b.ServeHTTP)
	})
	first := serve(r, httptest.NewRequest("PUT", "/api/docs/7", nil))
	<-b.entered
	wantConflict(t, do(r, "PUT", "/api/docs/7"), 1500*time.Millisecond)
	close(b.release)
	<-first
}

func TestRouteLock_chi_Use_in_subrouter_without_params_is_500(t *testing.T) {
	_, s := server(t)
	rl := &locking.RouteLock{Locker: locking.New(s), Params: []string{"id"}}
	r := chi.NewRouter()
	r.Route("/api", func(r chi.Router) {
		r.Use(rl.Handler) // runs before {id} is routed
		r.Put("/docs/{id}", func(w http.ResponseWriter, r *http.Request) {})
	})
	if w := do(r, "PUT", "/api/docs/7"); w.Code != http.StatusInternalServerError {
		t.Fatalf("status = %d, want 500", w.Code)
	}
}

func TestRouteLock_ServeMux(t *testing.T) {
	_, s := server(t)
	b := newBlocker()
	mux := http.NewServeMux()
	mux.Handle("POST /jobs/{name}/run", locking.Middleware(locking.New(s), 3*time.Second, "name")(b))
	first := serve(mux, httptest.NewRequest("POST", "/jobs/x/run", nil))
	<-b.entered
	wantConflict(t, do(mux, "POST", "/jobs/x/run"), 3*time.Second)
	close(b.release)
	<-first
}

func TestRouteLock_HEAD_contends_with_GET_on_the_same_route(t *testing.T) {
	// A HEAD is a GET without the body: it runs the same handler on the
	// same resource, so it must take the same lock.
	_, s := server(t)
	locker := locking.New(s)
	b := newBlocker()
	mux := http.NewServeMux() // "GET /reports/{id}" also serves HEAD
	mux.Handle("GET /reports/{id}", locking.Middleware(locker, 3*time.Second, "id")(b))
	r := chi.NewRouter() // chi: a GET route and a HEAD route on one pattern
	rl := &locking.RouteLock{Locker: locker, TTL: 3 * time.Second, Params: []string{"id"}}
	r.With(rl.Handler).Get("/docs/{id}", b.ServeHTTP)
	r.With(rl.Handler).Head("/docs/{id}", b.ServeHTTP)

	for _, tc := range []struct {
		name          string
		h             http.Handler
		path          string
		first, second string
	}{
		{"ServeMux GET then HEAD", mux, "/reports/1", "GET", "HEAD"},
		{"ServeMux HEAD then GET", mux, "/reports/2", "HEAD", "GET"},
		{"chi GET then HEAD", r, "/docs/1", "GET", "HEAD"},
		{"chi HEAD then GET", r, "/docs/2", "HEAD", "GET"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			first := serve(tc.h, httptest.NewRequest(tc.first, tc.path, nil))
			<-b.entered
			wantConflict(t, do(tc.h, tc.second, tc.path), 3*time.Second)
			b.release <- struct{}{}
			if w := <-first; w.Code != http.StatusNoContent {
				t.Fatalf("first = %d", w.Code)
			}
		})
	}
}

func TestRouteLock_KeyFunc_serialises_per_user(t *testing.T) {
	_, s := server(t)
	b := newBlocker()
	rl := &locking.RouteLock{Locker: locking.New(s), KeyFunc: func(r *http.Request) (string, error) {
		return r.Header.Get("X-User"), nil
	}}
	h := rl.Handler(b)
	req := func(user string) *http.Request {
		r := httptest.NewRequest("POST", "/checkout", nil)
		r.Header.Set("X-User", user)
		return r
	}
	alice := serve(h, req("alice"))
	<-b.entered
	bob := serve(h, req("bob"))
	<-b.entered
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req("alice"))
	if w.Code != http.StatusConflict {
		t.Fatalf("alice twice = %d", w.Code)
	}
	close(b.release)
	<-alice
	<-bob
}

func TestRouteLock_releases_on_panic_and_repanics(t *testing.T) {
	_, s := server(t)
	rl := &locking.RouteLock{Locker: locking.New(s), TTL: time.Minute}
	h := rl.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { panic("boom") }))
	func() {
		defer func() {
			if v := recover(); v != "boom" {
				t.Fatalf("recovered %v, want the handler's panic", v)
			}
		}()
		do(h, "POST", "/x")
	}()
	ok := rl.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	if w := do(ok, "POST", "/x"); w.Code != http.StatusOK {
		t.Fatalf("after panic = %d: lock not released", w.Code)
	}
}

func TestRouteLock_releases_after_client_disconnect(t *testing.T) {
	_, s := server(t)
	b := newBlocker()
	rl := &locking.RouteLock{Locker: locking.New(s), TTL: time.Minute}
	h := rl.Handler(b)
	ctx, cancel := context.WithCancel(t.Context())
	done := serve(h, httptest.NewRequest("POST", "/x", nil).WithContext(ctx))
	<-b.entered
	cancel() // the client goes away; the handler returns
	<-done
	if n, err := countKeys(t, s, "{lock:*"); err != nil || n != 1 { // only the fence counter remains
		t.Fatalf("keys left = %d, %v", n, err)
	}
}

func countKeys(t *testing.T, s store.Store, pattern string) (int, error) {
	t.Helper()
	n := 0
	err := s.Scan(t.Context(), pattern, 0, func(keys []string) error { n += len(keys); return nil })
	return n, err
}

func TestRouteLock_wait_mode_waits_for_the_holder(t *testing.T) {
	_, s := server(t)
	b := newBlocker()
	rl := &locking.RouteLock{Locker: locking.New(s), Wait: 20 * time.Second} // released long before
	h := rl.Handler(b)
	first := serve(h, httptest.NewRequest("POST", "/x", nil))
	<-b.entered
	second := serve(h, httptest.NewRequest("POST", "/x", nil))
	time.Sleep(50 * time.Millisecond)
	select {
	case <-b.entered:
		t.Fatal("second request entered while the first held the lock")
	default:
	}
	b.release <- struct{}{}
	<-first
	<-b.entered // the waiting request gets in
	b.release <- struct{}{}
	if w := <-second; w.Code != http.StatusNoContent {
		t.Fatalf("waiting request = %d", w.Code)
	}
}

func TestRouteLock_wait_mode_gives_up_with_409(t *testing.T) {
	_, s := server(t)
	b := newBlocker()
	// A Wait long enough for the first attempt to be answered on a loaded
	// machine: a wait that ends during it is a store timeout (503).
	rl := &locking.RouteLock{Locker: locking.New(s), TTL: 10 * time.Second, Wait: 500 * time.Millisecond}
	h := rl.Handler(b)
	first := serve(h, httptest.NewRequest("POST", "/x", nil))
	<-b.entered
	begin := time.Now()
	wantConflict(t, do(h, "POST", "/x"), 10*time.Second)
	if d := time.Since(begin); d < 500*time.Millisecond {
		t.Fatalf("gave up after %v, before Wait", d)
	}
	close(b.release)
	<-first
}

func TestRouteLock_request_context_cancelled_when_lock_is_lost(t *testing.T) {
	_, s := server(t)
	cause := make(chan error, 1)
	// The watchdog's extension after TTL/3 = 2s finds the lock deleted;
	// the validity alone would end the context only after 6s.
	rl := &locking.RouteLock{Locker: locking.New(s), TTL: 6 * time.Second, Watchdog: true}
	h := rl.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := s.Delete(r.Context(), "{lock:POST /x}:owner"); err != nil {
			t.Error(err)
		}
		select {
		case <-r.Context().Done():
			cause <- context.Cause(r.Context())
		case <-time.After(5 * time.Second):
			cause <- nil
		}
	}))
	do(h, "POST", "/x")
	if err := <-cause; !errors.Is(err, locking.ErrLockNotHeld) {
		t.Fatalf("cause = %v, want ErrLockNotHeld", err)
	}
}

func TestRouteLock_Redis_down_fails_closed_with_503(t *testing.T) {
	srv, s := server(t)
	called := false
	h := (&locking.RouteLock{Locker: locking.New(s)}).Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { called = true }))
	srv.Kill()
	w := do(h, "POST", "/x")
	if w.Code != http.StatusServiceUnavailable || called {
		t.Fatalf("status = %d, handler called = %v", w.Code, called)
	}
	if ct := w.Header().Get("Content-Type"); ct != "application/problem+json" || w.Header().Get("Retry-After") == "" {
		t.Fatalf("headers = %v", w.Header())
	}
}

func TestRouteLock_Redis_down_fails_open_when_asked(t *testing.T) {
	srv, s := server(t)
	var lock *locking.Lock
	called := false
	rl := &locking.RouteLock{Locker: locking.New(s), FailurePolicy: locking.FailOpen}
	h := rl.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		called, lock = true, locking.FromContext(r.Context())
	}))
	srv.Kill()
	if w := do(h, "POST", "/x"); w.Code != http.StatusOK || !called || lock != nil {
		t.Fatalf("status = %d, called = %v, lock = %v", w.Code, called, lock)
	}
}

func TestRouteLock_Redis_killed_mid_request_still_answers(t *testing.T) {
	srv, s := server(t)
	rl := &locking.RouteLock{Locker: locking.New(s), TTL: time.Minute}
	h := rl.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		srv.Kill() // the release will fail; the response must not
		w.WriteHeader(http.StatusAccepted)
	}))
	if w := do(h, "POST", "/x"); w.Code != http.StatusAccepted {
		t.Fatalf("status = %d", w.Code)
	}
	if w := do(h, "POST", "/x"); w.Code != http.StatusServiceUnavailable {
		t.Fatalf("with Redis down = %d", w.Code)
	}
}

func TestDefaultErrorHandler_Retry_After_is_at_least_one_second(t *testing.T) {
	for _, tc := range []struct {
		ttl  time.Duration
		want string
	}{{0, "1"}, {200 * time.Millisecond, "1"}, {time.Second, "1"}, {1001 * time.Millisecond, "2"}, {59 * time.Second, "59"}} {
		w := httptest.NewRecorder()
		locking.DefaultErrorHandler(w, httptest.NewRequest("GET", "/", nil), &locking.NotObtainedError{Key: "k", HolderTTL: tc.ttl})
		if got := w.Header().Get("Retry-After"); got != tc.want {
			t.Errorf("ttl %v: Retry-After %q, want %q", tc.ttl, got, tc.want)
		}
		if _, err := strconv.Atoi(w.Header().Get("Retry-After")); err != nil || w.Code != 409 {
			t.Errorf("ttl %v: code %d", tc.ttl, w.Code)
		}
	}
}

// wantRefused serves r on h while another request holds the lock and
// checks that it is refused with 409 rather than let into the handler.
func wantRefused(t *testing.T, h http.Handler, b *blocker, r *http.Request) {
	t.Helper()
	res := serve(h, r)
	select {
	case <-b.entered:
		close(b.release) // let both requests finish
		<-res
		t.Fatalf("%.20s %s entered the handler while the lock was held", r.Method, r.URL)
	case w := <-res:
		if w.Code != http.StatusConflict {
			t.Fatalf("%.20s %s: status = %d, want 409", r.Method, r.URL, w.Code)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("%.20s %s: no answer", r.Method, r.URL)
	}
}

func TestRouteLock_chi_escaped_spelling_of_a_param_is_the_same_lock(t *testing.T) {
	_, s := server(t)
	b := newBlocker()
	rl := &locking.RouteLock{Locker: locking.New(s), TTL: 5 * time.Second, Params: []string{"id"}}
	r := chi.NewRouter()
	r.With(rl.Handler).Post("/items/{id}", b.ServeHTTP)
	first := serve(r, httptest.NewRequest("POST", "/items/A1", nil))
	<-b.entered
	// chi routes on the escaped path when there is one: "%41" must not be
	// a second lock on item A1.
	wantRefused(t, r, b, httptest.NewRequest("POST", "/items/%411", nil))
	close(b.release)
	<-first
}

func TestRouteLock_unrouted_path_spellings_are_the_same_lock(t *testing.T) {
	_, s := server(t)
	b := newBlocker()
	h := (&locking.RouteLock{Locker: locking.New(s), TTL: 5 * time.Second}).Handler(b)
	first := serve(h, httptest.NewRequest("POST", "/jobs/x", nil))
	<-b.entered
	wantRefused(t, h, b, httptest.NewRequest("POST", "/jobs/%78", nil))
	wantRefused(t, h, b, httptest.NewRequest("POST", "/jobs/./x", nil))
	close(b.release)
	<-first
}

func TestRouteLock_long_method_still_locks(t *testing.T) {
	_, s := server(t)
	b := newBlocker()
	// FailOpen: a key Redis refused would let the request run unlocked.
	rl := &locking.RouteLock{Locker: locking.New(s), TTL: 5 * time.Second, FailurePolicy: locking.FailOpen}
	mux := http.NewServeMux()
	mux.Handle("/jobs/{name}", rl.Handler(b)) // every method
	method := strings.Repeat("X", 5000)
	first := serve(mux, httptest.NewRequest(method, "/jobs/a", nil))
	<-b.entered
	wantRefused(t, mux, b, httptest.NewRequest(method, "/jobs/a", nil))
	close(b.release)
	<-first
}
