package responsecache

import (
	"bytes"
	"hash/maphash"
	"testing"
)

func TestDecodeCache_reuses_a_record_only_for_the_same_key_and_bytes(t *testing.T) {
	d := &decodeCache{seed: maphash.MakeSeed()}
	b := []byte("record bytes")
	rec := &entry{Status: 200}
	d.put("k", b, rec)
	if got, ok := d.get("k", bytes.Clone(b)); !ok || got != rec {
		t.Fatal("equal bytes under the same key: want the remembered record")
	}
	if _, ok := d.get("k", []byte("record bytez")); ok {
		t.Fatal("other bytes under the same key: want a miss")
	}
	if _, ok := d.get("other", b); ok {
		t.Fatal("the same bytes under another key: want a miss")
	}
	big := make([]byte, decodeCacheMax+1)
	d.put("big", big, rec)
	if _, ok := d.get("big", big); ok {
		t.Fatal("a record above decodeCacheMax was kept")
	}
}
