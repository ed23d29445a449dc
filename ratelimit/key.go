package ratelimit

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// MaxKeyLen is the longest client key used as it is. Longer keys (an API key
// header of any length, say) are replaced by "sha256:" and the hex SHA-256
// of the key, so that neither Redis memory nor the store's key limit can be
// pushed by a client.
const MaxKeyLen = 256

// buildKeys writes the Redis key of every policy for the client key into
// dst, all sharing one hash tag: "{prefix:name:key}:policy:algorithm". They
// are built in one allocation and sliced out of it. Braces in key are
// replaced by parentheses, as store.Keyspace does, so that a client cannot
// move the hash tag.
func buildKeys[K string | []byte](l *Limiter, dst []string, key K) {
	var sum [sha256.Size*2 + 7]byte
	if len(key) > MaxKeyLen {
		h := sha256.Sum256([]byte(key))
		copy(sum[:], "sha256:")
		hex.Encode(sum[7:], h[:])
		buildKeys(l, dst, sum[:])
		return
	}
	tagLen := len(l.prefix) + len(l.name) + len(key) + 4
	total := 0
	for _, s := range l.suffixes {
		total += tagLen + len(s)
	}
	var b strings.Builder
	b.Grow(total)
	for _, s := range l.suffixes {
		b.WriteByte('{')
		b.WriteString(l.prefix)
		b.WriteByte(':')
		b.WriteString(l.name)
		b.WriteByte(':')
		for i := 0; i < len(key); i++ {
			switch c := key[i]; c {
			case '{':
				b.WriteByte('(')
			case '}':
				b.WriteByte(')')
			default:
				b.WriteByte(c)
			}
		}
		b.WriteByte('}')
		b.WriteString(s)
	}
	all := b.String()
	off := 0
	for i, s := range l.suffixes {
		dst[i] = all[off : off+tagLen+len(s)]
		off += tagLen + len(s)
	}
}
