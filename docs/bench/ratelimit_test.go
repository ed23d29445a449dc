package bench

// Rate limiting: rediware/ratelimit against go-redis/redis_rate v10 (GCRA),
// ulule/limiter v3 (redis store) and throttled v2 (GCRA over its go-redis v9
// store), on the same redis-server in the same run.
//
//	go test -run '^$' -bench '^BenchmarkRateLimit(Middleware)?$' -benchmem -benchtime=2s
//	go test -run '^$' -bench 'RateLimitInterleaved' -benchtime=100x
//
// On a shared machine prefer the interleaved form (see its comment); the
// figures in docs/ratelimit.md come from it. One op is one decision. The limit is high enough that every decision
// admits (the common case). Keys cycle through 1000 clients. "serial" is one
// caller; "parallel64" is 64 goroutines (b.SetParallelism on GOMAXPROCS).
// rediware runs over the default go-redis Store (automatic pipelining,
// which batches concurrent EVALSHAs), over one with
// goredis.Options{NoAutoPipeline: true}, and with ratelimit.Options{Batch:
// true}, which batches concurrent decisions into one script run.

import (
	"context"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"
	"github.com/throttled/throttled/v2"
	throttledstore "github.com/throttled/throttled/v2/store/goredisstore.v9"
	"github.com/ulule/limiter/v3"
	ulredis "github.com/ulule/limiter/v3/drivers/store/redis"

	"github.com/rediware/rediware/internal/redistest"
	"github.com/rediware/rediware/ratelimit"
	"github.com/rediware/rediware/store/goredis"
)

const rlBenchRate = 1_000_000 // per second: never denies here

type rlBenchCase struct {
	name string
	op   func(ctx context.Context, key string) error
}

func rlBenchClient(b testing.TB, addr string) *redis.Client {
	b.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr})
	b.Cleanup(func() { c.Close() })
	return c
}

func rlBenchCases(b testing.TB, addr string) []rlBenchCase {
	b.Helper()
	lim := ratelimit.PerSecond(rlBenchRate)
	def := ratelimit.New(goredis.New(rlBenchClient(b, addr)), lim) // automatic pipelining, the default
	nps, err := goredis.NewWithOptions(rlBenchClient(b, addr), goredis.Options{NoAutoPipeline: true})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { nps.Close() })
	nopipe := ratelimit.New(nps, lim)
	batched, err := ratelimit.NewWithOptions(goredis.New(rlBenchClient(b, addr)), ratelimit.Options{
		Limits: []ratelimit.Limit{lim}, Batch: true})
	if err != nil {
		b.Fatal(err)
	}

	rr := redis_rate.NewLimiter(rlBenchClient(b, addr))
	rrLimit := redis_rate.PerSecond(rlBenchRate)

	ustore, err := ulredis.NewStoreWithOptions(rlBenchClient(b, addr), limiter.StoreOptions{Prefix: "ulule"})
	if err != nil {
		b.Fatal(err)
	}
	ul := limiter.New(ustore, limiter.Rate{Period: time.Second, Limit: rlBenchRate})

	tstore, err := throttledstore.NewCtx(rlBenchClient(b, addr), "throttled:")
	if err != nil {
		b.Fatal(err)
	}
	th, err := throttled.NewGCRARateLimiterCtx(tstore, throttled.RateQuota{
		MaxRate: throttled.PerSec(rlBenchRate), MaxBurst: rlBenchRate})
	if err != nil {
		b.Fatal(err)
	}

	ours := func(l *ratelimit.Limiter) func(context.Context, string) error {
		return func(ctx context.Context, key string) error {
			res, err := l.Allow(ctx, key)
			if err == nil && res.Source != ratelimit.SourceRedis {
				err = res.Err
			}
			return err
		}
	}
	return []rlBenchCase{
		{"rediware", ours(def)},
		{"rediware-nopipeline", ours(nopipe)},
		{"rediware-batch", ours(batched)},
		{"redis_rate", func(ctx context.Context, key string) error {
			_, err := rr.Allow(ctx, key, rrLimit)
			return err
		}},
		{"ulule", func(ctx context.Context, key string) error {
			_, err := ul.Get(ctx, key)
			return err
		}},
		{"throttled", func(ctx context.Context, key string) error {
			_, _, err := th.RateLimitCtx(ctx, key, 1)
			return err
		}},
	}
}

