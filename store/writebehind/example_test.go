package writebehind_test

import (
	"context"
	"fmt"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/rediware/rediware/store/goredis"
	"github.com/rediware/rediware/store/writebehind"
)

func ExampleNew() {
	mr, _ := miniredis.Run() // a real deployment uses a real Redis
	defer mr.Close()
	s := goredis.New(redis.NewClient(&redis.Options{Addr: mr.Addr()}))
	ctx := context.Background()

	db := map[string]int{} // stands for the database
	writes := 0
	q, err := writebehind.New(s, func(ctx context.Context, op writebehind.Op[int]) error {
		writes++
		db[op.Key] = op.Value
		return nil
	}, writebehind.Options[int]{Name: "counters"})
	if err != nil {
		fmt.Println(err)
		return
	}
	for i := 1; i <= 3; i++ {
		_, _ = q.Write(ctx, "visits", i) // three writes to one key...
	}
	_, _ = q.Write(ctx, "likes", 7)

	_ = q.Close(ctx) // no worker running: Close drains the queue itself
	fmt.Println(db["visits"], db["likes"], "database writes:", writes)
	// Output: 3 7 database writes: 2
}
