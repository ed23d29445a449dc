package storetest

import (
	"bytes"
	"testing"
	"time"

	"github.com/rediware/rediware/store"
)

var binaryTests = []subtest{
	{"Keys", testBinaryKeys},
	{"Values", testBinaryValues},
	{"ScriptArgs", testBinaryScriptArgs},
	{"Payload", testBinaryPayload},
}

func allBytes() []byte {
	b := make([]byte, 256)
	for i := range b {
		b[i] = byte(i)
	}
	return b
}

func testBinaryKeys(t *testing.T, r *runner) {
	s, p := r.store(t)
	ctx := t.Context()
	key := p + string(allBytes())
	other := p + string(allBytes()[:255]) // a prefix of key is another key
	mustSet(t, s, key, []byte("v1"), time.Minute)
	mustSet(t, s, other, []byte("v2"), 0)
	if v, found := mustGet(t, s, key); !found || string(v) != "v1" {
		t.Fatalf("Get(binary key) = %q, %v", v, found)
	}
	if ttl, found, err := s.TTL(ctx, key); err != nil || !found || ttl <= 0 {
		t.Fatalf("TTL(binary key) = %v, %v, %v", ttl, found, err)
	}
	if n, err := s.Delete(ctx, key); err != nil || n != 1 {
		t.Fatalf("Delete(binary key) = %d, %v", n, err)
	}
	if v, found := mustGet(t, s, other); !found || string(v) != "v2" {
		t.Fatalf("Get(other binary key) = %q, %v", v, found)
	}
}

func testBinaryValues(t *testing.T, r *runner) {
	s, p := r.store(t)
	val := allBytes()
	val = append(val, val...) // and "\r\n" in the middle
	mustSet(t, s, p+"k", val, 0)
	v, found := mustGet(t, s, p+"k")
	if !found || !bytes.Equal(v, val) {
		t.Fatalf("Get = %v, want all 256 byte values twice", v)
	}
	ok, err := s.SetNX(t.Context(), p+"nx", val, 0)
	if err != nil || !ok {
		t.Fatalf("SetNX = %v, %v", ok, err)
	}
	if v, _ := mustGet(t, s, p+"nx"); !bytes.Equal(v, val) {
		t.Fatal("SetNX did not store the binary value intact")
	}
}

func testBinaryScriptArgs(t *testing.T, r *runner) {
	s, p := r.store(t)
	val := allBytes()
	key := p + string(val)
	got, err := s.Eval(t.Context(), store.NewScript(`
redis.call('SET', KEYS[1], ARGV[1])
return {KEYS[1], redis.call('GET', KEYS[1]), #ARGV[1]}`), []string{key}, val)
	if err != nil {
		t.Fatal(err)
	}
	a, err := store.Slice(got, 3)
	if err != nil {
		t.Fatal(err)
	}
	if a[0] != key || a[1] != string(val) || a[2] != int64(256) {
		t.Fatalf("Eval with binary key and argument = %q", got)
	}
}

func testBinaryPayload(t *testing.T, r *runner) {
	s, p := r.store(t)
	ch := p + "bin\x00\xffchan"
	sub, err := s.Subscribe(t.Context(), []string{ch}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	if _, err := s.Publish(t.Context(), ch, allBytes()); err != nil {
		t.Fatal(err)
	}
	m := receive(t, sub, 5*time.Second)
	if m.Kind != store.Published || m.Channel != ch || !bytes.Equal(m.Payload, allBytes()) {
		t.Fatalf("message = %+v, want the 256 bytes on %q", m, ch)
	}
}
