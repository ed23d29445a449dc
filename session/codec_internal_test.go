package session

import (
	"reflect"
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

func TestCachingCodec_saved_data_is_read_without_decoding(t *testing.T) {
	inner := &countingCodec{}
	c := newCachingCodec(inner, 16)
	c.gob = true // as for the gob codecs
	dl := time.Now().Add(time.Hour).UTC()
	vals := map[string]any{"user": "u1", "n": 7, "t": int64(9), "f": 1.5, "ok": true, "nil": nil}
	b, err := c.Encode(dl, vals)
	if err != nil {
		t.Fatal(err)
	}
	vals["user"] = "changed after the save" // the cache holds its own copy
	for range 2 {
		gotDL, got, err := c.Decode(b)
		if err != nil || !gotDL.Equal(dl) || got["user"] != "u1" || got["n"] != 7 || got["t"] != int64(9) || len(got) != 6 {
			t.Fatalf("Decode = %v %v %v", gotDL, got, err)
		}
		got["user"] = "scribbled" // each caller owns its map
	}
	if inner.decodes != 0 {
		t.Fatalf("inner decodes = %d, want 0", inner.decodes)
	}
	// What gob itself decodes from these bytes is what the cache gave.
	wantDL, want, _ := scs.GobCodec{}.Decode(b)
	_, got, _ := c.Decode(b)
	if wantDL != dl || !reflect.DeepEqual(got, want) {
		t.Fatalf("cache gave %v %v, gob decodes %v %v", dl, got, wantDL, want)
	}
	c.forget(b)
	if _, _, _ = c.Decode(b); inner.decodes != 1 {
		t.Fatalf("after forget: inner decodes = %d, want 1", inner.decodes)
	}
}

func TestCachingCodec_does_not_cache_at_save_what_may_decode_differently(t *testing.T) {
	utc := time.Now().Add(time.Hour).UTC()
	for _, tc := range []struct {
		name string
		dl   time.Time
		vals map[string]any
		gob  bool
	}{
		{"local deadline", time.Now().Add(time.Hour), map[string]any{"n": 1}, true},
		{"zone offset deadline", utc.In(time.FixedZone("", 3600)), map[string]any{"n": 1}, true},
		{"time value", utc, map[string]any{"at": utc}, true},
		{"mutable value", utc, map[string]any{"b": []byte("x")}, true},
		{"other codec", utc, map[string]any{"n": 1}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			inner := &countingCodec{}
			c := newCachingCodec(inner, 16)
			c.gob = tc.gob
			b, err := c.Encode(tc.dl, tc.vals)
			if err != nil {
				t.Fatal(err)
			}
			if _, _, _ = c.Decode(b); inner.decodes != 1 {
				t.Fatalf("inner decodes = %d, want 1 (not cached at save)", inner.decodes)
			}
		})
	}
}
