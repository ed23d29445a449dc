package tiered

import (
	"slices"
	"testing"
)

func TestMessage_round_trip(t *testing.T) {
	items := []string{"user:42", "", "bin\x00ary"}
	op, origin, got, err := decodeMessage(encodeMessage(opKeys, 77, items))
	if err != nil || op != opKeys || origin != 77 || !slices.Equal(got, items) {
		t.Fatalf("decoded %c %d %q %v", op, origin, got, err)
	}
}

func FuzzDecodeMessage(f *testing.F) {
	f.Add(encodeMessage(opKeys, 1, []string{"a", "b"}))
	f.Add(encodeMessage(opFlush, 2, nil))
	f.Add([]byte{opKeys, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _, _, _ = decodeMessage(b)
	})
}
