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
	newInstance := func(hook cache.Hook) *tiered.Cache[string] {
		s := goredis.New(redis.NewClient(&redis.Options{Addr: mr.Addr()}))
		rc := cache.New(s, cache.Options[string]{Codec: cache.String(), Prefix: "greet:"})
		c := tiered.New(rc, tiered.Options[string]{LocalTTL: time.Minute, Hook: hook})
		<-c.Ready()
		return c
	}
	invalidated := make(chan string, 8) // keys b dropped on another instance's word
	a := newInstance(nil)
	b := newInstance(func(e cache.Event) {
		if e.Kind == cache.Invalidate {
			invalidated <- e.Key
		}
	})
	defer a.Close()
	defer b.Close()

	_ = a.Set(ctx, "en", "hello", time.Hour)
	<-invalidated
	v, _, _ := b.Get(ctx, "en") // from Redis; now in b's local tier too
	fmt.Println(v, b.LocalLen())

	_ = a.Set(ctx, "en", "hi", time.Hour)
	fmt.Println("b dropped", <-invalidated)
	v, _, _ = b.Get(ctx, "en")
	fmt.Println(v)
	// Output:
	// hello 1
	// b dropped en
	// hi
}
