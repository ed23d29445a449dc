package store

import (
	"fmt"
	"strings"
)

// DefaultMaxKeyLen is the longest key, in bytes, that backends accept unless
// configured otherwise. Redis allows far longer keys, but a key this long is
// almost always a bug or an attack (a URL or header copied into a key).
const DefaultMaxKeyLen = 4096

// CheckKey returns an error wrapping ErrInvalidKey if key is empty or longer
// than max bytes (max <= 0 means DefaultMaxKeyLen). Keys are binary-safe:
// any byte is allowed.
func CheckKey(key string, max int) error {
	if max <= 0 {
		max = DefaultMaxKeyLen
	}
	if key == "" {
		return fmt.Errorf("%w: empty key", ErrInvalidKey)
	}
	if len(key) > max {
		return fmt.Errorf("%w: key of %d bytes exceeds the limit of %d", ErrInvalidKey, len(key), max)
	}
	return nil
}

// Keyspace builds keys under a prefix, hash-tagged so that every key of one
// entity lands in the same Redis Cluster slot:
//
//	ks := store.Keyspace{Prefix: "rl"}
//	ks.Key("user42", "tokens") // "{rl:user42}:tokens"
//	ks.Key("user42", "ts")     // "{rl:user42}:ts", same slot
//
// The zero Keyspace has no prefix: Key("a", "b") is "{a}:b".
type Keyspace struct {
	// Prefix names the owner of the keys, such as "rl" or "scs:session".
	Prefix string
}

// Key returns the key for id and the optional suffix parts, in the form
// "{prefix:id}:part1:part2". Curly braces in prefix or id would move the
// hash tag, so they are percent-escaped ('{' as "%7B", '}' as "%7D", and
// '%' itself as "%25"): the escaping is injective, so two different ids
// never share a key. The parts after the tag are copied as they are.
func (ks Keyspace) Key(id string, parts ...string) string {
	n := len(ks.Prefix) + len(id) + 3
	for _, p := range parts {
		n += len(p) + 1
	}
	var b strings.Builder
	b.Grow(n)
	b.WriteByte('{')
	if ks.Prefix != "" {
		writeUnbraced(&b, ks.Prefix)
		b.WriteByte(':')
	}
	writeUnbraced(&b, id)
	b.WriteByte('}')
	for _, p := range parts {
		b.WriteByte(':')
		b.WriteString(p)
	}
	return b.String()
}

// Tag returns the hash tag that Key puts around prefix and id, including
// the braces. Keys that contain the same tag share a slot.
func (ks Keyspace) Tag(id string) string { return ks.Key(id) }

func writeUnbraced(b *strings.Builder, s string) {
	if !strings.ContainsAny(s, "{}%") {
		b.WriteString(s)
		return
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '{':
			b.WriteString("%7B")
		case '}':
			b.WriteString("%7D")
		case '%':
			b.WriteString("%25")
		default:
			b.WriteByte(c)
		}
	}
}

// Slot returns the Redis Cluster hash slot of key (CRC16 of the hash tag,
// or of the whole key when it has none, modulo 16384).
func Slot(key string) int {
	if s := strings.IndexByte(key, '{'); s >= 0 {
		if e := strings.IndexByte(key[s+1:], '}'); e > 0 {
			key = key[s+1 : s+1+e]
		}
	}
	return int(crc16(key) % 16384)
}

// crc16 is CRC-16/XMODEM as the Redis Cluster specification defines it.
func crc16(s string) uint16 {
	var crc uint16
	for i := 0; i < len(s); i++ {
		crc ^= uint16(s[i]) << 8
		for j := 0; j < 8; j++ {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return crc
}

// EscapeGlob escapes the glob metacharacters (* ? [ ] \) of s, so that s
// matches itself literally in a Scan pattern: Scan(ctx,
// EscapeGlob(prefix)+"*", ...) visits the keys that start with prefix.
func EscapeGlob(s string) string {
	if !strings.ContainsAny(s, `*?[]\`) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 4)
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '*', '?', '[', ']', '\\':
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
