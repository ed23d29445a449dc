package storetest

import (
	"context"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"
)

// Paired benchmarks a against z robustly on a busy or an idle machine: every
// iteration calls both with ctx, one after the other, alternating which goes
// first, so that both see the same load. It reports the median latency of
// each ("direct-p50-ns" for a, "store-p50-ns" for z; medians, because a busy
// machine adds stalls that swamp a mean) and their difference
// ("overhead-%"). With goroutines > 0, that many goroutines do this at once
// (b.RunParallel); the latencies then include queueing for connections.
func Paired(b *testing.B, ctx context.Context, goroutines int, a, z func(ctx context.Context) error) {
	var mu sync.Mutex
	var all [2][]time.Duration // per-call latencies of a and z
	work := func(next func() bool) {
		var mine [2][]time.Duration
		for i := 0; next(); i++ {
			for j := range 2 {
				which := (i + j) % 2
				call := a
				if which == 1 {
					call = z
				}
				t0 := time.Now()
				if err := call(ctx); err != nil {
					b.Error(err)
					return
				}
				mine[which] = append(mine[which], time.Since(t0))
			}
		}
		mu.Lock()
		all[0] = append(all[0], mine[0]...)
		all[1] = append(all[1], mine[1]...)
		mu.Unlock()
	}
	if goroutines > 0 {
		b.SetParallelism(max(1, goroutines/runtime.GOMAXPROCS(0)))
		b.RunParallel(func(pb *testing.PB) { work(pb.Next) })
	} else {
		work(b.Loop)
	}
	if len(all[0]) == 0 || len(all[1]) == 0 {
		return
	}
	slices.Sort(all[0])
	slices.Sort(all[1])
	ma, mz := all[0][len(all[0])/2], all[1][len(all[1])/2]
	b.ReportMetric(float64(ma), "direct-p50-ns")
	b.ReportMetric(float64(mz), "store-p50-ns")
	b.ReportMetric(100*float64(mz-ma)/float64(ma), "overhead-%")
}
