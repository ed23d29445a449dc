package ratelimit_test

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/rediware/rediware/middleware"
	"github.com/rediware/rediware/ratelimit"
)

var ok = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("ok")) })

func get(h http.Handler, path, remote string, hdr ...string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodGet, path, nil)
	if remote != "" {
		r.RemoteAddr = remote
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestMiddleware_headers_match_hand_computed_values(t *testing.T) {
	_, s := newRedis(t)
	l, c := newLimiter(t, s, ratelimit.Options{Name: "api", Limits: []ratelimit.Limit{
		ratelimit.Per(3, time.Second).WithName("second").WithAlgorithm(ratelimit.FixedWindow),
		ratelimit.Per(100, time.Hour).WithName("hour").WithAlgorithm(ratelimit.FixedWindow),
	}})
	h := ratelimit.Middleware(l, ratelimit.MiddlewareOptions{Headers: ratelimit.HeadersIETFAndLegacy})(ok)
	hourLeft := 3600 - base.Unix()%3600 // base is 800 s into an hour
	steps := []struct {
		at         time.Duration
		status     int
		rateLimit  string
		retryAfter string
		legacy     [3]string
	}{
		{0, 200, `"second";r=2;t=1, "hour";r=99;t=` + strconv.FormatInt(hourLeft, 10), "", [3]string{"3", "2", "1"}},
		{100 * time.Millisecond, 200, `"second";r=1;t=1, "hour";r=98;t=` + strconv.FormatInt(hourLeft, 10), "", [3]string{"3", "1", "1"}},
		{200 * time.Millisecond, 200, `"second";r=0;t=1, "hour";r=97;t=` + strconv.FormatInt(hourLeft, 10), "", [3]string{"3", "0", "1"}},
		// Denied: the hour policy is not charged.
		{300 * time.Millisecond, 429, `"second";r=0;t=1, "hour";r=97;t=` + strconv.FormatInt(hourLeft, 10), "1", [3]string{"3", "0", "1"}},
		// The next window.
		{1000 * time.Millisecond, 200, `"second";r=2;t=1, "hour";r=96;t=` + strconv.FormatInt(hourLeft-1, 10), "", [3]string{"3", "2", "1"}},
	}
	// Redis expires the keys by its own clock (the shortest TTL here is
	// 800 ms of real time): a run that took longer than 500 ms may have lost
	// a key to a stalled machine, and only then is it tried again, as
	// another client.
	for attempt := 1; ; attempt++ {
		c.set(base)
		start := time.Now()
		var errs []string
		errorf := func(format string, args ...any) { errs = append(errs, fmt.Sprintf(format, args...)) }
		for i, st := range steps {
			c.set(base.Add(st.at))
			w := get(h, "/", "192.0.2."+strconv.Itoa(attempt)+":1234")
			if w.Code != st.status {
				errorf("step %d: status %d, want %d", i, w.Code, st.status)
			}
			if got := w.Header().Get("RateLimit-Policy"); got != `"second";q=3;w=1, "hour";q=100;w=3600` {
				errorf("step %d: RateLimit-Policy %q", i, got)
			}
			if got := w.Header().Get("RateLimit"); got != st.rateLimit {
				errorf("step %d: RateLimit %q, want %q", i, got, st.rateLimit)
			}
			if got := w.Header().Get("Retry-After"); got != st.retryAfter {
				errorf("step %d: Retry-After %q, want %q", i, got, st.retryAfter)
			}
			legacy := [3]string{w.Header().Get("X-RateLimit-Limit"), w.Header().Get("X-RateLimit-Remaining"), w.Header().Get("X-RateLimit-Reset")}
			if legacy != st.legacy {
				errorf("step %d: legacy headers %q, want %q", i, legacy, st.legacy)
			}
		}
		if len(errs) == 0 {
			return
		}
		if took := time.Since(start); took > 500*time.Millisecond && attempt < 3 {
			t.Logf("the steps took %v of real time, so a key may have expired; again: %v", took, errs)
			continue
		}
		for _, e := range errs {
			t.Error(e)
		}
		return
	}
}

func TestMiddleware_denial_is_problem_json_without_internals(t *testing.T) {
	_, s := newRedis(t)
	l := ratelimit.New(s, ratelimit.PerHour(1).WithName("tiny"))
	h := l.Handler(ok)
	get(h, "/", "192.0.2.7:1")
	w := get(h, "/", "192.0.2.7:1")
	if w.Code != http.StatusTooManyRequests {
		t.Fatalf("status %d", w.Code)
	}
	if ct := w.Header().Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("Content-Type %q", ct)
	}
	var p map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil {
		t.Fatal(err)
	}
	if p["status"] != float64(429) || p["title"] != "Too Many Requests" {
		t.Fatalf("problem %v", p)
	}
	body := w.Body.String()
	for _, leak := range []string{"192.0.2.7", "rl:", "redis", "tiny"} {
		if strings.Contains(body, leak) {
			t.Errorf("body leaks %q: %s", leak, body)
		}
	}
	if ra, err := strconv.Atoi(w.Header().Get("Retry-After")); err != nil || ra < 3599 || ra > 3600 {
		t.Fatalf("Retry-After %q", w.Header().Get("Retry-After"))
	}
}

