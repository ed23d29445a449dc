package session

import (
	"bytes"
	"encoding/gob"
	"sync"
	"time"

	"github.com/alexedwards/scs/v2"
)

// gobSession is the value scs.GobCodec encodes. It is the very type scs
// declares (an unnamed struct with the same fields), so gob gives it the
// same type id and the same wire description.
type gobSession = struct {
	Deadline time.Time
	Values   map[string]interface{}
}

// gobCodec reads and writes exactly the bytes of scs.GobCodec, without most
// of its cost. scs.GobCodec makes a new gob.Encoder or gob.Decoder for every
// call, so every call sends (or parses and compiles) the description of the
// session type again: about three quarters of the CPU time of a decode, and
// most of its allocations.
//
// Most sessions (a deadline and values that are strings, []byte, booleans
// or numbers) are encoded without gob at all, by gobHead.encode, which
// writes the very bytes gob writes (checked against gob itself once per
// process: if they ever differ, it stays off).
//
// A gob stream is a run of type definitions followed by the value message.
// Every stream written for a session whose values need no type definition
// of their own (gobBasic: strings, numbers, booleans, []byte, time.Time)
// starts with the same definitions, because gob numbers types per process. So gobCodec keeps gob.Encoders that have already
// sent the definitions once: encoding such a session with one of them
// yields the value message alone, and the definitions, saved at warm-up,
// are put in front. Other sessions (a value of a type registered by the
// application, whose definition gob sends inside the value message) are
// encoded by scs.GobCodec.
//
// Decoding splits the stored bytes at the end of the leading type
// definitions and keeps, for each distinct run of definitions seen (at most
// maxGobPrefixes), gob.Decoders that have already read it, which decode
// the value message of later sessions with the same definitions. A decoder
// is made, and used, from the first session with those definitions, and
// kept only if that session's values are gobBasic (so it read no
// definition inside the value). One that fails is dropped and the session
// is decoded afresh, so errors are scs.GobCodec's. A value message that
// defines a type inside it and a later one that uses that type without
// defining it would decode here where a fresh decoder refuses the second;
// no gob encoder writes such data, and whoever can write arbitrary bytes to
// the session keys can forge sessions anyway.
type gobCodec struct {
	encs sync.Pool // *gobEncoder

	mu   sync.RWMutex
	decs map[string]*sync.Pool // leading type definitions -> *gobDecoder
}

// maxGobPrefixes bounds the distinct runs of type definitions for which
// gobCodec keeps decoders; streams with others are decoded afresh.
const maxGobPrefixes = 64

// maxGobBuffer is the largest encoding buffer kept for reuse.
const maxGobBuffer = 64 << 10

var _ scs.Codec = (*gobCodec)(nil)

func newGobCodec() *gobCodec { return &gobCodec{decs: make(map[string]*sync.Pool)} }

type gobEncoder struct {
	buf    bytes.Buffer
	enc    *gob.Encoder
	prefix []byte // the type definitions this encoder sent at warm-up
}

type gobDecoder struct {
	r   bytes.Reader // an io.ByteReader: gob reads from it without buffering ahead
	dec *gob.Decoder
}

func (c *gobCodec) encoder() *gobEncoder {
	if e, _ := c.encs.Get().(*gobEncoder); e != nil {
		return e
	}
	e := &gobEncoder{}
	e.enc = gob.NewEncoder(&e.buf)
	if err := e.enc.Encode(&gobSession{Values: map[string]any{}}); err != nil {
		return nil
	}
	n := gobPrefixLen(e.buf.Bytes())
	if n <= 0 {
		return nil
	}
	e.prefix = bytes.Clone(e.buf.Bytes()[:n])
	return e
}

// Encode implements scs.Codec.
func (c *gobCodec) Encode(deadline time.Time, values map[string]any) ([]byte, error) {
	if h := sessionGobHead(); h != nil {
		if out := h.encode(deadline, values); out != nil {
			return out, nil
		}
	}
	var e *gobEncoder
	if gobBasic(values) {
		e = c.encoder()
	}
	if e == nil {
		return scs.GobCodec{}.Encode(deadline, values)
	}
	e.buf.Reset()
	err := e.enc.Encode(&gobSession{Deadline: deadline, Values: values})
	if err != nil || gobPrefixLen(e.buf.Bytes()) != 0 {
		// An error, or new type definitions: this encoder's state is no
		// longer that of a warm-up, drop it.
		return scs.GobCodec{}.Encode(deadline, values)
	}
	out := make([]byte, len(e.prefix)+e.buf.Len())
	copy(out, e.prefix)
	copy(out[len(e.prefix):], e.buf.Bytes())
	if e.buf.Cap() <= maxGobBuffer {
		c.encs.Put(e)
	}
	return out, nil
}

