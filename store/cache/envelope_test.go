package cache

import (
	"testing"
	"time"
)

func TestEnvelope_round_trip(t *testing.T) {
	exp := time.UnixMilli(time.Now().Add(time.Minute).UnixMilli())
	tags := []tagStamp{{"user:42", 3}, {"t", 0}}
	b := appendHeader(nil, flagNegative, 0xdeadbeef, exp, 1500*time.Microsecond, tags)
	b = append(b, "payload"...)
	h, err := parseHeader(b)
	if err != nil {
		t.Fatal(err)
	}
	if !h.negative() || h.stamp != 0xdeadbeef || h.expiry != exp.UnixMilli() || h.delta != 1500*time.Microsecond ||
		len(h.tags) != 2 || h.tags[0] != tags[0] || h.tags[1] != tags[1] || string(h.payload) != "payload" {
		t.Fatalf("parsed %+v", h)
	}
}

// FuzzParseHeader checks that no stored bytes, however corrupt or hostile,
// make the reader panic or allocate without bound.
func FuzzParseHeader(f *testing.F) {
	f.Add(appendHeader(nil, 0, 1, time.Now(), time.Millisecond, nil))
	f.Add(appendHeader(nil, flagCompressed, 1, time.Now(), 0, []tagStamp{{"a", 1}}))
	f.Add([]byte{formatV1 | flagTagged, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Add([]byte("not an envelope"))
	c := New[string](nil, Options[string]{Codec: String()})
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := parseHeader(b)
		if err != nil {
			return
		}
		_, _ = c.entry(&h)
	})
}
