package goredis_test

import (
	"context"
	"fmt"
	"runtime"
	"strconv"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/rediware/rediware/internal/redistest"
	"github.com/rediware/rediware/store"
	"github.com/rediware/rediware/store/goredis"
	"github.com/rediware/rediware/store/storetest"
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

// BenchmarkPaired measures the Store's overhead over direct go-redis calls
// with storetest.Paired (both calls in every iteration, medians compared),
// serially and with 64 goroutines.
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
				storetest.Paired(b, context.Background(), goroutines(parallel), direct, viaStore)
			})
		}
	}
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
			storetest.Paired(b, context.Background(), 0,
				func(ctx context.Context) error { return op.store(ctx, plain) },
				func(ctx context.Context) error { return op.store(ctx, auto) })
		})
	}
}

// goroutines is the Paired goroutine count for a serial or parallel case.
func goroutines(parallel bool) int {
	if parallel {
		return benchGoroutines
	}
	return 0
}
