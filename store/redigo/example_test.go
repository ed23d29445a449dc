package redigo_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/gomodule/redigo/redis"

	"github.com/rediware/rediware/store"
	"github.com/rediware/rediware/store/redigo"
)

func ExampleNew() {
	m, _ := miniredis.Run() // any Redis; miniredis keeps the example self-contained
	defer m.Close()

	pool := &redis.Pool{
		DialContext: func(ctx context.Context) (redis.Conn, error) {
			return redis.DialContext(ctx, "tcp", m.Addr(), redis.DialReadTimeout(3*time.Second))
		},
		MaxIdle: 16, MaxActive: 64, Wait: true,
	}
	defer pool.Close()
	s := redigo.New(pool)

	ctx := context.Background()
	_ = s.Set(ctx, "greeting", []byte("hello"), time.Minute)
	v, found, err := s.Get(ctx, "greeting")
	fmt.Println(string(v), found, err)
	_, found, _ = s.Get(ctx, "missing")
	fmt.Println(found)
	// Output:
	// hello true <nil>
	// false
}

func ExampleOpen() {
	m, _ := miniredis.Run()
	defer m.Close()

	s, err := redigo.Open("redis://"+m.Addr()+"/0?pool_size=32&read_timeout=2s", redigo.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer s.Close() // Open's store owns its pool

	n, _ := s.Eval(context.Background(), store.NewScript("return redis.call('INCRBY', KEYS[1], ARGV[1])"),
		[]string{"counter"}, 5)
	fmt.Println(n)

	_, err = redigo.Open("redis+cluster://h1:7000,h2:7001", redigo.Options{})
	fmt.Println(errors.Is(err, redigo.ErrBadURL))
	// Output:
	// 5
	// true
}

func ExampleNewWithOptions() {
	m, _ := miniredis.Run()
	defer m.Close()
	pool := &redis.Pool{
		DialContext: func(ctx context.Context) (redis.Conn, error) {
			return redis.DialContext(ctx, "tcp", m.Addr())
		},
	}
	s := redigo.NewWithOptions(pool, redigo.Options{MaxKeyLen: 64, OwnsPool: true})
	defer s.Close() // closes the pool too

	err := s.Set(context.Background(), string(make([]byte, 65)), []byte("v"), 0)
	fmt.Println(errors.Is(err, store.ErrInvalidKey))
	// Output: true
}