// Decode implements scs.Codec.
func (c *gobCodec) Decode(b []byte) (time.Time, map[string]any, error) {
	n := gobPrefixLen(b)
	var pool *sync.Pool
	if n > 0 {
		pool = c.decoders(b[:n])
	}
	if pool != nil {
		if d, _ := pool.Get().(*gobDecoder); d != nil {
			d.r.Reset(b[n:])
			if s, err := decodeSession(d.dec); err == nil {
				d.r.Reset(nil)
				if gobBasic(s.Values) {
					pool.Put(d)
				}
				return finishDecode(b, s)
			}
			// Dropped: decode afresh below, for scs.GobCodec's result.
		}
	}
	d := &gobDecoder{}
	d.r.Reset(b)
	d.dec = gob.NewDecoder(&d.r)
	s, err := decodeSession(d.dec)
	if err != nil {
		return time.Time{}, nil, err
	}
	d.r.Reset(nil)
	if pool != nil && gobBasic(s.Values) {
		pool.Put(d)
	}
	return finishDecode(b, s)
}

// decodeSession decodes one session with dec into a Values map that
// already exists. Given a nil map, gob would first make one of the size the
// data claims: corrupt or hostile data in Redis, a few bytes claiming 2^36
// entries, would allocate gigabytes (or crash the process) before failing.
// Given a map, gob only adds the entries it reads, and such data fails at
// its end.
func decodeSession(dec *gob.Decoder) (gobSession, error) {
	s := gobSession{Values: make(map[string]any)}
	err := dec.Decode(&s)
	return s, err
}

// finishDecode returns the session decodeSession read from b. An empty map
// may stand for an empty map or for none in the data (a nil map, which gob
// leaves out): scs.GobCodec tells the two apart, and with no entries there
// is no size to fear, so it decides.
func finishDecode(b []byte, s gobSession) (time.Time, map[string]any, error) {
	if len(s.Values) == 0 {
		return scs.GobCodec{}.Decode(b)
	}
	return s.Deadline, s.Values, nil
}

// gobBasic reports whether gob encodes every value with a type it has
// already defined: its predefined types and time.Time (the type of the
// session's deadline, defined with the session type).
func gobBasic(values map[string]any) bool {
	for _, v := range values {
		switch v.(type) {
		case nil, string, bool, int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64,
			float32, float64, complex64, complex128, []byte, time.Time:
		default:
			return false
		}
	}
	return true
}

// decoders returns the pool of decoders that have read the type
// definitions prefix, or nil when too many distinct ones are kept.
func (c *gobCodec) decoders(prefix []byte) *sync.Pool {
	c.mu.RLock()
	p := c.decs[string(prefix)] // no allocation for the lookup
	c.mu.RUnlock()
	if p != nil {
		return p
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if p = c.decs[string(prefix)]; p == nil && len(c.decs) < maxGobPrefixes {
		p = &sync.Pool{}
		c.decs[string(prefix)] = p
	}
	return p
}

// gobPrefixLen returns the length of the type definition messages at the
// start of a gob stream, 0 if it starts with a value, or -1 if b is not a
// well-formed sequence of messages up to its first value.
func gobPrefixLen(b []byte) int {
	off := 0
	for off < len(b) {
		n, w := gobUint(b[off:])
		if w == 0 || n == 0 || n > uint64(len(b)-off-w) {
			return -1
		}
		id, iw := gobUint(b[off+w : off+w+int(n)])
		if iw == 0 {
			return -1
		}
		if id&1 == 0 { // a non-negative type id: the value
			return off
		}
		off += w + int(n)
	}
	return -1
}

// gobUint decodes a gob unsigned integer from the start of b and returns it
// with its width in bytes, 0 if b does not start with one.
func gobUint(b []byte) (uint64, int) {
	if len(b) == 0 {
		return 0, 0
	}
	if b[0] <= 0x7f {
		return uint64(b[0]), 1
	}
	n := -int(int8(b[0]))
	if n > 8 || len(b) < 1+n {
		return 0, 0
	}
	var x uint64
	for _, c := range b[1 : 1+n] {
		x = x<<8 | uint64(c)
	}
	return x, 1 + n
}
