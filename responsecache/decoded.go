package responsecache

import (
	"bytes"
	"hash/maphash"
	"sync/atomic"
)

// decodeCache keeps the last decoded record of a few keys with the exact
// bytes it was decoded from. A Redis hit whose bytes are equal to those
// reuses the decoded record (decoding is a pure function of the bytes)
// instead of decoding and deriving it again: a comparison of a few KiB
// instead of a header map, the field values and the parsing of the
// directives and dates. It never serves anything Redis did not just
// return. Records above decodeCacheMax bytes are not kept, so it holds at
// most len(slots) × decodeCacheMax bytes.
type decodeCache struct {
	seed  maphash.Seed
	slots [64]atomic.Pointer[decoded]
}

type decoded struct {
	key string
	raw []byte // shared with rec (decodeRecord does not copy)
	rec any
}

const decodeCacheMax = 64 << 10

func (d *decodeCache) slot(key string) *atomic.Pointer[decoded] {
	return &d.slots[maphash.String(d.seed, key)%uint64(len(d.slots))]
}

// get returns the record decoded from b under key, if it is the last one
// remembered.
func (d *decodeCache) get(key string, b []byte) (any, bool) {
	if len(b) > decodeCacheMax {
		return nil, false
	}
	if x := d.slot(key).Load(); x != nil && x.key == key && bytes.Equal(x.raw, b) {
		return x.rec, true
	}
	return nil, false
}

// put remembers rec as decoded from b under key.
func (d *decodeCache) put(key string, b []byte, rec any) {
	if len(b) <= decodeCacheMax {
		d.slot(key).Store(&decoded{key: key, raw: b, rec: rec})
	}
}
