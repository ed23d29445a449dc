package redigo_test

import (
	"context"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/gomodule/redigo/redis"

	"github.com/rediware/rediware/internal/redistest"
	"github.com/rediware/rediware/store"
	"github.com/rediware/rediware/store/redigo"
)

// The benchmarks compare each operation through the Store with the same
// operation on the same redigo pool called directly, in one run:
//
//	go test ./store/redigo -run '^$' -bench . -benchmem -count 5
//
// "store" calls with context.Background(), which redigo serves with a
// plain Do; "store-deadline" calls with a context that has a deadline, which
// is bounded by a socket deadline. "paired" alternates a direct call and a
// Store call with a deadline in every iteration and reports the median
// latency of each (see runPaired): on a busy machine it is the reliable
// measure of the Store's overhead.

const benchGoroutines = 64

var benchScript = store.NewScript("return redis.call('INCR', KEYS[1])")

func BenchmarkStore(b *testing.B) {
	srv := redistest.Start(b)
	pool := realPool(b, srv.Addr())
	pool.MaxIdle = benchGoroutines
	s := redigo.New(pool)
	ctx := context.Background()
	if err := s.Set(ctx, "bench:k", []byte("v"), 0); err != nil {
		b.Fatal(err)
	}
	if _, err := s.Eval(ctx, benchScript, []string{"bench:n"}); err != nil {
		b.Fatal(err)
	}
	val := []byte("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")
	keys := []string{"bench:n"}

	key, nkey := "bench:k", "bench:n"
	// direct calls box their arguments per call, as application code does.
	direct := func(f func(c redis.Conn) error) func(context.Context) error {
		return func(context.Context) error {
			c := pool.Get()
			err := f(c)
			c.Close()
			return err
		}
	}
	type op struct {
		name   string
		direct func(context.Context) error
		store  func(context.Context) error
	}
	for _, o := range []op{
		{"GET",
			direct(func(c redis.Conn) error { _, err := redis.Bytes(c.Do("GET", key)); return err }),
			func(ctx context.Context) error { _, _, err := s.Get(ctx, key); return err }},
		{"SET",
			direct(func(c redis.Conn) error { _, err := c.Do("SET", key, val); return err }),
			func(ctx context.Context) error { return s.Set(ctx, key, val, 0) }},
		{"EVALSHA",
			direct(func(c redis.Conn) error { _, err := c.Do("EVALSHA", benchScript.SHA1(), 1, nkey); return err }),
			func(ctx context.Context) error { _, err := s.Eval(ctx, benchScript, keys); return err }},
	} {
		for _, mode := range []string{"serial", "parallel" + strconv.Itoa(benchGoroutines)} {
			parallel := mode != "serial"
			b.Run(o.name+"/"+mode+"/direct", func(b *testing.B) { runBench(b, parallel, false, o.direct) })
			b.Run(o.name+"/"+mode+"/store", func(b *testing.B) { runBench(b, parallel, false, o.store) })
			b.Run(o.name+"/"+mode+"/store-deadline", func(b *testing.B) { runBench(b, parallel, true, o.store) })
			b.Run(o.name+"/"+mode+"/paired", func(b *testing.B) { runPaired(b, parallel, o.direct, o.store) })
		}
	}
}

func runBench(b *testing.B, parallel, deadline bool, op func(ctx context.Context) error) {
	b.ReportAllocs()
	ctx := context.Background()
	if deadline {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Hour)
		defer cancel()
	}
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

// runPaired times a (direct) and z (the Store, with a deadline) one after
// the other in every iteration, alternating which goes first, and reports
// the median latency of each and their difference.
func runPaired(b *testing.B, parallel bool, a, z func(ctx context.Context) error) {
	var mu sync.Mutex
	var all [2][]time.Duration
	work := func(next func() bool) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
		defer cancel()
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
	if parallel {
		b.SetParallelism(max(1, benchGoroutines/runtime.GOMAXPROCS(0)))
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
