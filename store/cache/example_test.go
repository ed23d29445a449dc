package cache_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/rediware/rediware/store/cache"
	"github.com/rediware/rediware/store/goredis"
)

func ExampleNew() {
	mr, _ := miniredis.Run() // a real deployment uses a real Redis
	defer mr.Close()
	s := goredis.New(redis.NewClient(&redis.Options{Addr: mr.Addr()}))
	ctx := context.Background()

	type User struct{ Name string }
	users := cache.New(s, cache.Options[User]{Prefix: "users:", TTL: 10 * time.Minute, NegativeTTL: time.Minute})

	loads := 0
	load := func(id string) cache.Loader[User] {
		return func(ctx context.Context) (User, error) {
			loads++
			if id != "42" {
				return User{}, cache.ErrNotFound
			}
			return User{Name: "Ada"}, nil
		}
	}
	u, _ := users.GetOrLoad(ctx, "42", load("42"), 0)
	u, _ = users.GetOrLoad(ctx, "42", load("42"), 0) // a hit
	fmt.Println(u.Name)

	_, err := users.GetOrLoad(ctx, "7", load("7"), 0)
	_, err = users.GetOrLoad(ctx, "7", load("7"), 0) // a cached "not found"
	fmt.Println(errors.Is(err, cache.ErrNotFound), "loads:", loads)
	// Output:
	// Ada
	// true loads: 2
}

func ExampleMemoize() {
	mr, _ := miniredis.Run()
	defer mr.Close()
	s := goredis.New(redis.NewClient(&redis.Options{Addr: mr.Addr()}))
	squares := cache.New(s, cache.Options[int]{Prefix: "sq:"})

	calls := 0
	square := cache.Memoize(squares, func(n int) string { return fmt.Sprint(n) },
		func(_ context.Context, n int) (int, error) { calls++; return n * n, nil }, time.Minute)

	a, _ := square(context.Background(), 12)
	b, _ := square(context.Background(), 12)
	fmt.Println(a, b, "calls:", calls)
	// Output: 144 144 calls: 1
}

func ExampleCache_WriteThrough() {
	mr, _ := miniredis.Run()
	defer mr.Close()
	s := goredis.New(redis.NewClient(&redis.Options{Addr: mr.Addr()}))
	ctx := context.Background()
	names := cache.New(s, cache.Options[string]{Codec: cache.String(), Prefix: "name:"})

	db := map[string]string{}
	save := func(ctx context.Context, v string) error {
		if v == "" {
			return errors.New("db: empty name")
		}
		db["42"] = v
		return nil
	}
	_ = names.WriteThrough(ctx, "42", "Ada", save, time.Hour)
	v, ok, _ := names.Get(ctx, "42")
	fmt.Println(v, ok, db["42"])

	err := names.WriteThrough(ctx, "42", "", save, time.Hour) // the database refuses it
	_, ok, _ = names.Get(ctx, "42")
	fmt.Println(err, ok) // no entry: the next read loads from the database
	// Output:
	// Ada true Ada
	// db: empty name false
}

func ExampleCache_InvalidateTags() {
	mr, _ := miniredis.Run()
	defer mr.Close()
	s := goredis.New(redis.NewClient(&redis.Options{Addr: mr.Addr()}))
	ctx := context.Background()
	c := cache.New(s, cache.Options[int]{Prefix: "orders:"})

	_ = c.Set(ctx, "count:team7", 12, time.Hour, "team:7")
	_ = c.Set(ctx, "count:team8", 3, time.Hour, "team:8")
	n, _ := c.InvalidateTags(ctx, "team:7")
	_, ok7, _ := c.Get(ctx, "count:team7")
	_, ok8, _ := c.Get(ctx, "count:team8")
	fmt.Println(n, ok7, ok8)
	// Output: 1 false true
}