// parseRateLimit reads `"name";r=1;t=2` items (names without commas).
func parseRateLimit(t *testing.T, values []string) map[string][2]int {
	t.Helper()
	out := map[string][2]int{}
	for _, v := range values {
		for _, item := range strings.Split(v, ", ") {
			parts := strings.Split(item, ";")
			if len(parts) != 3 || !strings.HasPrefix(parts[1], "r=") || !strings.HasPrefix(parts[2], "t=") {
				t.Fatalf("malformed item %q", item)
			}
			r, _ := strconv.Atoi(parts[1][2:])
			tt, _ := strconv.Atoi(parts[2][2:])
			out[strings.Trim(parts[0], `"`)] = [2]int{r, tt}
		}
	}
	return out
}

func TestMiddleware_retry_after_is_never_earlier_than_t_of_a_denying_policy(t *testing.T) {
	_, s := newRedis(t)
	for _, alg := range []ratelimit.Algorithm{ratelimit.GCRA, ratelimit.TokenBucket, ratelimit.FixedWindow,
		ratelimit.SlidingWindowLog, ratelimit.SlidingWindowCounter} {
		t.Run(alg.String(), func(t *testing.T) {
			l, c := newLimiter(t, s, ratelimit.Options{Limits: []ratelimit.Limit{
				ratelimit.Per(5, 7*time.Second).WithName("a").WithAlgorithm(alg),
				ratelimit.Per(3, 2*time.Second).WithName("b").WithAlgorithm(alg),
			}})
			var denying []string
			h := ratelimit.Middleware(l, ratelimit.MiddlewareOptions{
				DenyHandler: func(w http.ResponseWriter, r *http.Request, res *ratelimit.Result) {
					denying = denying[:0]
					for _, p := range res.Policies {
						if !p.Allowed {
							denying = append(denying, p.Limit.Name)
						}
					}
					w.WriteHeader(http.StatusTooManyRequests)
				},
			})(ok)
			rng := rand.New(rand.NewPCG(3, 4))
			now, denials := base, 0
			for range 300 {
				now = now.Add(time.Duration(rng.IntN(400)) * time.Millisecond)
				c.set(now)
				w := get(h, "/", "192.0.2.1:1")
				if w.Code != http.StatusTooManyRequests {
					continue
				}
				denials++
				ra, err := strconv.Atoi(w.Header().Get("Retry-After"))
				if err != nil || ra < 1 {
					t.Fatalf("Retry-After %q", w.Header().Get("Retry-After"))
				}
				items := parseRateLimit(t, w.Header().Values("RateLimit"))
				for _, name := range denying {
					if tt := items[name][1]; ra < tt {
						t.Fatalf("Retry-After %d is earlier than t=%d of denying policy %s", ra, tt, name)
					}
				}
			}
			if denials == 0 {
				t.Fatal("no request was denied; the test proves nothing")
			}
		})
	}
}

