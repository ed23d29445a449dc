package locking_test

import (
	"errors"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rediware/rediware/internal/redistest"
	"github.com/rediware/rediware/locking"
	"github.com/rediware/rediware/store/goredis"
)

func TestCluster_obtain_extend_release_and_fence(t *testing.T) {
	cl := redistest.SharedCluster(t)
	c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: cl.Addrs()})
	t.Cleanup(func() { c.Close() })
	s := goredis.New(c)
	lk := locking.New(s)
	ctx := t.Context()
	for _, key := range []string{"a", "b", "job:42", "{x}"} {
		l, err := lk.Obtain(ctx, key, time.Second, &locking.ObtainOptions{Watchdog: true})
		if err != nil {
			t.Fatalf("%s: %v", key, err)
		}
		if _, err := lk.Obtain(ctx, key, time.Second, nil); !errors.Is(err, locking.ErrNotObtained) {
			t.Fatalf("%s: second Obtain = %v", key, err)
		}
		if err := l.Extend(ctx, 2*time.Second); err != nil {
			t.Fatalf("%s: %v", key, err)
		}
		if err := locking.FencedSet(ctx, s, "{data:"+key+"}", []byte("v"), l.Fence(), time.Minute); err != nil {
			t.Fatalf("%s: %v", key, err)
		}
		if err := l.Release(ctx); err != nil {
			t.Fatalf("%s: %v", key, err)
		}
	}
}
