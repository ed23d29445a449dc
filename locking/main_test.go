package locking_test

import (
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rediware/rediware/internal/redistest"
	"github.com/rediware/rediware/store"
	"github.com/rediware/rediware/store/goredis"
)

func TestMain(m *testing.M) { redistest.Main(m) }

// newStore returns a go-redis store on addr that fails fast when the
// server is down (no retries, short dial timeout).
func newStore(t *testing.T, addr string) *goredis.Store {
	t.Helper()
	c := redis.NewClient(&redis.Options{
		Addr:         addr,
		MaxRetries:   -1,
		DialTimeout:  200 * time.Millisecond,
		ReadTimeout:  time.Second,
		WriteTimeout: time.Second,
	})
	t.Cleanup(func() { c.Close() })
	return goredis.New(c)
}

// server starts a redis-server and returns it with a store on it.
func server(t *testing.T) (*redistest.Server, store.Store) {
	t.Helper()
	srv := redistest.Start(t)
	return srv, newStore(t, srv.Addr())
}
