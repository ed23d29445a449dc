package ratelimit_test

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/rediware/rediware/ratelimit"
	"github.com/rediware/rediware/store"
)

// A route limiter built with With decides the global policies and its own
// in one script: a request the route policy denies charges the global
// policies nothing, and a request it admits is charged to the global
// budget that the other routes share. Stacking two middlewares instead
// charges the global limiter for requests the route limiter then denies
// (TestMiddleware_global_and_route_limits_stack_with_chi).
func TestLimiter_With_route_denial_charges_nothing_globally(t *testing.T) {
	for _, alg := range []ratelimit.Algorithm{ratelimit.GCRA, ratelimit.TokenBucket, ratelimit.FixedWindow,
		ratelimit.SlidingWindowLog, ratelimit.SlidingWindowCounter} {
		t.Run(alg.String(), func(t *testing.T) {
			_, s := newRedis(t)
			global, c := newLimiter(t, s, ratelimit.Options{Name: "api",
				Limits: []ratelimit.Limit{ratelimit.PerHour(5).WithName("global").WithAlgorithm(alg)}})
			search, err := global.With(ratelimit.PerHour(1).WithName("search").WithAlgorithm(alg))
			if err != nil {
				t.Fatal(err)
			}
			ratelimit.SetClock(search, c.now)

			r := chi.NewRouter()
			r.Group(func(r chi.Router) {
				r.Use(global.Handler)
				r.Get("/other", ok)
			})
			r.With(search.Handler).Get("/search", ok)

			codes := make([]int, 0, 10)
			for range 4 {
				codes = append(codes, get(r, "/search", "192.0.2.1:1").Code)
			}
			for range 5 {
				codes = append(codes, get(r, "/other", "192.0.2.1:1").Code)
			}
			want := []int{200, 429, 429, 429, 200, 200, 200, 200, 429}
			for i := range want {
				if codes[i] != want[i] {
					t.Fatalf("codes %v, want %v: the 3 denied searches must cost the global budget nothing, the admitted one 1", codes, want)
				}
			}
			res, err := global.AllowN(t.Context(), "192.0.2.1", 0)
			if err != nil || res.Remaining != 0 {
				t.Fatalf("global after the requests: %+v %v", res, err)
			}
		})
	}
}

func TestLimiter_With_reports_every_policy_in_headers(t *testing.T) {
	_, s := newRedis(t)
	global, c := newLimiter(t, s, ratelimit.Options{Name: "api",
		Limits: []ratelimit.Limit{ratelimit.PerHour(100).WithName("global")}})
	search, err := global.With(ratelimit.PerHour(2).WithName("search"))
	if err != nil {
		t.Fatal(err)
	}
	ratelimit.SetClock(search, c.now)
	h := search.Handler(ok)
	for range 3 {
		get(h, "/", "192.0.2.1:1")
	}
	w := get(h, "/", "192.0.2.1:1")
	items := parseRateLimit(t, w.Header().Values("RateLimit"))
	if w.Code != http.StatusTooManyRequests || items["global"][0] != 98 || items["search"][0] != 0 {
		t.Fatalf("%d, RateLimit items %v", w.Code, items)
	}
	if got := search.Limits(); len(got) != 2 || got[0].Name != "global" || got[1].Name != "search" {
		t.Fatalf("Limits() = %v", got)
	}
	if search.Name() != "api" {
		t.Fatalf("Name() = %q, want the base limiter's", search.Name())
	}
}

func TestLimiter_With_refuses_a_duplicate_policy_name(t *testing.T) {
	_, s := newRedis(t)
	global := ratelimit.New(s, ratelimit.PerHour(100).WithName("global"))
	if _, err := global.With(ratelimit.PerHour(2).WithName("global")); !errors.Is(err, ratelimit.ErrInvalidLimit) {
		t.Fatalf("With a duplicate name: %v, want ErrInvalidLimit", err)
	}
	if _, err := global.With(); err != nil {
		t.Fatalf("With no limits: %v", err)
	}
}

// While Redis is down, the local fallback of a With limiter shares the
// base limiter's counts, as the two share them in Redis.
func TestLimiter_With_shares_the_local_fallback(t *testing.T) {
	srv, s := newRedis(t)
	global, err := ratelimit.NewWithOptions(s, ratelimit.Options{Name: "api",
		Limits:  []ratelimit.Limit{ratelimit.PerHour(3).WithName("global")},
		Breaker: &store.Breaker{Failures: 1, Cooldown: time.Hour}})
	if err != nil {
		t.Fatal(err)
	}
	search, err := global.With(ratelimit.PerHour(10).WithName("search"))
	if err != nil {
		t.Fatal(err)
	}
	srv.Kill()
	for i := range 3 {
		res, err := search.Allow(t.Context(), "k")
		if err != nil || res.Source != ratelimit.SourceLocal || !res.Allowed {
			t.Fatalf("search %d with Redis down: %+v %v", i, res, err)
		}
	}
	res, err := global.Allow(t.Context(), "k")
	if err != nil || res.Source != ratelimit.SourceLocal || res.Allowed {
		t.Fatalf("global after 3 searches with Redis down: %+v %v; want denied locally", res, err)
	}
}
