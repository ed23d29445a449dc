package goredis_test

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rediware/rediware/internal/redistest"
	"github.com/rediware/rediware/store"
	"github.com/rediware/rediware/store/goredis"
)

// The benchmarks compare each operation through the Store with the same
// operation on the same go-redis client called directly, in one run:
//
//	go test ./store/goredis -run '^$' -bench . -benchmem -count 5
//
// "serial" is one goroutine; "parallel64" is b.RunParallel with 64
// goroutines (SetParallelism scaled to GOMAXPROCS).

const benchGoroutines = 64

var benchScript = store.NewScript("return redis.call('INCR', KEYS[1])")

type benchOp struct {
	name   string
	direct func(ctx context.Context, c redis.Cmdable) error
	store  func(ctx context.Context, s store.Store) error
}

func benchOps() []benchOp {
	val := []byte("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef") // 64 bytes
	keys := []string{"bench:n"}
	return []benchOp{
		{
			name:   "GET",
			direct: func(ctx context.Context, c redis.Cmdable) error { _, err := c.Get(ctx, "bench:k").Bytes(); return err },
			store:  func(ctx context.Context, s store.Store) error { _, _, err := s.Get(ctx, "bench:k"); return err },
		},
		{
			name:   "SET",
			direct: func(ctx context.Context, c redis.Cmdable) error { return c.Set(ctx, "bench:k", val, 0).Err() },
			store:  func(ctx context.Context, s store.Store) error { return s.Set(ctx, "bench:k", val, 0) },
		},
		{
			name: "EVALSHA",
			direct: func(ctx context.Context, c redis.Cmdable) error {
				return c.EvalSha(ctx, benchScript.SHA1(), keys).Err()
			},
			store: func(ctx context.Context, s store.Store) error { _, err := s.Eval(ctx, benchScript, keys); return err },
		},
	}
}

