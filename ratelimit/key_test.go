package ratelimit_test

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/rediware/rediware/ratelimit"
)

// Distinct client keys must get distinct budgets, whatever bytes they hold:
// the mapping from client key to Redis key has to be injective.
func TestKeys_distinct_client_keys_never_share_a_budget(t *testing.T) {
	_, s := newRedis(t)
	long := strings.Repeat("k", ratelimit.MaxKeyLen+1)
	sum := sha256.Sum256([]byte(long))
	for _, tc := range []struct{ name, a, b string }{
		{"braces and parentheses", "{victim}", "(victim)"},
		{"one brace", "a}b", "a)b"},
		{"hashed long key and its literal hash", long, "sha256:" + hex.EncodeToString(sum[:])},
		{"long keys differing in the last byte", long, long[:len(long)-1] + "x"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, _ := newLimiter(t, s, ratelimit.Options{
				Name:   strings.ReplaceAll(tc.name, " ", "-"),
				Limits: []ratelimit.Limit{ratelimit.PerHour(1)},
			})
			for _, key := range []string{tc.a, tc.b} {
				res, err := l.Allow(t.Context(), key)
				if err != nil {
					t.Fatal(err)
				}
				if !res.Allowed {
					t.Fatalf("key %.40q was denied: it shares the budget of %.40q", key, tc.a)
				}
			}
			// and each key keeps its own budget
			if res, err := l.Allow(t.Context(), tc.b); err != nil || res.Allowed {
				t.Fatalf("second request of %.40q: %+v %v", tc.b, res, err)
			}
		})
	}
}