func TestMiddleware_global_and_route_limits_stack_with_chi(t *testing.T) {
	_, s := newRedis(t)
	global, err := ratelimit.NewWithOptions(s, ratelimit.Options{Name: "global",
		Limits: []ratelimit.Limit{ratelimit.PerHour(100).WithName("global")}})
	if err != nil {
		t.Fatal(err)
	}
	search, err := ratelimit.NewWithOptions(s, ratelimit.Options{Name: "search",
		Limits: []ratelimit.Limit{ratelimit.PerHour(2).WithName("search")}})
	if err != nil {
		t.Fatal(err)
	}
	// A fixed clock: the exact t asserted below must not depend on how
	// long the requests take on a loaded machine.
	c := &clock{t: base}
	ratelimit.SetClock(global, c.now)
	ratelimit.SetClock(search, c.now)
	r := chi.NewRouter()
	r.Use(global.Handler)
	r.With(search.Handler).Get("/search", ok)
	r.Get("/other", ok)

	for i := range 2 {
		if w := get(r, "/search", "192.0.2.1:1"); w.Code != 200 {
			t.Fatalf("search %d: %d", i, w.Code)
		}
	}
	w := get(r, "/search", "192.0.2.1:1")
	if w.Code != http.StatusTooManyRequests {
		t.Fatalf("third search: %d", w.Code)
	}
	items := parseRateLimit(t, w.Header().Values("RateLimit"))
	if items["search"][0] != 0 || items["global"][0] != 97 {
		t.Fatalf("RateLimit items %v (field lines %q)", items, w.Header().Values("RateLimit"))
	}
	if got := w.Header().Values("RateLimit-Policy"); len(got) != 2 {
		t.Fatalf("RateLimit-Policy lines %q", got)
	}
	if w := get(r, "/other", "192.0.2.1:1"); w.Code != 200 || w.Header().Get("RateLimit") != `"global";r=96;t=144` {
		t.Fatalf("other: %d %q", w.Code, w.Header().Get("RateLimit"))
	}
}

func TestMiddleware_servemux_route_key_shares_one_budget_per_route(t *testing.T) {
	_, s := newRedis(t)
	l := ratelimit.New(s, ratelimit.PerHour(2))
	mw := ratelimit.Middleware(l, ratelimit.MiddlewareOptions{Key: ratelimit.ByRoute()})
	mux := http.NewServeMux()
	mux.Handle("GET /items/{id}", mw(ok))
	mux.Handle("GET /free", ok)
	codes := []int{
		get(mux, "/items/1", "192.0.2.1:1").Code,
		get(mux, "/items/2", "192.0.2.2:1").Code,
		get(mux, "/items/3", "192.0.2.3:1").Code,
		get(mux, "/free", "192.0.2.1:1").Code,
	}
	if codes[0] != 200 || codes[1] != 200 || codes[2] != 429 || codes[3] != 200 {
		t.Fatalf("codes %v, want [200 200 429 200]", codes)
	}
}

func TestByRoute_with_chi_composes_route_and_client(t *testing.T) {
	_, s := newRedis(t)
	l := ratelimit.New(s, ratelimit.PerHour(1))
	mw := ratelimit.Middleware(l, ratelimit.MiddlewareOptions{Key: ratelimit.Compose(ratelimit.ByRoute(), ratelimit.ByIP(nil))})
	r := chi.NewRouter()
	r.With(mw).Get("/a/{id}", ok)
	r.With(mw).Get("/b", ok)
	codes := []int{
		get(r, "/a/1", "192.0.2.1:1").Code,
		get(r, "/a/2", "192.0.2.1:1").Code, // same route pattern, same client
		get(r, "/a/1", "192.0.2.2:1").Code, // another client
		get(r, "/b", "192.0.2.1:1").Code,   // another route
	}
	if codes[0] != 200 || codes[1] != 429 || codes[2] != 200 || codes[3] != 200 {
		t.Fatalf("codes %v, want [200 429 200 200]", codes)
	}
}

