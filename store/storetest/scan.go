package storetest

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/rediware/rediware/store"
)

var scanTests = []subtest{
	{"AllKeys", testScanAll},
	{"CountHint", testScanCountHint},
	{"Pattern", testScanPattern},
	{"StopsOnError", testScanStops},
}

func setKeys(t *testing.T, s store.Store, p string, n int) map[string]bool {
	t.Helper()
	want := make(map[string]bool, n)
	for i := range n {
		k := fmt.Sprintf("%skey:%04d", p, i) // no hash tag: spread over all masters on Cluster
		want[k] = true
		mustSet(t, s, k, []byte("v"), 0)
	}
	return want
}

func testScanAll(t *testing.T, r *runner) {
	s, p := r.store(t)
	want := setKeys(t, s, p, 250)
	got := map[string]bool{}
	err := s.Scan(t.Context(), p+"*", 20, func(keys []string) error {
		for _, k := range keys {
			if !strings.HasPrefix(k, p) {
				return fmt.Errorf("key %q does not match the pattern", k)
			}
			got[k] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("Scan found %d distinct keys, want %d", len(got), len(want))
	}
	for k := range want {
		if !got[k] {
			t.Fatalf("Scan missed %q", k)
		}
	}
}

func testScanCountHint(t *testing.T, r *runner) {
	s, p := r.store(t)
	setKeys(t, s, p, 100)
	batches, total := 0, 0
	err := s.Scan(t.Context(), p+"*", 10, func(keys []string) error {
		batches++
		total += len(keys)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if batches < 2 || total < 100 {
		t.Fatalf("Scan of 100 keys with count 10: %d keys in %d batches, want several batches", total, batches)
	}
}

func testScanPattern(t *testing.T, r *runner) {
	s, p := r.store(t)
	for _, k := range []string{"user:1", "user:2", "user:10", "order:1", "users"} {
		mustSet(t, s, p+k, []byte("v"), 0)
	}
	for pattern, want := range map[string][]string{
		"user:*":  {"user:1", "user:2", "user:10"},
		"user:?":  {"user:1", "user:2"},
		"*:1":     {"user:1", "order:1"},
		"nothing": nil,
	} {
		got := map[string]bool{}
		err := s.Scan(t.Context(), p+pattern, 0, func(keys []string) error {
			for _, k := range keys {
				got[strings.TrimPrefix(k, p)] = true
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(want) {
			t.Errorf("Scan(%q) = %v, want %v", pattern, got, want)
			continue
		}
		for _, k := range want {
			if !got[k] {
				t.Errorf("Scan(%q) = %v, want %v", pattern, got, want)
			}
		}
	}
}

func testScanStops(t *testing.T, r *runner) {
	s, p := r.store(t)
	setKeys(t, s, p, 50)
	stop := errors.New("enough")
	calls := 0
	err := s.Scan(t.Context(), p+"*", 5, func(keys []string) error {
		calls++
		return stop
	})
	if !errors.Is(err, stop) {
		t.Fatalf("Scan = %v, want fn's error", err)
	}
	if calls != 1 {
		t.Fatalf("fn called %d times after returning an error, want 1", calls)
	}
}
