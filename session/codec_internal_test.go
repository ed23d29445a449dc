package session

import (
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
)

type countingCodec struct {
	scs.GobCodec
	decodes int
}

func (c *countingCodec) Decode(b []byte) (time.Time, map[string]any, error) {
	c.decodes++
	return c.GobCodec.Decode(b)
}

func TestCachingCodec_caches_data_read_twice(t *testing.T) {
	inner := &countingCodec{}
	c := newCachingCodec(inner, 16)
	b, _ := inner.Encode(time.Now(), map[string]any{"user": "u1", "n": 1})
	for range 5 {
		_, v, err := c.Decode(b)
		if err != nil || v["user"] != "u1" {
			t.Fatalf("Decode = %v, %v", v, err)
		}
		v["user"] = "scribbled" // each caller owns its map
	}
	if inner.decodes != 2 {
		t.Fatalf("inner decodes = %d, want 2 (the first two reads)", inner.decodes)
	}
}

func TestCachingCodec_skips_data_read_once_and_mutable_values(t *testing.T) {
	inner := &countingCodec{}
	c := newCachingCodec(inner, 16)
	for i := range 40 { // a session changed on every request
		b, _ := inner.Encode(time.Now(), map[string]any{"n": i})
		_, _, _ = c.Decode(b)
	}
	b, _ := inner.Encode(time.Now(), map[string]any{"b": []byte("mutable")})
	for range 3 {
		_, _, _ = c.Decode(b)
	}
	if len(c.items) != 0 {
		t.Fatalf("%d entries cached, want none", len(c.items))
	}
	if len(c.seen) > 32 {
		t.Fatalf("seen set grew to %d, bound is 32", len(c.seen))
	}
}

func TestCachingCodec_is_bounded(t *testing.T) {
	c := newCachingCodec(scs.GobCodec{}, 8)
	for i := range 100 {
		b, _ := c.Encode(time.Now(), map[string]any{"n": i})
		_, _, _ = c.Decode(b)
		_, _, _ = c.Decode(b)
	}
	if len(c.items) > 8 {
		t.Fatalf("%d entries, bound is 8", len(c.items))
	}
}
