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
		rec, err := decodeRecord(b, nil, 1<<20)
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
			if _, err := decodeRecord(b[:i], nil, 1<<20); err == nil {
				t.Fatalf("truncation at %d of %d decoded without error", i, len(b))
			}
		}
	}
}

func TestDecodeRecord_garbage_is_an_error(t *testing.T) {
	for _, b := range []string{"", "x", "\xc5\x01\x07\x00", "\xc5\x01\x01\x00\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff", strings.Repeat("\xc5", 100)} {
		if _, err := decodeRecord([]byte(b), nil, 1<<20); err == nil {
			t.Fatalf("decoded %q", b)
		}
	}
	ix := encodeIndex(&varyIndex{Fields: []string{"Foo"}, Nonce: "n"})
	rec, err := decodeRecord(ix, nil, 1<<20)
	if err != nil || rec.(*varyIndex).Nonce != "n" {
		t.Fatalf("index roundtrip: %v %v", rec, err)
	}
}

// A record whose compressed body inflates past the cache's largest object
// (crafted, or stored under a larger MaxObjectSize) is corrupt, and is not
// inflated beyond that bound.
func TestDecodeRecord_body_inflating_past_maxBody_is_an_error(t *testing.T) {
	body := bytes.Repeat([]byte{0}, 4<<20) // 4 MiB of zeros deflate to a few KiB
	b := encodeEntry(&entry{Status: 200, Header: http.Header{}, Body: body})
	if len(b) > 64<<10 {
		t.Fatalf("the test record is %d bytes, want a small one that inflates", len(b))
	}
	if _, err := decodeRecord(b, nil, 1<<20); err == nil {
		t.Fatal("a body inflating to 4 MiB decoded under a 1 MiB bound")
	}
	rec, err := decodeRecord(b, nil, 4<<20)
	if err != nil || len(rec.(*entry).Body) != len(body) {
		t.Fatalf("at a bound of exactly its size: %v", err)
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
		rec, err := decodeRecord(b, []string{"Cdn-Cache-Control"}, 1<<20)
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
