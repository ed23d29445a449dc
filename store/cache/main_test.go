package cache_test

import (
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/rediware/rediware/internal/redistest"
	"github.com/rediware/rediware/store"
	"github.com/rediware/rediware/store/goredis"
)

func TestMain(m *testing.M) { redistest.Main(m) }

// newStore starts a redis-server for the test and returns a store over it.
func newStore(t *testing.T) (*redistest.Server, *goredis.Store) {
	t.Helper()
	srv := redistest.Start(t)
	return srv, storeFor(t, srv)
}

// storeFor returns one more client (a separate instance) on srv.
func storeFor(t *testing.T, srv *redistest.Server) *goredis.Store {
	t.Helper()
	// ContextTimeoutEnabled: go-redis ignores context deadlines on
	// sockets without it (its default), and waits for its own timeouts.
	c := redis.NewClient(&redis.Options{Addr: srv.Addr(), MaxRetries: -1, ContextTimeoutEnabled: true})
	t.Cleanup(func() { c.Close() })
	return goredis.New(c)
}

// recorder is a Hook that counts events.
type recorder struct {
	mu     sync.Mutex
	events []string
}

func (r *recorder) hook(e cacheEvent) {
	r.mu.Lock()
	r.events = append(r.events, e.Tier.String()+":"+e.Kind.String())
	r.mu.Unlock()
}

func (r *recorder) count(name string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, e := range r.events {
		if e == name {
			n++
		}
	}
	return n
}

func redisSlot(key string) int { return store.Slot(key) }
