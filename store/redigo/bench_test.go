package redigo_test

import (
	"context"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/gomodule/redigo/redis"

	"github.com/rediware/rediware/internal/redistest"
	"github.com/rediware/rediware/store"
	"github.com/rediware/rediware/store/redigo"
	"github.com/rediware/rediware/store/storetest"
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
// latency of each (see storetest.Paired): on a busy machine it is the reliable
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
			b.Run(o.name+"/"+mode+"/paired", func(b *testing.B) {
				// The Store with a deadline: the DoWithTimeout path.
				ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
				defer cancel()
				n := 0
				if parallel {
					n = benchGoroutines
				}
				storetest.Paired(b, ctx, n, o.direct, o.store)
			})
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
