package bench

// Distributed locks: rediware/locking against go-redsync/redsync v4 (go-redis
// v9 pool) and bsm/redislock, on the same redis-server in the same run.
//
//	go test -run '^$' -bench 'Lock' -benchmem -benchtime=2s
//
// One op is an acquire plus a release on a key no one else holds. "serial" is
// one caller; "parallel64" is 64 goroutines (b.SetParallelism on
// GOMAXPROCS), each on its own key.

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bsm/redislock"
	"github.com/go-redsync/redsync/v4"
	rsgoredis "github.com/go-redsync/redsync/v4/redis/goredis/v9"
	"github.com/redis/go-redis/v9"

	"github.com/rediware/rediware/internal/redistest"
	"github.com/rediware/rediware/locking"
	"github.com/rediware/rediware/store"
	"github.com/rediware/rediware/store/goredis"
	rwredigo "github.com/rediware/rediware/store/redigo"
)

const lockBenchTTL = 10 * time.Second

// lockBenchCase is one library's acquire+release.
type lockBenchCase struct {
	name string
	op   func(ctx context.Context, key string) error
}

func lockBenchClient(b *testing.B, addr string) *redis.Client {
	b.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr})
	b.Cleanup(func() { c.Close() })
	return c
}

func lockBenchCases(b *testing.B, addr string) []lockBenchCase {
	b.Helper()
	def := locking.New(goredis.New(lockBenchClient(b, addr))) // automatic pipelining, the default
	nps, err := goredis.NewWithOptions(lockBenchClient(b, addr), goredis.Options{NoAutoPipeline: true})
	if err != nil {
		b.Fatal(err)
	}
	nopipe := locking.New(nps)
	rs := redsync.New(rsgoredis.NewPool(lockBenchClient(b, addr)))
	rl := redislock.New(lockBenchClient(b, addr))

	rediware := func(lk *locking.Locker) func(context.Context, string) error {
		return func(ctx context.Context, key string) error {
			l, err := lk.Obtain(ctx, key, lockBenchTTL, nil)
			if err != nil {
				return err
			}
			return l.Release(ctx)
		}
	}
	return []lockBenchCase{
		{"rediware", rediware(def)},
		{"rediware-nopipeline", rediware(nopipe)},
		{"redsync", func(ctx context.Context, key string) error {
			m := rs.NewMutex(key, redsync.WithExpiry(lockBenchTTL), redsync.WithTries(1))
			if err := m.LockContext(ctx); err != nil {
				return err
			}
			_, err := m.UnlockContext(ctx)
			return err
		}},
		{"redislock", func(ctx context.Context, key string) error {
			l, err := rl.Obtain(ctx, key, lockBenchTTL, nil)
			if err != nil {
				return err
			}
			return l.Release(ctx)
		}},
	}
}

func BenchmarkLock(b *testing.B) {
	srv := redistest.Start(b)
	cases := lockBenchCases(b, srv.Addr())
	ctx := context.Background()
	for _, mode := range []string{"serial", "parallel64"} {
		for _, c := range cases {
			b.Run(mode+"/"+c.name, func(b *testing.B) {
				if mode == "serial" {
					key := "bench:" + c.name
					for b.Loop() {
						if err := c.op(ctx, key); err != nil {
							b.Fatal(err)
						}
					}
					return
				}
				var id atomic.Int64
				b.SetParallelism(64 / runtime.GOMAXPROCS(0))
				b.RunParallel(func(pb *testing.PB) {
					key := "bench:" + c.name + ":" + strconv.FormatInt(id.Add(1), 10)
					for pb.Next() {
						if err := c.op(ctx, key); err != nil {
							b.Error(err)
							return
						}
					}
				})
			})
		}
	}
}

// BenchmarkLockInterleaved runs one caller's acquire+release of every
// library in turn inside one loop (one library per iteration; every round
// runs each library once, in a shuffled order, so that no library always
// follows the same one) and reports each library's mean time per op as a metric
// ("<name>-µs/op"). On a shared, noisy machine this pairs the measurements
// under the same load, which separate benchmarks run seconds apart do not.
// (Interleaving does not suit the 64-caller case: the libraries would
// share the server's queue, and automatic pipelining would batch a quarter
// of the callers only.)
func BenchmarkLockInterleaved(b *testing.B) {
	srv := redistest.Start(b)
	cases := lockBenchCases(b, srv.Addr())
	ctx := context.Background()
	b.Run("serial", func(b *testing.B) {
		totals := make([]time.Duration, len(cases))
		counts := make([]int, len(cases))
		order := lockBenchOrder(len(cases))
		for n := 0; b.Loop(); n++ {
			i := order(n)
			begin := time.Now()
			if err := cases[i].op(ctx, "bench:il:"+cases[i].name); err != nil {
				b.Fatal(err)
			}
			totals[i] += time.Since(begin)
			counts[i]++
		}
		for i, c := range cases {
			if counts[i] > 0 {
				b.ReportMetric(float64(totals[i])/1e3/float64(counts[i]), c.name+"-µs/op")
			}
		}
	})
}

