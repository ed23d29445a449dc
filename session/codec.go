package session

import (
	"hash/maphash"
	"maps"
	"sync"
	"time"

	"github.com/alexedwards/scs/v2"
)

// cachingCodec remembers the decoded form of session data read more than
// once, keyed by the stored bytes themselves, so that the many requests that
// read an unchanged session skip the codec (gob decoding is most of the CPU time
// of a request that only reads its session). Encoding is untouched, so the
// bytes in Redis are exactly the wrapped codec's.
//
// Only data whose values are all immutable (strings, booleans, numbers,
// time.Time) is cached, and every Decode returns a fresh copy of the map,
// so a handler can never change what another request sees.
type cachingCodec struct {
	inner    scs.Codec
	maxItems int
	maxBytes int // per entry

	mu    sync.RWMutex
	items map[string]cachedSession
	seen  map[uint64]struct{} // hashes of data decoded once, not yet cached
	seed  maphash.Seed
}

type cachedSession struct {
	deadline time.Time
	values   map[string]any
}

func newCachingCodec(inner scs.Codec, maxItems int) *cachingCodec {
	return &cachingCodec{inner: inner, maxItems: maxItems, maxBytes: 4 << 10,
		items: make(map[string]cachedSession), seen: make(map[uint64]struct{}), seed: maphash.MakeSeed()}
}

func (c *cachingCodec) Encode(deadline time.Time, values map[string]any) ([]byte, error) {
	return c.inner.Encode(deadline, values)
}

func (c *cachingCodec) Decode(b []byte) (time.Time, map[string]any, error) {
	c.mu.RLock()
	e, ok := c.items[string(b)] // no allocation for the lookup
	c.mu.RUnlock()
	if ok {
		return e.deadline, maps.Clone(e.values), nil
	}
	deadline, values, err := c.inner.Decode(b)
	if err != nil || len(b) > c.maxBytes || !immutable(values) {
		return deadline, values, err
	}
	// Cache data the second time it is decoded: a session changed on every
	// request is never read twice with the same bytes, and costs only a
	// hash here.
	h := maphash.Bytes(c.seed, b)
	c.mu.Lock()
	if _, again := c.seen[h]; !again {
		if len(c.seen) >= 2*c.maxItems {
			clear(c.seen)
		}
		c.seen[h] = struct{}{}
		c.mu.Unlock()
		return deadline, values, nil
	}
	delete(c.seen, h)
	e = cachedSession{deadline: deadline, values: maps.Clone(values)}
	if len(c.items) >= c.maxItems {
		for k := range c.items { // evict an arbitrary entry
			delete(c.items, k)
			break
		}
	}
	c.items[string(b)] = e
	c.mu.Unlock()
	return deadline, values, nil
}

// immutable reports whether every value is of a type whose copies share
// nothing mutable.
func immutable(values map[string]any) bool {
	for _, v := range values {
		switch v.(type) {
		case nil, string, bool, int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64,
			float32, float64, complex64, complex128, time.Time, time.Duration:
		default:
			return false
		}
	}
	return true
}
