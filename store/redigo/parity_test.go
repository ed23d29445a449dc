package redigo_test

import (
	"errors"
	"math"
	"net"
	"reflect"
	"testing"
	"time"

	goredislib "github.com/redis/go-redis/v9"

	"github.com/rediware/rediware/internal/redistest"
	"github.com/rediware/rediware/store"
	"github.com/rediware/rediware/store/goredis"
	"github.com/rediware/rediware/store/redigo"
)

// The two backends send the same bytes for the same arguments and return
// the same normalised replies and error classes: each case runs through
// both against one server and the results must be deeply equal.
//
// The go-redis client speaks RESP2 here, as redigo does. Over RESP3 (go-redis's
// default protocol) replies differ in shape and text: ZRANGE WITHSCORES
// comes back as nested pairs, a double as "0.1" instead of Redis's
// "0.10000000000000001", and HGETALL's map in random order.
func TestParity_with_goredis(t *testing.T) {
	const protocol = 2
	srv := redistest.Start(t)
	c := goredislib.NewClient(&goredislib.Options{Addr: srv.Addr(), ContextTimeoutEnabled: true, Protocol: protocol})
	t.Cleanup(func() { c.Close() })
	gr := goredis.New(c)
	rg := redigo.New(realPool(t, srv.Addr()))
	ctx := t.Context()

	echo := store.NewScript("return ARGV")
	if _, err := gr.Eval(ctx, echo, nil); err != nil {
		t.Fatal(err)
	}
	args := []any{
		"s", []byte("b\x00\xff"), 42, int64(-7), int8(3), uint(9), uint64(math.MaxUint64),
		1.5, 0.1, 1e21, 1e-7, float32(0.1), math.Inf(1), true, false, nil,
		time.Duration(1500) * time.Millisecond, time.Date(2024, 2, 29, 12, 0, 0, 5, time.UTC),
		net.IPv4(10, 0, 0, 1).To4(),
	}
	gv, gerr := gr.Eval(ctx, echo, nil, args...)
	rv, rerr := rg.Eval(ctx, echo, nil, args...)
	if gerr != nil || rerr != nil || !reflect.DeepEqual(gv, rv) {
		t.Fatalf("argument encoding differs:\ngoredis %q %v\nredigo  %q %v", gv, gerr, rv, rerr)
	}

	// Each backend works on its own keys ("g:" and "r:"), so that both see
	// the same state.
	for _, cmd := range [][]any{
		{"SET", "p:k", "v"},
		{"GET", "p:k"},
		{"GET", "p:missing"},
		{"INCRBYFLOAT", "p:f", 0.5},
		{"RPUSH", "p:l", "a", "b", "c"},
		{"LRANGE", "p:l", 0, -1},
		{"HSET", "p:h", "f1", "1", "f2", "2"},
		{"HMGET", "p:h", "f1", "nope", "f2"},
		{"ZADD", "p:z", 1.5, "m"},
		{"ZRANGE", "p:z", 0, -1, "WITHSCORES"},
		{"ZADD", "p:z", 0.1, "n"},
		{"ZSCORE", "p:z", "n"},
		{"HGETALL", "p:h"},
		{"EVAL", "return {1, {2, 'x'}, false, redis.error_reply('E in array'), redis.status_reply('OK')}", 0},
		{"EVAL", "return redis.error_reply('MYERR top')", 0},
		{"GET", "p:l"}, // WRONGTYPE
		{"NOSUCHCOMMAND"},
		{"XADD", "p:s", "1-1", "f", "v"},
		{"XRANGE", "p:s", "-", "+"},
		{"SCAN", 0, "MATCH", "nomatch:*"},
		{"PING"},
		{"ECHO", []byte{0, 1, 2, 255}},
	} {
		gv, gerr := gr.Do(ctx, prefixed(cmd, "g:")...)
		rv, rerr := rg.Do(ctx, prefixed(cmd, "r:")...)
		if !reflect.DeepEqual(gv, rv) {
			t.Errorf("%v: replies differ:\ngoredis %#v\nredigo  %#v", cmd, gv, rv)
		}
		if !sameErrClass(gerr, rerr) {
			t.Errorf("%v: errors differ:\ngoredis %v\nredigo  %v", cmd, gerr, rerr)
		}
	}
}

// prefixed replaces the "p:" of key arguments with prefix.
func prefixed(cmd []any, prefix string) []any {
	out := make([]any, len(cmd))
	for i, a := range cmd {
		if s, ok := a.(string); ok && len(s) > 2 && s[:2] == "p:" {
			a = prefix + s[2:]
		}
		out[i] = a
	}
	return out
}

func sameErrClass(a, b error) bool {
	if (a == nil) != (b == nil) {
		return false
	}
	if a == nil {
		return true
	}
	var ra, rb *store.RedisError
	if errors.As(a, &ra) || errors.As(b, &rb) {
		return errors.As(a, &ra) && errors.As(b, &rb) && ra.Msg == rb.Msg
	}
	return errors.Is(a, store.ErrUnavailable) == errors.Is(b, store.ErrUnavailable)
}
