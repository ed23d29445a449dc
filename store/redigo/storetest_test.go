package redigo_test

import (
	"context"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/gomodule/redigo/redis"

	"github.com/rediware/rediware/internal/redistest"
	"github.com/rediware/rediware/store"
	"github.com/rediware/rediware/store/redigo"
	"github.com/rediware/rediware/store/storetest"
)

func TestMain(m *testing.M) { redistest.Main(m) }

// miniClock moves both of miniredis's clocks: the one TTLs use
// (FastForward) and the wall clock its stream idle times use.
func miniClock(m *miniredis.Miniredis) func(time.Duration) {
	return func(d time.Duration) {
		m.FastForward(d)
		time.Sleep(d)
	}
}

func TestConformance_miniredis(t *testing.T) {
	m := miniredis.RunT(t)
	pool := miniPool(t, m)
	storetest.Run(t, func(t *testing.T) store.Store { return redigo.New(pool) },
		storetest.WithClock(miniClock(m)),
		storetest.WithServer(storetest.Server{Kill: m.Close, Restart: func() { m.Restart() }}),
		storetest.Skip("miniredis ignores SCAN's COUNT hint and returns every key in one batch",
			"Scan/CountHint"),
		storetest.Skip("miniredis's Lua engine fails scripts with a nil pointer dereference while the server is closed and restarted under load",
			"Failure/KilledMidCall"),
	)
}

// realPool is a pool like the one Open builds, with a short read timeout
// so that nothing in the tests can hang.
func realPool(t testing.TB, addr string) *redis.Pool {
	p := &redis.Pool{
		DialContext: func(ctx context.Context) (redis.Conn, error) {
			return redis.DialContext(ctx, "tcp", addr,
				redis.DialConnectTimeout(time.Second),
				redis.DialReadTimeout(3*time.Second),
				redis.DialWriteTimeout(3*time.Second))
		},
		MaxIdle: 16, MaxActive: 64, Wait: true,
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func TestConformance_redis(t *testing.T) {
	srv := redistest.Start(t)
	pool := realPool(t, srv.Addr())
	storetest.Run(t, func(t *testing.T) store.Store { return redigo.New(pool) },
		storetest.WithServer(storetest.Server{
			Kill: srv.Kill, Restart: srv.Restart, Pause: srv.Pause, Resume: srv.Resume,
		}))
}

func TestConformance_redis_Open(t *testing.T) {
	srv := redistest.Start(t)
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := redigo.Open(srv.URL(), redigo.Options{SubscriptionHealthInterval: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}, storetest.WithServer(storetest.Server{
		Kill: srv.Kill, Restart: srv.Restart, Pause: srv.Pause, Resume: srv.Resume,
	}))
}
