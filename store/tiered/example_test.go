package tiered_test

import (
	"context"
	"fmt"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/rediware/rediware/store/cache"
	"github.com/rediware/rediware/store/goredis"
	"github.com/rediware/rediware/store/tiered"
)

func ExampleNew() {
	mr, _ := miniredis.Run() // a real deployment uses a real Redis
	defer mr.Close()
	ctx := context.Background()
	newInstance := func() *tiered.Cache[string] {
		s := goredis.New(redis.NewClient(&redis.Options{Addr: mr.Addr()}))
		rc := cache.New(s, cache.Options[string]{Codec: cache.String(), Prefix: "greet:"})
		c := tiered.New(rc, tiered.Options[string]{LocalTTL: time.Minute})
		<-c.Ready()
		return c
	}
	a, b := newInstance(), newInstance()
	defer a.Close()
	defer b.Close()

	_ = a.Set(ctx, "en", "hello", time.Hour)
	v, _, _ := b.Get(ctx, "en") // from Redis; now in b's local tier too
	fmt.Println(v, b.LocalLen())

	_ = a.Set(ctx, "en", "hi", time.Hour) // b's local copy is invalidated
	for b.LocalLen() != 0 {
		time.Sleep(time.Millisecond)
	}
	v, _, _ = b.Get(ctx, "en")
	fmt.Println(v)
	// Output:
	// hello 1
	// hi
}