func TestByIP_groups_ipv6_by_64(t *testing.T) {
	_, s := newRedis(t)
	h := ratelimit.Middleware(ratelimit.New(s, ratelimit.PerHour(2)),
		ratelimit.MiddlewareOptions{Key: ratelimit.ByIP(&middleware.ClientIP{})})(ok)
	codes := []int{
		get(h, "/", "[2001:db8::1]:1").Code,
		get(h, "/", "[2001:db8::2]:1").Code,
		get(h, "/", "[2001:db8::ffff:3]:1").Code, // same /64: third request
		get(h, "/", "[2001:db8:0:1::1]:1").Code,  // another /64
	}
	if codes[0] != 200 || codes[1] != 200 || codes[2] != 429 || codes[3] != 200 {
		t.Fatalf("codes %v, want [200 200 429 200]", codes)
	}
}

func TestByIP_ignores_forwarded_for_from_untrusted_peers(t *testing.T) {
	_, s := newRedis(t)
	h := ratelimit.Middleware(ratelimit.New(s, ratelimit.PerHour(1)),
		ratelimit.MiddlewareOptions{Key: ratelimit.ByIP(&middleware.ClientIP{})})(ok)
	get(h, "/", "192.0.2.9:1", "X-Forwarded-For", "198.51.100.1")
	if w := get(h, "/", "192.0.2.9:1", "X-Forwarded-For", "198.51.100.2"); w.Code != 429 {
		t.Fatalf("spoofed X-Forwarded-For got a fresh budget: %d", w.Code)
	}
}

func TestByHeader_request_without_the_header_passes_unlimited(t *testing.T) {
	_, s := newRedis(t)
	h := ratelimit.Middleware(ratelimit.New(s, ratelimit.PerHour(1)),
		ratelimit.MiddlewareOptions{Key: ratelimit.ByHeader("X-API-Key")})(ok)
	for range 3 {
		if w := get(h, "/", ""); w.Code != 200 || w.Header().Get("RateLimit") != "" {
			t.Fatalf("no key: %d %q", w.Code, w.Header().Get("RateLimit"))
		}
	}
	get(h, "/", "", "X-API-Key", "k1")
	if w := get(h, "/", "", "X-API-Key", "k1"); w.Code != 429 {
		t.Fatalf("second request with k1: %d", w.Code)
	}
	long := strings.Repeat("x", 5000) // hashed, not refused
	if w := get(h, "/", "", "X-API-Key", long); w.Code != 200 {
		t.Fatalf("long key: %d", w.Code)
	}
	if w := get(h, "/", "", "X-API-Key", long); w.Code != 429 {
		t.Fatalf("long key again: %d", w.Code)
	}
}

func TestCompose_parts_cannot_run_together(t *testing.T) {
	_, s := newRedis(t)
	h := ratelimit.Middleware(ratelimit.New(s, ratelimit.PerHour(1)),
		ratelimit.MiddlewareOptions{Key: ratelimit.Compose(ratelimit.ByHeader("A"), ratelimit.ByHeader("B"))})(ok)
	if w := get(h, "/", "", "A", "x1", "B", "2"); w.Code != 200 {
		t.Fatal(w.Code)
	}
	if w := get(h, "/", "", "A", "x", "B", "12"); w.Code != 200 {
		t.Fatalf("(x, 12) shares the budget of (x1, 2): %d", w.Code)
	}
	if w := get(h, "/", "", "A", "x", "B", "12"); w.Code != 429 {
		t.Fatalf("(x, 12) again: %d", w.Code)
	}
	if w := get(h, "/", "", "A", "x"); w.Code != 200 || w.Header().Get("RateLimit") != "" {
		t.Fatalf("missing part: %d", w.Code)
	}
}

