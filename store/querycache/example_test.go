package querycache_test

import (
	"context"
	"fmt"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/rediware/rediware/store/cache"
	"github.com/rediware/rediware/store/goredis"
	"github.com/rediware/rediware/store/querycache"
)

func ExampleCache_Do() {
	mr, _ := miniredis.Run() // a real deployment uses a real Redis
	defer mr.Close()
	s := goredis.New(redis.NewClient(&redis.Options{Addr: mr.Addr()}))
	ctx := context.Background()
	qc := querycache.New(cache.New(s, cache.Options[string]{Codec: cache.String()}))

	name := "Ada"
	q := querycache.Query{SQL: "SELECT name FROM users WHERE id = $1", Args: []any{42}, Deps: []string{"user:42"}, TTL: time.Minute}
	run := func(context.Context) (string, error) { return name, nil }

	v, _ := qc.Do(ctx, q, run)
	name = "Grace" // the row changes...
	cached, _ := qc.Do(ctx, q, run)
	_, _ = qc.Invalidate(ctx, "user:42") // ...and its writer says so
	fresh, _ := qc.Do(ctx, q, run)
	fmt.Println(v, cached, fresh)
	// Output: Ada Ada Grace
}
