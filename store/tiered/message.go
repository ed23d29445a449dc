package tiered

import (
	"encoding/binary"
	"errors"
)

// An invalidation message is one op byte, the sender's 8-byte instance id,
// then uvarint-length-prefixed strings (keys are binary-safe, so no
// separator would do).
const (
	opKeys    = 'k'
	opTags    = 't'
	opPattern = 'p'
	opFlush   = 'f'
)

var errBadMessage = errors.New("tiered: malformed invalidation message")

func encodeMessage(op byte, origin uint64, items []string) []byte {
	n := 9
	for _, s := range items {
		n += len(s) + binary.MaxVarintLen32
	}
	b := make([]byte, 1, n)
	b[0] = op
	b = binary.BigEndian.AppendUint64(b, origin)
	for _, s := range items {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	return b
}

func decodeMessage(b []byte) (op byte, origin uint64, items []string, err error) {
	if len(b) < 9 {
		return 0, 0, nil, errBadMessage
	}
	op, origin, b = b[0], binary.BigEndian.Uint64(b[1:]), b[9:]
	for len(b) > 0 {
		l, k := binary.Uvarint(b)
		if k <= 0 || uint64(len(b)-k) < l {
			return 0, 0, nil, errBadMessage
		}
		items = append(items, string(b[k:k+int(l)]))
		b = b[k+int(l):]
	}
	return op, origin, items, nil
}
