package responsecache

import "testing"

func FuzzSingleRange(f *testing.F) {
	for _, s := range []string{"bytes=0-1", "bytes=5-", "bytes=-3", "bytes=2-9223372036854775807", "bytes=-9223372036854775807", "bytes=1-0", "items=0-1"} {
		f.Add(s, 10)
	}
	f.Fuzz(func(t *testing.T, v string, n int) {
		if n < 0 || n > 1<<20 {
			return
		}
		start, end, ok := singleRange(v, n)
		if ok && !(0 <= start && start < end && end <= n) {
			t.Fatalf("singleRange(%q, %d) = [%d, %d): not a non-empty range of the body", v, n, start, end)
		}
	})
}