func TestFirstOf_user_and_address_never_collide(t *testing.T) {
	_, s := newRedis(t)
	user := func(r *http.Request) (string, bool) {
		u := r.Header.Get("X-User")
		return u, u != ""
	}
	h := ratelimit.Middleware(ratelimit.New(s, ratelimit.PerHour(1)),
		ratelimit.MiddlewareOptions{Key: ratelimit.FirstOf(ratelimit.ByUser(user), ratelimit.ByIP(nil))})(ok)
	if w := get(h, "/", "192.0.2.1:1", "X-User", "192.0.2.1"); w.Code != 200 {
		t.Fatal(w.Code)
	}
	if w := get(h, "/", "192.0.2.1:1"); w.Code != 200 {
		t.Fatalf("anonymous request shares the budget of a user named like its address: %d", w.Code)
	}
	if w := get(h, "/", "192.0.2.1:1"); w.Code != 429 {
		t.Fatalf("second anonymous request: %d", w.Code)
	}
}

func TestMiddleware_cost_is_charged(t *testing.T) {
	_, s := newRedis(t)
	h := ratelimit.Middleware(ratelimit.New(s, ratelimit.PerHour(3)), ratelimit.MiddlewareOptions{
		Cost: func(*http.Request) int { return 2 },
	})(ok)
	if w := get(h, "/", "192.0.2.1:1"); w.Code != 200 || w.Header().Get("RateLimit") != `"3-per-1h0m0s";r=1;t=2400` {
		t.Fatalf("%d %q", w.Code, w.Header().Get("RateLimit"))
	}
	if w := get(h, "/", "192.0.2.1:1"); w.Code != 429 {
		t.Fatal(w.Code)
	}
}

func TestMiddleware_fail_closed_answers_503_without_internals(t *testing.T) {
	l, err := ratelimit.NewWithOptions(deadStore(t), ratelimit.Options{
		Limits: []ratelimit.Limit{ratelimit.PerHour(10)}, Failure: ratelimit.FailClosed})
	if err != nil {
		t.Fatal(err)
	}
	w := get(l.Handler(ok), "/", "192.0.2.1:1")
	if w.Code != http.StatusServiceUnavailable || w.Header().Get("Content-Type") != "application/problem+json" {
		t.Fatalf("%d %q", w.Code, w.Header().Get("Content-Type"))
	}
	if w.Header().Get("Retry-After") != "1" {
		t.Fatalf("Retry-After %q", w.Header().Get("Retry-After"))
	}
	for _, leak := range []string{"refused", "dial", "127.0.0.1", "store"} {
		if strings.Contains(w.Body.String(), leak) {
			t.Fatalf("body leaks %q: %s", leak, w.Body.String())
		}
	}
}

func TestMiddleware_fail_open_admits_and_reports(t *testing.T) {
	var mu sync.Mutex
	var got []ratelimit.Decision
	l, err := ratelimit.NewWithOptions(deadStore(t), ratelimit.Options{
		Limits: []ratelimit.Limit{ratelimit.PerHour(1)}, Failure: ratelimit.FailOpen, KeyClass: "ip",
		OnDecision: func(d ratelimit.Decision) { mu.Lock(); got = append(got, d); mu.Unlock() },
	})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if w := get(l.Handler(ok), "/", "192.0.2.1:1"); w.Code != 200 || w.Header().Get("RateLimit") != "" {
			t.Fatalf("%d %q: fail-open must not report numbers it did not count", w.Code, w.Header().Get("RateLimit"))
		}
	}
	if len(got) != 3 || got[0].Outcome != ratelimit.Allowed || got[0].Source != ratelimit.SourceFailOpen ||
		got[0].Class != "ip" || got[0].Err == nil {
		t.Fatalf("decisions %+v", got)
	}
}

