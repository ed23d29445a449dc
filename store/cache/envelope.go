package cache

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"
)

// An entry is stored in Redis as a small binary envelope:
//
//	offset  size  field
//	0       1     flags: high nibble format version (1), bit 0 compressed,
//	              bit 1 negative ("not found"), bit 2 tagged, bit 3
//	              tombstone (see Invalidate)
//	1       8     stamp: random, identifies this write (big endian)
//	9       8     expiry: Unix milliseconds, 0 for none (big endian)
//	17      4     delta: how long the load took, in microseconds
//	21      ...   if tagged: uvarint count, then per tag uvarint length,
//	              the tag, uvarint version
//	...     ...   the value as the codec encoded it, raw-DEFLATE compressed
//	              when the compressed flag is set
//
// The flag byte tells a reader whether to inflate. The stamp sits at a fixed
// offset so that a script can compare it with GETRANGE (see replace.lua).
const (
	formatV1       = 0x10
	flagCompressed = 1 << 0
	flagNegative   = 1 << 1
	flagTagged     = 1 << 2
	flagTombstone  = 1 << 3
	headerLen      = 21
)

// errCorrupt reports an entry the cache cannot read; it is treated as a miss.
var errCorrupt = errors.New("cache: corrupt entry")

// tagStamp is one tag's version as seen when an entry was written.
type tagStamp struct {
	tag     string
	version int64
}

// header is the decoded fixed part and tags of an envelope.
type header struct {
	flags   byte
	stamp   uint64
	expiry  int64 // unix ms
	delta   time.Duration
	tags    []tagStamp
	payload []byte // may still be compressed
	size    int    // of the whole envelope
}

func (h *header) negative() bool { return h.flags&flagNegative != 0 }

func appendHeader(dst []byte, flags byte, stamp uint64, expiry time.Time, delta time.Duration, tags []tagStamp) []byte {
	if len(tags) > 0 {
		flags |= flagTagged
	}
	dst = append(dst, formatV1|flags)
	dst = binary.BigEndian.AppendUint64(dst, stamp)
	var exp int64
	if !expiry.IsZero() {
		exp = expiry.UnixMilli()
	}
	dst = binary.BigEndian.AppendUint64(dst, uint64(exp))
	us := delta.Microseconds()
	if us < 0 {
		us = 0
	}
	if us > 1<<32-1 {
		us = 1<<32 - 1
	}
	dst = binary.BigEndian.AppendUint32(dst, uint32(us))
	if len(tags) > 0 {
		dst = binary.AppendUvarint(dst, uint64(len(tags)))
		for _, t := range tags {
			dst = binary.AppendUvarint(dst, uint64(len(t.tag)))
			dst = append(dst, t.tag...)
			dst = binary.AppendUvarint(dst, uint64(t.version))
		}
	}
	return dst
}

func parseHeader(b []byte) (header, error) {
	var h header
	if len(b) < headerLen || b[0]&0xF0 != formatV1 {
		return h, errCorrupt
	}
	h.flags = b[0] & 0x0F
	h.size = len(b)
	h.stamp = binary.BigEndian.Uint64(b[1:])
	h.expiry = int64(binary.BigEndian.Uint64(b[9:]))
	h.delta = time.Duration(binary.BigEndian.Uint32(b[17:])) * time.Microsecond
	rest := b[headerLen:]
	if h.flags&flagTagged != 0 {
		n, k := binary.Uvarint(rest)
		if k <= 0 || n > maxTags {
			return h, errCorrupt
		}
		rest = rest[k:]
		h.tags = make([]tagStamp, n)
		for i := range h.tags {
			l, k := binary.Uvarint(rest)
			if k <= 0 || l == 0 || uint64(len(rest)-k) < l { // no writer makes an empty tag
				return h, errCorrupt
			}
			h.tags[i].tag = string(rest[k : k+int(l)])
			rest = rest[k+int(l):]
			v, k := binary.Uvarint(rest)
			if k <= 0 {
				return h, errCorrupt
			}
			h.tags[i].version = int64(v)
			rest = rest[k:]
		}
	}
	h.payload = rest
	return h, nil
}

// remaining returns the time left before expiry, relative to now; ok is
// false for an entry without expiry.
func (h *header) remaining(now time.Time) (time.Duration, bool) {
	if h.expiry == 0 {
		return 0, false
	}
	return time.Duration(h.expiry-now.UnixMilli()) * time.Millisecond, true
}

var flaters = sync.Pool{New: func() any {
	w, _ := flate.NewWriter(nil, flate.BestSpeed)
	return w
}}

// compress returns raw-DEFLATE of p appended to dst.
func compress(dst, p []byte) []byte {
	buf := bytes.NewBuffer(dst)
	w := flaters.Get().(*flate.Writer)
	w.Reset(buf)
	_, _ = w.Write(p) // a bytes.Buffer cannot fail
	_ = w.Close()
	flaters.Put(w)
	return buf.Bytes()
}

// maxInflate bounds a decompressed value, so that a corrupt or hostile
// entry cannot exhaust memory.
const maxInflate = 512 << 20

func inflate(p []byte) ([]byte, error) {
	r := flate.NewReader(bytes.NewReader(p))
	defer r.Close()
	out, err := io.ReadAll(io.LimitReader(r, maxInflate+1))
	if err != nil {
		return nil, fmt.Errorf("%w: inflate: %v", errCorrupt, err)
	}
	if len(out) > maxInflate {
		return nil, fmt.Errorf("%w: value over %d bytes", errCorrupt, maxInflate)
	}
	return out, nil
}