func runBench(b *testing.B, parallel bool, op func(ctx context.Context) error) {
	b.ReportAllocs()
	ctx := context.Background()
	if !parallel {
		for b.Loop() {
			if err := op(ctx); err != nil {
				b.Fatal(err)
			}
		}
		return
	}
	b.SetParallelism(max(1, benchGoroutines/runtime.GOMAXPROCS(0)))
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := op(ctx); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func BenchmarkStore(b *testing.B) {
	srv := redistest.Start(b)
	c := redis.NewClient(&redis.Options{Addr: srv.Addr(), ContextTimeoutEnabled: true})
	b.Cleanup(func() { c.Close() })
	s := noPipeline(b, c) // the Store's own overhead, without batching
	ctx := context.Background()
	if err := c.Set(ctx, "bench:k", "v", 0).Err(); err != nil {
		b.Fatal(err)
	}
	if err := c.ScriptLoad(ctx, benchScript.Source()).Err(); err != nil {
		b.Fatal(err)
	}
	for _, op := range benchOps() {
		for _, mode := range []string{"serial", "parallel" + strconv.Itoa(benchGoroutines)} {
			parallel := mode != "serial"
			b.Run(op.name+"/"+mode+"/direct", func(b *testing.B) {
				runBench(b, parallel, func(ctx context.Context) error { return op.direct(ctx, c) })
			})
			b.Run(op.name+"/"+mode+"/store", func(b *testing.B) {
				runBench(b, parallel, func(ctx context.Context) error { return op.store(ctx, s) })
			})
		}
	}
}

// BenchmarkPaired measures the Store's overhead robustly on a busy machine:
// every iteration makes the direct call and the Store call one after the
// other (in alternating order), timing each, so both see the same load.
// It reports the median latency of each as direct-p50-ns and store-p50-ns
// (medians, because a busy machine adds stalls that swamp a mean), and
// their difference as overhead-%. With parallel64, 64 goroutines do
// this at once; the latencies then include queueing for connections.
func BenchmarkPaired(b *testing.B) {
	srv := redistest.Start(b)
	c := redis.NewClient(&redis.Options{Addr: srv.Addr(), ContextTimeoutEnabled: true})
	b.Cleanup(func() { c.Close() })
	s := noPipeline(b, c) // the Store's own overhead, without batching
	ctx := context.Background()
	if err := c.Set(ctx, "bench:k", "v", 0).Err(); err != nil {
		b.Fatal(err)
	}
	if err := c.ScriptLoad(ctx, benchScript.Source()).Err(); err != nil {
		b.Fatal(err)
	}
	for _, op := range benchOps() {
		for _, parallel := range []bool{false, true} {
			mode := "serial"
			if parallel {
				mode = "parallel" + strconv.Itoa(benchGoroutines)
			}
			b.Run(op.name+"/"+mode, func(b *testing.B) {
				direct := func(ctx context.Context) error { return op.direct(ctx, c) }
				viaStore := func(ctx context.Context) error { return op.store(ctx, s) }
				runPaired(b, parallel, direct, viaStore)
			})
		}
	}
}

func runPaired(b *testing.B, parallel bool, a, z func(ctx context.Context) error) {
	var mu sync.Mutex
	var all [2][]time.Duration // per-call latencies of a and z
	work := func(next func() bool) {
		ctx := context.Background()
		var mine [2][]time.Duration
		for i := 0; next(); i++ {
			order := [2]int{0, 1}
			if i%2 == 1 {
				order = [2]int{1, 0}
			}
			for _, which := range order {
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
	if parallel {
		b.SetParallelism(max(1, benchGoroutines/runtime.GOMAXPROCS(0)))
		b.RunParallel(func(pb *testing.PB) { work(pb.Next) })
	} else {
		work(b.Loop)
	}
	if len(all[0]) == 0 || len(all[1]) == 0 {
		return
	}
	ma, mz := median(all[0]), median(all[1])
	b.ReportMetric(float64(ma), "direct-p50-ns")
	b.ReportMetric(float64(mz), "store-p50-ns")
	b.ReportMetric(100*float64(mz-ma)/float64(ma), "overhead-%")
}

func median(d []time.Duration) time.Duration {
	slices.Sort(d)
	return d[len(d)/2]
}

// BenchmarkAutoPipeline compares the Store with Options{NoAutoPipeline:
// true} ("plain") and the default automatic pipelining at several
// AutoPipelineInFlight settings (auto2 is the default), with 1 and with 64
// goroutines.
func BenchmarkAutoPipeline(b *testing.B) {
	srv := redistest.Start(b)
	newClient := func() *redis.Client {
		c := redis.NewClient(&redis.Options{Addr: srv.Addr(), ContextTimeoutEnabled: true, PoolSize: 64})
		b.Cleanup(func() { c.Close() })
		return c
	}
	type stack struct {
		name string
		s    *goredis.Store
	}
	stacks := []stack{{"plain", noPipeline(b, newClient())}}
	for _, n := range []int{1, 2, 4, 8} {
		s, err := goredis.NewWithOptions(newClient(), goredis.Options{AutoPipelineInFlight: n})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { s.Close() })
		stacks = append(stacks, stack{fmt.Sprintf("auto%d", n), s})
	}
	ctx := context.Background()
	if err := stacks[0].s.Set(ctx, "bench:k", []byte("v"), 0); err != nil {
		b.Fatal(err)
	}
	if _, err := stacks[0].s.Eval(ctx, benchScript, []string{"bench:n"}); err != nil {
		b.Fatal(err)
	}
	for _, op := range benchOps() {
		for _, par := range []bool{false, true} {
			g := "1"
			if par {
				g = "64"
			}
			for _, st := range stacks {
				b.Run(op.name+"/g"+g+"/"+st.name, func(b *testing.B) {
					runBench(b, par, func(ctx context.Context) error { return op.store(ctx, st.s) })
				})
			}
		}
	}
}

func noPipeline(b *testing.B, c redis.UniversalClient) *goredis.Store {
	s, err := goredis.NewWithOptions(c, goredis.Options{NoAutoPipeline: true})
	if err != nil {
		b.Fatal(err)
	}
	return s
}

// BenchmarkAutoPipelineLone measures what automatic pipelining costs a lone
// caller, robustly on a busy or an idle machine: each iteration makes the
// call on a NoAutoPipeline Store and on a default Store one after the other
// (alternating the order), and reports both medians ("direct" is the
// NoAutoPipeline Store, "store" the default one) and their difference.
func BenchmarkAutoPipelineLone(b *testing.B) {
	srv := redistest.Start(b)
	newClient := func() *redis.Client {
		c := redis.NewClient(&redis.Options{Addr: srv.Addr(), ContextTimeoutEnabled: true})
		b.Cleanup(func() { c.Close() })
		return c
	}
	plain, auto := noPipeline(b, newClient()), goredis.New(newClient())
	ctx := context.Background()
	if err := plain.Set(ctx, "bench:k", []byte("v"), 0); err != nil {
		b.Fatal(err)
	}
	if _, err := plain.Eval(ctx, benchScript, []string{"bench:n"}); err != nil {
		b.Fatal(err)
	}
	for _, op := range benchOps() {
		b.Run(op.name, func(b *testing.B) {
			runPaired(b, false,
				func(ctx context.Context) error { return op.store(ctx, plain) },
				func(ctx context.Context) error { return op.store(ctx, auto) })
		})
	}
}
