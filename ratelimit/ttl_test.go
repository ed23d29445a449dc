package ratelimit_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rediware/rediware/ratelimit"
)

// Every key the script writes gets a TTL, and a reset shorter than a
// millisecond still gets 1 ms, never 0 (PEXPIRE 0 would delete the key and
// with it the count). The key may expire, by Redis's own clock, before PTTL
// reads it on a loaded machine, so each algorithm tries fresh keys until
// one reading lands within the millisecond; a missing TTL fails at once,
// and a TTL of 0 would never be seen.
func TestScript_every_key_gets_a_ttl_of_at_least_1ms(t *testing.T) {
	srv, s := newRedis(t)
	admin := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	t.Cleanup(func() { _ = admin.Close() })
	for _, lim := range []ratelimit.Limit{
		ratelimit.Per(5000, time.Second), // GCRA: reset after one request is 200µs
		ratelimit.Per(5000, time.Second).WithAlgorithm(ratelimit.TokenBucket),
		ratelimit.Per(5, 300*time.Microsecond).WithAlgorithm(ratelimit.FixedWindow),
		ratelimit.Per(5, 300*time.Microsecond).WithAlgorithm(ratelimit.SlidingWindowLog),
		ratelimit.Per(5, 200*time.Microsecond).WithAlgorithm(ratelimit.SlidingWindowCounter),
	} {
		t.Run(lim.Algorithm.String(), func(t *testing.T) {
			name := "ttl-" + lim.Algorithm.String()
			l, err := ratelimit.NewWithOptions(s, ratelimit.Options{Name: name, Limits: []ratelimit.Limit{lim}})
			if err != nil {
				t.Fatal(err)
			}
			policy := l.Limits()[0].Name
			for i := range 500 {
				key := "k" + strconv.Itoa(i)
				res, err := l.Allow(t.Context(), key)
				if err != nil || !res.Allowed {
					t.Fatalf("%+v %v", res, err)
				}
				rkey := "{rl:" + name + ":" + key + "}:" + policy + ":" + lim.Algorithm.String()
				pttl, err := admin.PTTL(t.Context(), rkey).Result()
				if err != nil {
					t.Fatal(err)
				}
				switch {
				case pttl == -1:
					t.Fatalf("%s has no TTL", rkey)
				case pttl >= 0:
					if pttl > time.Millisecond {
						t.Fatalf("%s: PTTL %v, want at most 1ms (the reset, rounded up)", rkey, pttl)
					}
					return
				}
				// -2: gone; expired already, or never kept: try again.
			}
			t.Fatal("no key was ever seen with a TTL: a TTL of 0 deletes it at once")
		})
	}
}

// A limit without a name gets one made of its rate and period, which must
// be a valid name for every valid period: time.Duration writes "µs" for
// periods under a millisecond, and names are ASCII.
func TestLimit_default_name_is_valid_for_sub_millisecond_periods(t *testing.T) {
	_, s := newRedis(t)
	l, err := ratelimit.NewWithOptions(s, ratelimit.Options{Limits: []ratelimit.Limit{
		ratelimit.Per(5, 300*time.Microsecond),
		ratelimit.Per(5, 1500*time.Nanosecond).WithAlgorithm(ratelimit.TokenBucket),
	}})
	if err != nil {
		t.Fatal(err)
	}
	if got := l.Limits()[0].Name; got != "5-per-300us" {
		t.Fatalf("default name %q, want 5-per-300us", got)
	}
	if res, err := l.Allow(t.Context(), "k"); err != nil || !res.Allowed {
		t.Fatalf("%+v %v", res, err)
	}
}