// BenchmarkLockRounds measures 64 concurrent callers' throughput in short
// rounds: each round runs every library alone for 2048 ops (64
// goroutines on distinct keys), one library after another, and the
// libraries' order rotates between rounds. Summing the rounds gives each
// library's throughput ("<name>-kops/s") measured in the same stretches of
// machine load, while each still runs alone against the server.
func BenchmarkLockRounds(b *testing.B) {
	srv := redistest.Start(b)
	cases := lockBenchCases(b, srv.Addr())
	b.Run("parallel64", func(b *testing.B) { runLockRounds(b, cases, 64, 2048, "bench:rounds:") })
}

// BenchmarkRedlock compares the latency of one caller's acquire+release on
// one server with Redlock over three, for rediware (on go-redis stores and
// on store/redigo stores) and redsync, and for the go-redis
// floor (lockFloor: what a Redlock client that spends a goroutine per
// server on go-redis could at best reach on this machine).
func BenchmarkRedlock(b *testing.B) {
	srvs := redistest.StartN(b, 3)
	stores := make([]store.Store, len(srvs))
	for i, srv := range srvs {
		stores[i] = goredis.New(lockBenchClient(b, srv.Addr()))
	}
	single := locking.New(stores[0])
	red3, err := locking.NewRedlock(stores, locking.Options{})
	if err != nil {
		b.Fatal(err)
	}
	rgStores := make([]store.Store, len(srvs))
	for i, srv := range srvs {
		s, err := rwredigo.Open("redis://"+srv.Addr(), rwredigo.Options{})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { s.Close() })
		rgStores[i] = s
	}
	rgSingle := locking.New(rgStores[0])
	rgRed3, err := locking.NewRedlock(rgStores, locking.Options{})
	if err != nil {
		b.Fatal(err)
	}
	rsSingle := redsync.New(rsgoredis.NewPool(lockBenchClient(b, srvs[0].Addr())))
	rs3 := redsync.New(
		rsgoredis.NewPool(lockBenchClient(b, srvs[0].Addr())),
		rsgoredis.NewPool(lockBenchClient(b, srvs[1].Addr())),
		rsgoredis.NewPool(lockBenchClient(b, srvs[2].Addr())),
	)
	ctx := context.Background()
	rediware := func(lk *locking.Locker) func(context.Context, string) error {
		return func(ctx context.Context, key string) error {
			l, err := lk.Obtain(ctx, key, lockBenchTTL, nil)
			if err != nil {
				return err
			}
			return l.Release(ctx)
		}
	}
	rsync := func(rs *redsync.Redsync) func(context.Context, string) error {
		return func(ctx context.Context, key string) error {
			m := rs.NewMutex(key, redsync.WithExpiry(lockBenchTTL), redsync.WithTries(1))
			if err := m.LockContext(ctx); err != nil {
				return err
			}
			if ok, err := m.UnlockContext(ctx); !ok || err != nil {
				return fmt.Errorf("unlock: %v %w", ok, err)
			}
			return nil
		}
	}
	floorClients := make([]*redis.Client, len(srvs))
	for i, srv := range srvs {
		floorClients[i] = lockBenchClient(b, srv.Addr())
	}
	cases := []lockBenchCase{
		{"rediware-single", rediware(single)},
		{"rediware-redlock3", rediware(red3)},
		{"rediware-redigo-single", rediware(rgSingle)},
		{"rediware-redigo-redlock3", rediware(rgRed3)},
		{"redsync-single", rsync(rsSingle)},
		{"redsync-redlock3", rsync(rs3)},
		{"floor-single", newLockFloor(b, floorClients[:1]).op},
		{"floor-redlock3", newLockFloor(b, floorClients).op},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				if err := c.op(ctx, "bench:redlock:"+c.name); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	// The same, interleaved in one loop so that every case sees the same
	// machine load (see BenchmarkLockInterleaved).
	// Each case's median is reported too ("-p50-µs"), less swayed than
	// the mean by the stalls of a shared machine.
	b.Run("interleaved", func(b *testing.B) {
		totals := make([]time.Duration, len(cases))
		samples := make([][]time.Duration, len(cases))
		order := lockBenchOrder(len(cases))
		for n := 0; b.Loop(); n++ {
			i := order(n)
			begin := time.Now()
			if err := cases[i].op(ctx, "bench:redlock:il:"+cases[i].name); err != nil {
				b.Fatal(err)
			}
			d := time.Since(begin)
			totals[i] += d
			samples[i] = append(samples[i], d)
		}
		for i, c := range cases {
			if k := len(samples[i]); k > 0 {
				b.ReportMetric(float64(totals[i])/1e3/float64(k), c.name+"-µs/op")
				slices.Sort(samples[i])
				b.ReportMetric(float64(samples[i][k/2])/1e3, c.name+"-p50-µs")
			}
		}
	})
	// Throughput of 16 concurrent callers on distinct keys, Redlock(3)
	// only, in rounds as in BenchmarkLockRounds.
	b.Run("rounds16", func(b *testing.B) {
		var rl []lockBenchCase
		for _, c := range cases {
			if strings.HasPrefix(c.name, "rediware") && strings.HasSuffix(c.name, "redlock3") {
				rl = append(rl, c)
			}
		}
		runLockRounds(b, rl, 16, 512, "bench:redlock:rounds:")
	})
}

