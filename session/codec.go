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
// of a request that only reads its session). Encoding is the wrapped
// codec's, so the bytes in Redis are exactly its own. With gob, the data a
// save encodes is cached at once (see Encode), and Manager drops the entry
// of the data that save replaced (forget), so a session changed on every
// request is never decoded either and holds one entry.
//
// Only data whose values are all immutable (strings, booleans, numbers,
// time.Time) is cached, and every Decode returns a fresh copy of the map,
// so a handler can never change what another request sees.
type cachingCodec struct {
	inner    scs.Codec
	maxItems int
	maxBytes int  // per entry
	gob      bool // inner is gob, for which roundTrips holds: cache at Encode

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
	var isGob bool
	switch inner.(type) {
	case *gobCodec, scs.GobCodec, *scs.GobCodec:
		isGob = true
	}
	return &cachingCodec{inner: inner, maxItems: maxItems, maxBytes: 4 << 10, gob: isGob,
		items: make(map[string]cachedSession), seen: make(map[uint64]struct{}), seed: maphash.MakeSeed()}
}

// Encode encodes with the wrapped codec and, when the decoded form of the
// bytes is known to be exactly the data encoded (see roundTrips), caches
// it at once (gob codecs only): the next request, which reads what this one saved, skips the
// codec even when every request changes the session.
func (c *cachingCodec) Encode(deadline time.Time, values map[string]any) ([]byte, error) {
	b, err := c.inner.Encode(deadline, values)
	if err != nil || !c.gob || len(b) > c.maxBytes || !roundTrips(deadline, values) {
		return b, err
	}
	e := cachedSession{deadline: deadline, values: maps.Clone(values)}
	c.mu.Lock()
	c.add(string(b), e)
	c.mu.Unlock()
	return b, nil
}

// forget drops the entry of b, the data a save has just replaced.
func (c *cachingCodec) forget(b []byte) {
	c.mu.Lock()
	delete(c.items, string(b))
	c.mu.Unlock()
}

// add caches e under key; c.mu is held.
func (c *cachingCodec) add(key string, e cachedSession) {
	if _, ok := c.items[key]; !ok && len(c.items) >= c.maxItems {
		for k := range c.items { // evict an arbitrary entry
			delete(c.items, k)
			break
		}
	}
	c.items[key] = e
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
	c.add(string(b), cachedSession{deadline: deadline, values: maps.Clone(values)})
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

// roundTrips reports whether decoding the encoding of deadline and values
// with gob gives them back exactly, as the same types and the same bits: a
// deadline in UTC without a monotonic clock reading (as scs
// makes it), and only values of types gob sends with their exact type name.
// time.Time values are left out: a decoded time's location depends on the
// reader's time zone.
func roundTrips(deadline time.Time, values map[string]any) bool {
	if deadline.Location() != time.UTC || deadline != deadline.Round(0) {
		return false
	}
	for _, v := range values {
		switch v.(type) {
		case nil, string, bool, int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64,
			float32, float64, complex64, complex128:
		default:
			return false
		}
	}
	return true
}
