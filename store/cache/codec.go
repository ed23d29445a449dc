package cache

import (
	"encoding"
	"encoding/json"
	"fmt"
)

// Codec turns values of type V into bytes and back. Implementations must be
// safe for concurrent use.
//
// Append appends the encoding of v to dst and returns the extended slice, so
// that the cache can write its entry header and the value into one buffer.
// Unmarshal must not retain data after it returns: the cache may reuse it.
// An Unmarshal error, or a panic, on stored bytes makes the entry a miss
// (reported to the Hook), never a crash.
type Codec[V any] interface {
	Append(dst []byte, v V) ([]byte, error)
	Unmarshal(data []byte, v *V) error
}

// JSON returns the default codec: encoding/json.
func JSON[V any]() Codec[V] { return jsonCodec[V]{} }

type jsonCodec[V any] struct{}

func (jsonCodec[V]) Append(dst []byte, v V) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return dst, err
	}
	return append(dst, b...), nil
}

func (jsonCodec[V]) Unmarshal(data []byte, v *V) error { return json.Unmarshal(data, v) }

// Bytes returns a codec that stores a []byte as it is. Unmarshal copies.
func Bytes() Codec[[]byte] { return bytesCodec{} }

type bytesCodec struct{}

func (bytesCodec) Append(dst []byte, v []byte) ([]byte, error) { return append(dst, v...), nil }
func (bytesCodec) Unmarshal(data []byte, v *[]byte) error {
	*v = append([]byte(nil), data...)
	return nil
}

// String returns a codec that stores a string as its bytes.
func String() Codec[string] { return stringCodec{} }

type stringCodec struct{}

func (stringCodec) Append(dst []byte, v string) ([]byte, error) { return append(dst, v...), nil }
func (stringCodec) Unmarshal(data []byte, v *string) error {
	*v = string(data)
	return nil
}

// BinaryValue is the constraint of [Binary]: a pointer to V that
// implements encoding.BinaryMarshaler and encoding.BinaryUnmarshaler.
type BinaryValue[V any] interface {
	*V
	encoding.BinaryMarshaler
	encoding.BinaryUnmarshaler
}

// Binary returns the compact codec for a type whose pointer implements
// encoding.BinaryMarshaler and encoding.BinaryUnmarshaler (and, if it has
// it, encoding.BinaryAppender, which saves a copy). The value's own binary
// form is stored as it is: no field names, no reflection.
//
//	c := cache.New[Point](s, cache.Options[Point]{Codec: cache.Binary[Point]()})
func Binary[V any, P BinaryValue[V]]() Codec[V] { return binaryCodec[V, P]{} }

type binaryCodec[V any, P BinaryValue[V]] struct{}

func (binaryCodec[V, P]) Append(dst []byte, v V) ([]byte, error) {
	p := P(&v)
	if a, ok := any(p).(encoding.BinaryAppender); ok {
		return a.AppendBinary(dst)
	}
	b, err := p.MarshalBinary()
	if err != nil {
		return dst, err
	}
	return append(dst, b...), nil
}

func (binaryCodec[V, P]) Unmarshal(data []byte, v *V) error {
	if err := P(v).UnmarshalBinary(data); err != nil {
		return fmt.Errorf("cache: binary codec: %w", err)
	}
	return nil
}
