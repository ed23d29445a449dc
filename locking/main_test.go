package locking_test

import (
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rediware/rediware/internal/redistest"
	"github.com/rediware/rediware/store"
	"github.com/rediware/rediware/store/goredis"
	"github.com/rediware/rediware/store/redigo"
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

// backend opens a store of one client library on a server.
type backend struct {
	name string
	open func(t *testing.T, srv *redistest.Server) store.Store
}

// backends are the store implementations the Redlock tests run over:
// go-redis and redigo.
var backends = []backend{
	{"goredis", func(t *testing.T, srv *redistest.Server) store.Store { return newStore(t, srv.Addr()) }},
	{"redigo", func(t *testing.T, srv *redistest.Server) store.Store { return newRedigo(t, srv, time.Second) }},
}

// newRedigo returns a redigo store on srv that fails fast when the server
// is down, and waits for an answer at most readTimeout.
func newRedigo(t *testing.T, srv *redistest.Server, readTimeout time.Duration) *redigo.Store {
	t.Helper()
	s, err := redigo.Open(srv.URL()+"?dial_timeout=200ms&read_timeout="+readTimeout.String(), redigo.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// forEachBackend runs fn as a subtest per backend.
func forEachBackend(t *testing.T, fn func(t *testing.T, be backend)) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) { fn(t, be) })
	}
}