func BenchmarkRateLimit(b *testing.B) {
	srv := redistest.Start(b)
	cases := rlBenchCases(b, srv.Addr())
	keys := make([]string, 1000)
	for i := range keys {
		keys[i] = "client-" + strconv.Itoa(i)
	}
	ctx := context.Background()
	for _, mode := range []string{"serial", "parallel64"} {
		for _, c := range cases {
			b.Run(mode+"/"+c.name, func(b *testing.B) {
				if mode == "serial" {
					i := 0
					for b.Loop() {
						i++
						if err := c.op(ctx, keys[i%len(keys)]); err != nil {
							b.Fatal(err)
						}
					}
					return
				}
				var id atomic.Int64
				b.SetParallelism(64 / runtime.GOMAXPROCS(0))
				b.RunParallel(func(pb *testing.PB) {
					i := int(id.Add(1)) * 7919
					for pb.Next() {
						i++
						if err := c.op(ctx, keys[i%len(keys)]); err != nil {
							b.Error(err)
							return
						}
					}
				})
			})
		}
	}
}

// BenchmarkRateLimitMiddleware measures a whole request through the
// middleware on a real store: allocations include go-redis's own.
func BenchmarkRateLimitMiddleware(b *testing.B) {
	srv := redistest.Start(b)
	for _, nopipe := range []bool{false, true} {
		name := "default"
		if nopipe {
			name = "nopipeline"
		}
		s, err := goredis.NewWithOptions(rlBenchClient(b, srv.Addr()), goredis.Options{NoAutoPipeline: nopipe})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { s.Close() })
		l := ratelimit.New(s, ratelimit.PerSecond(rlBenchRate))
		h := l.Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
		b.Run(name, func(b *testing.B) {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.RemoteAddr = "192.0.2.1:1234"
			w := &rlDiscard{h: http.Header{}}
			b.ReportAllocs()
			for b.Loop() {
				clear(w.h)
				h.ServeHTTP(w, r)
			}
		})
	}
}

type rlDiscard struct{ h http.Header }

func (d *rlDiscard) Header() http.Header         { return d.h }
func (d *rlDiscard) Write(p []byte) (int, error) { return len(p), nil }
func (d *rlDiscard) WriteHeader(int)             {}

// BenchmarkRateLimitInterleaved runs the libraries in turns, in a shuffled
// order each round, blocks of decisions each, so that a change in machine
// load during the run (other processes on a small shared machine) hits all
// of them alike. It reports, per library, the median over the blocks of the
// time per decision (for parallel64, wall time per decision: the inverse of
// throughput). The benchmark's own ns/op is the time of a whole round and
// means nothing.
//
//	go test -run '^$' -bench 'RateLimitInterleaved' -benchtime=100x
func BenchmarkRateLimitInterleaved(b *testing.B) {
	srv := redistest.Start(b)
	cases := rlBenchCases(b, srv.Addr())
	ctx := context.Background()
	keys := make([]string, 1000)
	for i := range keys {
		keys[i] = "client-" + strconv.Itoa(i)
	}
	for _, mode := range []string{"serial", "parallel64"} {
		b.Run(mode, func(b *testing.B) {
			block := 100
			if mode != "serial" {
				block = 1600
			}
			perBlock := make([][]float64, len(cases))
			order := make([]int, len(cases))
			for i := range order {
				order[i] = i
			}
			round := 0
			for b.Loop() {
				round++
				rand.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
				for _, i := range order {
					c := cases[i]
					start := time.Now()
					if mode == "serial" {
						for j := range block {
							if err := c.op(ctx, keys[(round*block+j)%len(keys)]); err != nil {
								b.Fatal(err)
							}
						}
					} else {
						rlRunParallel(b, 64, block, func(j int) error {
							return c.op(ctx, keys[(round*block+j)%len(keys)])
						})
					}
					perBlock[i] = append(perBlock[i], float64(time.Since(start).Nanoseconds())/float64(block))
				}
			}
			for i, c := range cases {
				slices.Sort(perBlock[i])
				b.ReportMetric(perBlock[i][len(perBlock[i])/2], c.name+"-ns/decision")
			}
		})
	}
}

// rlRunParallel runs total calls of fn on workers goroutines.
func rlRunParallel(b *testing.B, workers, total int, fn func(int) error) {
	var next atomic.Int64
	done := make(chan struct{})
	for range workers {
		go func() {
			defer func() { done <- struct{}{} }()
			for {
				j := int(next.Add(1))
				if j > total {
					return
				}
				if err := fn(j); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	for range workers {
		<-done
	}
}