func TestMiddleware_injected_handlers_are_used(t *testing.T) {
	_, s := newRedis(t)
	l := ratelimit.New(s, ratelimit.PerHour(1))
	h := ratelimit.Middleware(l, ratelimit.MiddlewareOptions{
		DenyHandler: func(w http.ResponseWriter, r *http.Request, res *ratelimit.Result) {
			w.WriteHeader(http.StatusTeapot)
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			w.WriteHeader(http.StatusBadRequest)
		},
		Cost: func(r *http.Request) int {
			if r.URL.Path == "/bad" {
				return -1
			}
			return 1
		},
	})(ok)
	get(h, "/", "192.0.2.1:1")
	if w := get(h, "/", "192.0.2.1:1"); w.Code != http.StatusTeapot {
		t.Fatalf("deny: %d", w.Code)
	}
	if w := get(h, "/bad", "192.0.2.1:1"); w.Code != http.StatusBadRequest {
		t.Fatalf("error: %d", w.Code)
	}
}

func TestOnDecision_reports_outcome_policy_and_class(t *testing.T) {
	_, s := newRedis(t)
	var got []ratelimit.Decision
	l, err := ratelimit.NewWithOptions(s, ratelimit.Options{Name: "login", KeyClass: "user",
		Limits:     []ratelimit.Limit{ratelimit.PerHour(1).WithName("attempts")},
		OnDecision: func(d ratelimit.Decision) { got = append(got, d) }})
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := l.Allow(t.Context(), "alice"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := l.AllowN(t.Context(), "alice", -1); err == nil {
		t.Fatal("negative cost accepted")
	}
	want := []ratelimit.Outcome{ratelimit.Allowed, ratelimit.Denied, ratelimit.Errored}
	if len(got) != 3 {
		t.Fatalf("decisions %+v", got)
	}
	for i, d := range got {
		if d.Outcome != want[i] || d.Limiter != "login" || d.Class != "user" || (i < 2 && d.Policy != "attempts") {
			t.Fatalf("decision %d: %+v", i, d)
		}
	}
}

func TestPolicyNames_are_escaped_as_sf_strings(t *testing.T) {
	_, s := newRedis(t)
	l := ratelimit.New(s, ratelimit.PerHour(5).WithName(`a"b\c`))
	w := get(l.Handler(ok), "/", "192.0.2.1:1")
	if got := w.Header().Get("RateLimit-Policy"); got != `"a\"b\\c";q=5;w=3600` {
		t.Fatalf("RateLimit-Policy %q", got)
	}
}

func TestNew_rejects_invalid_limits(t *testing.T) {
	_, s := newRedis(t)
	if _, err := ratelimit.NewWithOptions(s, ratelimit.Options{Name: "a:b", Limits: []ratelimit.Limit{ratelimit.PerSecond(1)}}); err == nil {
		t.Error("limiter name with ':' accepted")
	}
	if _, err := ratelimit.NewWithOptions(s, ratelimit.Options{Prefix: "{x}", Limits: []ratelimit.Limit{ratelimit.PerSecond(1)}}); err == nil {
		t.Error("prefix with braces accepted")
	}
	for _, lim := range [][]ratelimit.Limit{
		nil,
		{ratelimit.PerSecond(0)},
		{ratelimit.Per(1, 0)},
		{ratelimit.PerSecond(1).WithBurst(-1)},
		{ratelimit.PerSecond(1).WithName("has space")},
		{ratelimit.PerSecond(1).WithName("{tag}")},
		{ratelimit.PerSecond(1), ratelimit.PerSecond(1)},
		{ratelimit.PerSecond(1).WithAlgorithm(99)},
		{ratelimit.Per(2_000_000, time.Second)}, // GCRA below 1µs per request
	} {
		if _, err := ratelimit.NewWithOptions(s, ratelimit.Options{Limits: lim}); err == nil {
			t.Errorf("limits %+v accepted", lim)
		}
	}
}
