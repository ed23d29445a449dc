package goredis_test

import (
	"context"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/rediware/rediware/internal/redistest"
	"github.com/rediware/rediware/store"
	"github.com/rediware/rediware/store/goredis"
	"github.com/rediware/rediware/store/storetest"
)

func TestMain(m *testing.M) {
	redis.SetLogger(quietLogger{}) // the failure tests make go-redis log every failed dial
	redistest.Main(m)
}

type quietLogger struct{}

func (quietLogger) Printf(context.Context, string, ...any) {}

// miniClock moves both of miniredis's clocks: the one TTLs use
// (FastForward) and the wall clock its stream idle times use.
func miniClock(m *miniredis.Miniredis) func(time.Duration) {
	return func(d time.Duration) {
		m.FastForward(d)
		time.Sleep(d)
	}
}

// serverHooks lets the failure subtests kill, restart and pause srv.
func serverHooks(srv *redistest.Server) storetest.Option {
	return storetest.WithServer(storetest.Server{
		Kill: srv.Kill, Restart: srv.Restart, Pause: srv.Pause, Resume: srv.Resume,
	})
}

func TestConformance_miniredis(t *testing.T) {
	m := miniredis.RunT(t)
	addr := m.Addr()
	storetest.Run(t, func(t *testing.T) store.Store {
		c := redis.NewClient(&redis.Options{Addr: addr})
		t.Cleanup(func() { c.Close() })
		return goredis.New(c)
	},
		storetest.WithClock(miniClock(m)),
		storetest.WithServer(storetest.Server{Kill: m.Close, Restart: func() { m.Restart() }}),
		// miniredis lacks these; the redis-server runs cover them.
		storetest.Skip("miniredis ignores SCAN's COUNT hint and returns every key in one batch",
			"Scan/CountHint"),
		storetest.Skip("miniredis's Lua engine fails scripts with a nil pointer dereference while the server is closed and restarted under load",
			"Failure/KilledMidCall"),
	)
}

// TestConformance_redis uses a client with ContextTimeoutEnabled: without
// it go-redis ignores context deadlines. The Store pipelines automatically,
// as by default.
func TestConformance_redis(t *testing.T) {
	srv := redistest.Start(t)
	storetest.Run(t, func(t *testing.T) store.Store {
		c := redis.NewClient(&redis.Options{Addr: srv.Addr(), ContextTimeoutEnabled: true})
		t.Cleanup(func() { c.Close() })
		return goredis.New(c)
	}, serverHooks(srv))
}

func TestConformance_redis_NoAutoPipeline(t *testing.T) {
	srv := redistest.Start(t)
	storetest.Run(t, func(t *testing.T) store.Store {
		c := redis.NewClient(&redis.Options{Addr: srv.Addr(), ContextTimeoutEnabled: true})
		s, err := goredis.NewWithOptions(c, goredis.Options{NoAutoPipeline: true})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close(); c.Close() })
		return s
	}, serverHooks(srv))
}

// TestConformance_redis_Open runs the suite on stores from goredis.Open,
// with the client options Open chooses.
func TestConformance_redis_Open(t *testing.T) {
	srv := redistest.Start(t)
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := goredis.Open(srv.URL(), goredis.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}, serverHooks(srv))
}

// TestConformance_redis_AutoPipelineInFlight1 runs the suite with one round
// trip outstanding, so that concurrent calls queue and batch the most.
func TestConformance_redis_AutoPipelineInFlight1(t *testing.T) {
	srv := redistest.Start(t)
	storetest.Run(t, func(t *testing.T) store.Store {
		c := redis.NewClient(&redis.Options{Addr: srv.Addr(), ContextTimeoutEnabled: true})
		s, err := goredis.NewWithOptions(c, goredis.Options{AutoPipelineInFlight: 1})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close(); c.Close() })
		return s
	}, serverHooks(srv))
}

func TestConformance_cluster_NoAutoPipeline(t *testing.T) {
	cl := redistest.SharedCluster(t)
	storetest.Run(t, func(t *testing.T) store.Store {
		c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: cl.Addrs(), ContextTimeoutEnabled: true})
		s, err := goredis.NewWithOptions(c, goredis.Options{NoAutoPipeline: true})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close(); c.Close() })
		return s
	}, storetest.WithCluster())
}

func TestConformance_cluster(t *testing.T) {
	cl := redistest.SharedCluster(t)
	storetest.Run(t, func(t *testing.T) store.Store {
		c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: cl.Addrs()})
		t.Cleanup(func() { c.Close() })
		return goredis.New(c)
	}, storetest.WithCluster())
}
