package writebehind_test

import (
	"fmt"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/rediware/rediware/internal/redistest"
	"github.com/rediware/rediware/store/goredis"
	"github.com/rediware/rediware/store/writebehind"
)

// Every key of a queue shares the hash tag {wb:Name}, so its scripts run on
// Redis Cluster.
func TestQueue_on_cluster(t *testing.T) {
	cl := redistest.SharedCluster(t)
	c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: cl.Addrs()})
	t.Cleanup(func() { c.Close() })
	s := goredis.New(c)
	ctx := t.Context()
	d := newDB()
	q, err := writebehind.New(s, d.apply, writebehind.Options[int]{Name: "cluster"})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		if _, err := q.Write(ctx, fmt.Sprint("k", i%5), i); err != nil {
			t.Fatal(err)
		}
	}
	if err := q.Close(ctx); err != nil {
		t.Fatal(err)
	}
	rows, _ := d.snapshot()
	for i := range 5 {
		if rows[fmt.Sprint("k", i)] != 15+i {
			t.Fatalf("rows %v", rows)
		}
	}
}
