package session

import (
	"bytes"
	"encoding/gob"
	"math"
	"math/bits"
	"sync"
	"time"
)

// gobHead is how every gob stream of a session starts in this process: the
// type definitions, and the session type's id as the value message gives it
// (gob numbers types per process).
type gobHead struct {
	prefix []byte
	id     []byte
}

// sessionGobHead returns the gobHead of this process, or nil if gob's own
// output for a probe session is not what appendGobSession writes (a gob
// that has changed its format): the fast path then stays off.
var sessionGobHead = sync.OnceValue(func() *gobHead {
	var buf bytes.Buffer
	probe := map[string]any{"s": "v", "i": -3, "u": uint16(500), "f": 1.5, "b": true, "x": []byte{1}, "n": nil}
	dl := time.Unix(1_800_000_000, 123).UTC()
	h := &gobHead{}
	for k, v := range probe { // one value per stream: no map order to differ
		buf.Reset()
		one := map[string]any{k: v}
		if err := gob.NewEncoder(&buf).Encode(&gobSession{Deadline: dl, Values: one}); err != nil {
			return nil
		}
		out := buf.Bytes()
		n := gobPrefixLen(out)
		if n <= 0 {
			return nil
		}
		_, w := gobUint(out[n:])
		_, iw := gobUint(out[n+w:])
		if w == 0 || iw == 0 {
			return nil
		}
		h.prefix, h.id = bytes.Clone(out[:n]), bytes.Clone(out[n+w:n+w+iw])
		if got := h.encode(dl, one); !bytes.Equal(got, out) {
			return nil
		}
	}
	return h
})

// encode writes the gob stream of a session as scs.GobCodec would, without
// reflection, or returns nil for sessions it does not handle: a zero
// deadline (which gob leaves out), no values, or a value of a type other
// than a string, []byte, boolean or number.
func (h *gobHead) encode(deadline time.Time, values map[string]any) []byte {
	if deadline == (time.Time{}) || len(values) == 0 {
		return nil
	}
	tb, err := deadline.GobEncode()
	if err != nil {
		return nil // gob reports it
	}
	var stack [512]byte
	body := append(stack[:0], h.id...)
	body = append(body, 1) // field Deadline
	body = appendGobUint(body, uint64(len(tb)))
	body = append(body, tb...)
	body = append(body, 1) // field Values
	body = appendGobUint(body, uint64(len(values)))
	for k, v := range values {
		body = appendGobUint(body, uint64(len(k)))
		body = append(body, k...)
		if body = appendGobInterface(body, v); body == nil {
			return nil
		}
	}
	body = append(body, 0) // end of the struct
	out := make([]byte, 0, len(h.prefix)+9+len(body))
	out = append(out, h.prefix...)
	out = appendGobUint(out, uint64(len(body)))
	return append(out, body...)
}

// Gob's predefined type ids, as encoded ints (id << 1).
const (
	gobBoolID    = 1 << 1
	gobIntID     = 2 << 1
	gobUintID    = 3 << 1
	gobFloatID   = 4 << 1
	gobBytesID   = 5 << 1
	gobStringID  = 6 << 1
	gobComplexID = 7 << 1
)

// appendGobInterface appends v as gob encodes an interface value: the
// registered type name, the type id, and the value as a singleton, with its
// length. It returns nil for a type it does not handle.
func appendGobInterface(b []byte, v any) []byte {
	var p [20]byte // a singleton's field delta and a scalar: at most 1 + 2*9
	pl := append(p[:0], 0)
	var name string
	var id byte
	switch x := v.(type) {
	case nil:
		return append(b, 0) // no name: a nil interface
	case string:
		return appendGobBlob(b, "string", gobStringID, x)
	case []byte:
		return appendGobBlob(b, "[]uint8", gobBytesID, string(x))
	case bool:
		name, id = "bool", gobBoolID
		if x {
			pl = append(pl, 1)
		} else {
			pl = append(pl, 0)
		}
	case int:
		name, id, pl = "int", gobIntID, appendGobInt(pl, int64(x))
	case int8:
		name, id, pl = "int8", gobIntID, appendGobInt(pl, int64(x))
	case int16:
		name, id, pl = "int16", gobIntID, appendGobInt(pl, int64(x))
	case int32:
		name, id, pl = "int32", gobIntID, appendGobInt(pl, int64(x))
	case int64:
		name, id, pl = "int64", gobIntID, appendGobInt(pl, x)
	case uint:
		name, id, pl = "uint", gobUintID, appendGobUint(pl, uint64(x))
	case uint8:
		name, id, pl = "uint8", gobUintID, appendGobUint(pl, uint64(x))
	case uint16:
		name, id, pl = "uint16", gobUintID, appendGobUint(pl, uint64(x))
	case uint32:
		name, id, pl = "uint32", gobUintID, appendGobUint(pl, uint64(x))
	case uint64:
		name, id, pl = "uint64", gobUintID, appendGobUint(pl, x)
	case float32:
		name, id, pl = "float32", gobFloatID, appendGobFloat(pl, float64(x))
	case float64:
		name, id, pl = "float64", gobFloatID, appendGobFloat(pl, x)
	case complex64:
		name, id = "complex64", gobComplexID
		pl = appendGobFloat(appendGobFloat(pl, float64(real(x))), float64(imag(x)))
	case complex128:
		name, id = "complex128", gobComplexID
		pl = appendGobFloat(appendGobFloat(pl, real(x)), imag(x))
	default:
		return nil
	}
	b = appendGobUint(b, uint64(len(name)))
	b = append(b, name...)
	b = append(b, id)
	b = appendGobUint(b, uint64(len(pl)))
	return append(b, pl...)
}

// appendGobBlob appends a string or []byte interface value.
func appendGobBlob(b []byte, name string, id byte, s string) []byte {
	b = appendGobUint(b, uint64(len(name)))
	b = append(b, name...)
	b = append(b, id)
	b = appendGobUint(b, uint64(1+gobUintLen(uint64(len(s)))+len(s)))
	b = append(b, 0)
	b = appendGobUint(b, uint64(len(s)))
	return append(b, s...)
}

// appendGobUint appends x as gob encodes an unsigned integer: below 128 one
// byte, else the negated byte count and the bytes, big-endian.
func appendGobUint(b []byte, x uint64) []byte {
	if x < 0x80 {
		return append(b, byte(x))
	}
	n := gobUintLen(x) - 1
	b = append(b, byte(-n))
	for i := n - 1; i >= 0; i-- {
		b = append(b, byte(x>>(8*i)))
	}
	return b
}

func gobUintLen(x uint64) int {
	if x < 0x80 {
		return 1
	}
	return 1 + (bits.Len64(x)+7)/8
}

func appendGobInt(b []byte, i int64) []byte {
	if i < 0 {
		return appendGobUint(b, uint64(^i<<1)|1)
	}
	return appendGobUint(b, uint64(i<<1))
}

// appendGobFloat appends f as gob does: its bits byte-reversed, as an
// unsigned integer, so that small exponents take few bytes.
func appendGobFloat(b []byte, f float64) []byte {
	return appendGobUint(b, bits.ReverseBytes64(math.Float64bits(f)))
}
