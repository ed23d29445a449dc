package ratelimit

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// MaxKeyLen is the longest client key used as it is. Longer keys (an API key
// header of any length, say) are replaced by "sha256:" and the hex SHA-256
// of the key, so that neither Redis memory nor the store's key limit can be
// pushed by a client. So are keys holding a brace (which would move the
// Cluster hash tag) and keys that already start with "sha256:", so that
// distinct client keys always map to distinct Redis keys.
const MaxKeyLen = 256

const hashedPrefix = "sha256:"

// mustHash reports whether key cannot go into a Redis key as it is: too
// long, holding a brace, or looking like a hashed key.
func mustHash[K string | []byte](key K) bool {
	if len(key) > MaxKeyLen {
		return true
	}
	if len(key) >= len(hashedPrefix) {
		same := true
		for i := 0; i < len(hashedPrefix) && same; i++ {
			same = key[i] == hashedPrefix[i]
		}
		if same {
			return true
		}
	}
	for i := 0; i < len(key); i++ {
		if c := key[i]; c == '{' || c == '}' {
			return true
		}
	}
	return false
}

// buildKeys writes the Redis key of every policy for the client key into
// dst, all sharing one hash tag: "{prefix:name:key}:policy:algorithm". They
// are built in one allocation and sliced out of it. A key that mustHash is
// replaced by its hashed form first; the mapping stays injective because no
// key used as it is starts with "sha256:".
func buildKeys[K string | []byte](l *Limiter, dst []string, key K) {
	if mustHash(key) {
		var sum [sha256.Size*2 + len(hashedPrefix)]byte
		h := sha256.Sum256([]byte(key))
		copy(sum[:], hashedPrefix)
		hex.Encode(sum[len(hashedPrefix):], h[:])
		writeKeys(l, dst, sum[:])
		return
	}
	writeKeys(l, dst, key)
}

// writeKeys is buildKeys for a key that can be used as it is.
func writeKeys[K string | []byte](l *Limiter, dst []string, key K) {
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
		for i := 0; i < len(key); i++ { // no conversion: key may be []byte
			b.WriteByte(key[i])
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
