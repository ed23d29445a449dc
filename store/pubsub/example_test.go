package pubsub_test

import (
	"context"
	"fmt"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/rediware/rediware/store/goredis"
	"github.com/rediware/rediware/store/pubsub"
)

func ExampleSubscribe() {
	mr, _ := miniredis.Run() // a real deployment uses a real Redis
	defer mr.Close()
	s := goredis.New(redis.NewClient(&redis.Options{Addr: mr.Addr()}))
	ctx := context.Background()

	type Shipped struct{ OrderID int }
	sub, err := pubsub.Subscribe[Shipped](ctx, s, []string{"orders:shipped"}, nil, pubsub.Options[Shipped]{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer sub.Close()

	_, _ = pubsub.Publish(ctx, s, "orders:shipped", Shipped{OrderID: 7})
	m := <-sub.Messages()
	fmt.Println(m.Channel, m.Value.OrderID, m.Reconnected)
	// Output: orders:shipped 7 false
}
