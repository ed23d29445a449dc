package ratelimit_test

import (
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rediware/rediware/internal/redistest"
	"github.com/rediware/rediware/ratelimit"
	"github.com/rediware/rediware/store"
	"github.com/rediware/rediware/store/goredis"
)

func TestMain(m *testing.M) { redistest.Main(m) }

// base is aligned to every window used in the tests (a whole second).
var base = time.UnixMicro(1_700_000_000_000_000)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

// newRedis starts a redis-server and returns a store over a fresh client.
func newRedis(t *testing.T) (*redistest.Server, *goredis.Store) {
	t.Helper()
	srv := redistest.Start(t)
	return srv, newStore(t, srv.Addr())
}

func newStore(t *testing.T, addr string) *goredis.Store {
	t.Helper()
	// No retries, so that a killed server shows at once; timeouts as
	// go-redis's defaults, so that a loaded -race machine does not turn a
	// slow reply into a fallback decision; context deadlines honoured (as
	// goredis.Open sets it), so that Options.Timeout bounds a call.
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialerRetries: 1,
		DialTimeout: 3 * time.Second, ReadTimeout: 3 * time.Second, ContextTimeoutEnabled: true})
	t.Cleanup(func() { _ = c.Close() })
	return goredis.New(c)
}

// newLimiter builds a limiter with a test clock.
func newLimiter(t *testing.T, s store.Store, opts ratelimit.Options) (*ratelimit.Limiter, *clock) {
	t.Helper()
	l, err := ratelimit.NewWithOptions(s, opts)
	if err != nil {
		t.Fatal(err)
	}
	c := &clock{t: base}
	ratelimit.SetClock(l, c.now)
	return l, c
}