// runLockRounds runs rounds in which each case alone serves roundOps
// acquire+release ops from callers goroutines on distinct keys, the cases'
// order rotating between rounds, and reports each case's throughput over
// its own stretches ("<name>-kops/s").
func runLockRounds(b *testing.B, cases []lockBenchCase, callers, roundOps int, keyPrefix string) {
	ctx := context.Background()
	busy := make([]time.Duration, len(cases))
	ops := make([]int64, len(cases))
	for done, round := 0, 0; done < b.N; round++ {
		for k := range cases {
			i := (k + round) % len(cases)
			var left atomic.Int64
			left.Store(int64(roundOps))
			var wg sync.WaitGroup
			begin := time.Now()
			for g := range callers {
				key := keyPrefix + cases[i].name + ":" + strconv.Itoa(g)
				wg.Go(func() {
					for left.Add(-1) >= 0 {
						if err := cases[i].op(ctx, key); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			busy[i] += time.Since(begin)
			ops[i] += int64(roundOps)
			done += roundOps
		}
	}
	for i, c := range cases {
		b.ReportMetric(float64(ops[i])/busy[i].Seconds()/1e3, c.name+"-kops/s")
	}
}

// lockBenchOrder returns the case to run at iteration n of an interleaved
// loop: each round of k iterations runs every case once, in an order
// shuffled per round (a fixed seed, so runs are comparable).
func lockBenchOrder(k int) func(n int) int {
	rng := rand.New(rand.NewPCG(1, 2))
	perm := make([]int, k)
	for i := range perm {
		perm[i] = i
	}
	return func(n int) int {
		if n%k == 0 {
			rng.Shuffle(k, func(i, j int) { perm[i], perm[j] = perm[j], perm[i] })
		}
		return perm[n%k]
	}
}

// lockFloor is the least an acquire+release can cost with go-redis on
// this machine, for reading the Redlock figures: a SET NX PX script and a
// compare-and-delete script sent to every server, by goroutines kept
// between calls, each phase returning once a majority has answered. It is
// not a lock: no token randomness, validity, fencing, error handling or
// clean-up. "floor-redlock3" over "floor-single" is the ratio that any
// Redlock client built on go-redis could at best reach here.
type lockFloor struct {
	clients []*redis.Client
	jobs    []chan lockFloorJob
	n       atomic.Int64
}

type lockFloorJob struct {
	script *redis.Script
	key    string
	args   []any
	done   chan<- struct{}
}

var (
	lockFloorAcquire = redis.NewScript(`if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end return 0`)
	lockFloorRelease = redis.NewScript(`if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`)
)

func newLockFloor(b *testing.B, clients []*redis.Client) *lockFloor {
	b.Helper()
	f := &lockFloor{clients: clients}
	for _, c := range clients {
		for _, sc := range []*redis.Script{lockFloorAcquire, lockFloorRelease} {
			if err := sc.Load(context.Background(), c).Err(); err != nil {
				b.Fatal(err)
			}
		}
		jobs := make(chan lockFloorJob, 16)
		f.jobs = append(f.jobs, jobs)
		go func() {
			for j := range jobs {
				j.script.EvalSha(context.Background(), c, []string{j.key}, j.args...)
				j.done <- struct{}{}
			}
		}()
	}
	b.Cleanup(func() {
		for _, jobs := range f.jobs {
			close(jobs)
		}
	})
	return f
}

func (f *lockFloor) op(ctx context.Context, key string) error {
	v := strconv.FormatInt(f.n.Add(1), 10)
	if len(f.clients) == 1 {
		if err := lockFloorAcquire.EvalSha(ctx, f.clients[0], []string{key}, v, lockBenchTTL.Milliseconds()).Err(); err != nil {
			return err
		}
		return lockFloorRelease.EvalSha(ctx, f.clients[0], []string{key}, v).Err()
	}
	quorum := len(f.clients)/2 + 1
	for _, phase := range []lockFloorJob{
		{script: lockFloorAcquire, key: key, args: []any{v, lockBenchTTL.Milliseconds()}},
		{script: lockFloorRelease, key: key, args: []any{v}},
	} {
		done := make(chan struct{}, len(f.clients))
		phase.done = done
		for _, jobs := range f.jobs {
			jobs <- phase
		}
		for range quorum {
			<-done
		}
	}
	return nil
}
