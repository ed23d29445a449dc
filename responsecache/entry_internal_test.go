package responsecache

import (
	"bytes"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestDecodeRecord_roundtrip_and_every_truncation_is_an_error(t *testing.T) {
	for _, body := range [][]byte{[]byte("small"), bytes.Repeat([]byte("compressible "), 1000)} {
		e := &entry{
			Status:     200,
			Header:     http.Header{"Etag": {`"x"`}, "Cache-Control": {"max-age=60"}, "X-Multi": {"a", "b"}},
			Body:       body,
			ReqTime:    time.Unix(100, 5),
			RespTime:   time.Unix(101, 7),
			AgeValue:   3 * time.Second,
			VaryFields: []string{"Accept-Encoding"},
			VaryValues: []string{"gzip"},
		}
		b := encodeEntry(e)
		rec, err := decodeRecord(b, nil)
		if err != nil {
			t.Fatal(err)
		}
		got := rec.(*entry)
		if got.Status != 200 || !bytes.Equal(got.Body, body) || got.Header.Get("X-Multi") != "a" || len(got.Header["X-Multi"]) != 2 ||
			!got.ReqTime.Equal(e.ReqTime) || !got.RespTime.Equal(e.RespTime) || got.AgeValue != e.AgeValue || got.VaryValues[0] != "gzip" || got.etag != `"x"` {
			t.Fatalf("roundtrip mismatch: %+v", got)
		}
		if len(body) > compressMin && len(b) >= len(body) {
			t.Fatalf("a compressible body was not compressed: %d >= %d", len(b), len(body))
		}
		for i := 0; i < len(b); i++ {
			if _, err := decodeRecord(b[:i], nil); err == nil {
				t.Fatalf("truncation at %d of %d decoded without error", i, len(b))
			}
		}
	}
}

func TestDecodeRecord_garbage_is_an_error(t *testing.T) {
	for _, b := range []string{"", "x", "\xc5\x01\x07\x00", "\xc5\x01\x01\x00\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff", strings.Repeat("\xc5", 100)} {
		if _, err := decodeRecord([]byte(b), nil); err == nil {
			t.Fatalf("decoded %q", b)
		}
	}
	ix := encodeIndex(&varyIndex{Fields: []string{"Foo"}, Nonce: "n"})
	rec, err := decodeRecord(ix, nil)
	if err != nil || rec.(*varyIndex).Nonce != "n" {
		t.Fatalf("index roundtrip: %v %v", rec, err)
	}
}

func FuzzDecodeRecord(f *testing.F) {
	e := &entry{Status: 200, Header: http.Header{"Etag": {`"x"`}, "Vary": {"A"}}, Body: bytes.Repeat([]byte("z"), 5000),
		VaryFields: []string{"A"}, VaryValues: []string{"b"}}
	f.Add(encodeEntry(e))
	e.Body = []byte("small")
	f.Add(encodeEntry(e))
	f.Add(encodeIndex(&varyIndex{Fields: []string{"Foo"}, Nonce: "n"}))
	f.Fuzz(func(t *testing.T, b []byte) {
		rec, err := decodeRecord(b, []string{"Cdn-Cache-Control"})
		if err == nil && rec == nil {
			t.Fatal("no record and no error")
		}
		if e, ok := rec.(*entry); ok {
			if e.Status < 100 || e.Status > 999 || len(e.VaryFields) != len(e.VaryValues) {
				t.Fatalf("decoded an invalid entry: %d, %q, %q", e.Status, e.VaryFields, e.VaryValues)
			}
		}
	})
}
