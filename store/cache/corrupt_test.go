package cache_test

import (
	"context"
	"encoding/binary"
	"testing"
	"time"

	"github.com/rediware/rediware/store/cache"
)

// sloppyPoint's UnmarshalBinary trusts its input, as hand-written binary
// decoders often do: it panics on a short buffer.
type sloppyPoint struct{ X, Y int32 }

func (p *sloppyPoint) MarshalBinary() ([]byte, error) {
	b := binary.BigEndian.AppendUint32(nil, uint32(p.X))
	return binary.BigEndian.AppendUint32(b, uint32(p.Y)), nil
}

func (p *sloppyPoint) UnmarshalBinary(b []byte) error {
	p.X, p.Y = int32(binary.BigEndian.Uint32(b)), int32(binary.BigEndian.Uint32(b[4:]))
	return nil
}

// validHeader returns an envelope header (format 1, the given flags, an
// expiry a minute away) as the cache writes it, for tests that store
// hand-made entries.
func validHeader(flags byte) []byte {
	b := []byte{0x10 | flags, 0, 0, 0, 0, 0, 0, 0, 1}
	b = binary.BigEndian.AppendUint64(b, uint64(time.Now().Add(time.Minute).UnixMilli()))
	return binary.BigEndian.AppendUint32(b, 0)
}

func TestGet_compressed_flag_on_garbage_is_a_miss(t *testing.T) {
	_, s := newStore(t)
	ctx := t.Context()
	rec := &recorder{}
	c := cache.New(s, cache.Options[string]{Codec: cache.String(), Hook: rec.hook})
	bad := append(validHeader(1), 0xff, 0x00, 0x13, 0x37, 0xde, 0xad) // "compressed", not DEFLATE
	if err := s.Set(ctx, "cache:k", bad, time.Minute); err != nil {
		t.Fatal(err)
	}
	if v, ok, err := c.Get(ctx, "k"); ok || err != nil {
		t.Fatalf("Get of a corrupt entry = %q %v %v, want a miss", v, ok, err)
	}
	if rec.count("redis:error") == 0 {
		t.Fatal("corrupt entry not reported to the Hook")
	}
	v, err := c.GetOrLoad(ctx, "k", func(context.Context) (string, error) { return "fresh", nil }, time.Minute)
	if err != nil || v != "fresh" {
		t.Fatalf("GetOrLoad over a corrupt entry = %q %v", v, err)
	}
	if v, ok, _ := c.Get(ctx, "k"); !ok || v != "fresh" {
		t.Fatalf("corrupt entry not replaced: %q %v", v, ok)
	}
}

func TestGet_codec_panic_on_corrupt_entry_is_a_miss(t *testing.T) {
	_, s := newStore(t)
	ctx := t.Context()
	c := cache.New(s, cache.Options[sloppyPoint]{Codec: cache.Binary[sloppyPoint]()})
	if err := s.Set(ctx, "cache:p", append(validHeader(0), 1, 2), time.Minute); err != nil { // 2 bytes, not 8
		t.Fatal(err)
	}
	if _, ok, err := c.Get(ctx, "p"); ok || err != nil {
		t.Fatalf("Get = %v %v, want a miss", ok, err)
	}
	v, err := c.GetOrLoad(ctx, "p", func(context.Context) (sloppyPoint, error) { return sloppyPoint{3, 4}, nil }, time.Minute)
	if err != nil || v != (sloppyPoint{3, 4}) {
		t.Fatalf("GetOrLoad = %v %v", v, err)
	}
	if v, ok, _ := c.Get(ctx, "p"); !ok || v != (sloppyPoint{3, 4}) {
		t.Fatalf("corrupt entry not replaced: %v %v", v, ok)
	}
}

// An entry naming an empty tag (no writer makes one) is unreadable: a miss
// that GetOrLoad replaces, not an error on every read.
func TestGet_entry_with_an_empty_tag_is_a_miss(t *testing.T) {
	_, s := newStore(t)
	ctx := t.Context()
	c := cache.New(s, cache.Options[string]{Codec: cache.String()})
	bad := append(validHeader(4), 1, 0, 0) // tagged: one tag, "" at version 0
	if err := s.Set(ctx, "cache:k", append(bad, "v"...), time.Minute); err != nil {
		t.Fatal(err)
	}
	if v, ok, err := c.Get(ctx, "k"); ok || err != nil {
		t.Fatalf("Get = %q %v %v, want a miss", v, ok, err)
	}
	v, err := c.GetOrLoad(ctx, "k", func(context.Context) (string, error) { return "fresh", nil }, time.Minute)
	if err != nil || v != "fresh" {
		t.Fatalf("GetOrLoad = %q %v", v, err)
	}
	if v, ok, _ := c.Get(ctx, "k"); !ok || v != "fresh" {
		t.Fatalf("unreadable entry not replaced: %q %v", v, ok)
	}
}

// A fill that replaces an unreadable entry must not replace an
// invalidation that landed during its load: the value it loaded may
// predate the change.
func TestGetOrLoad_fill_over_unreadable_entry_does_not_undo_a_racing_invalidation(t *testing.T) {
	for name, bad := range map[string][]byte{
		"undecodable value": append(validHeader(0), "{not json"...),
		"unparseable entry": []byte("garbage from elsewhere"),
	} {
		t.Run(name, func(t *testing.T) {
			_, s := newStore(t)
			ctx := t.Context()
			c := cache.New(s, cache.Options[user]{})
			if err := s.Set(ctx, "cache:k", bad, time.Minute); err != nil {
				t.Fatal(err)
			}
			loading, finish := make(chan struct{}), make(chan struct{})
			done := make(chan error, 1)
			go func() {
				_, err := c.GetOrLoad(ctx, "k", func(context.Context) (user, error) {
					close(loading)
					<-finish
					return user{ID: 1, Name: "old"}, nil
				}, time.Minute)
				done <- err
			}()
			<-loading
			if err := c.Invalidate(ctx, "k"); err != nil { // the row changed
				t.Fatal(err)
			}
			close(finish)
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			if v, ok, err := c.Get(ctx, "k"); err != nil || ok {
				t.Fatalf("Get = %+v %v %v: the fill undid the invalidation", v, ok, err)
			}
		})
	}
}
