package session

import (
	"bytes"
	"encoding/gob"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
)

type gobTestPoint struct{ X, Y int }

func init() {
	gob.Register(gobTestPoint{})
	gob.Register(time.Time{})
}

// gobTestSessions returns sessions of many shapes: basic values only, with
// time.Time, with a registered application type (new type definitions),
// empty, and with nil values.
func gobTestSessions() []map[string]any {
	r := rand.New(rand.NewPCG(1, 2))
	var out []map[string]any
	for i := range 200 {
		m := map[string]any{}
		for j := range r.IntN(6) {
			k := fmt.Sprintf("k%d", j)
			switch r.IntN(9) {
			case 0:
				m[k] = fmt.Sprint("v", r.Int())
			case 1:
				m[k] = r.Int64()
			case 2:
				m[k] = r.IntN(1000) - 500
			case 3:
				m[k] = r.Float64()
			case 4:
				m[k] = r.IntN(2) == 0
			case 5:
				m[k] = []byte{byte(i), byte(j)}
			case 6:
				m[k] = time.Unix(r.Int64N(1<<32), 0).UTC()
			case 7:
				m[k] = uint8(r.IntN(256))
			case 8:
				if i%10 == 0 {
					m[k] = gobTestPoint{X: i, Y: j}
				} else {
					m[k] = nil
				}
			}
		}
		out = append(out, m)
	}
	return out
}

func TestGobCodec_output_decodes_with_scs_GobCodec(t *testing.T) {
	c := newGobCodec()
	dl := time.Now().Add(time.Hour)
	for i, vals := range gobTestSessions() {
		b, err := c.Encode(dl, vals)
		if err != nil {
			t.Fatalf("%d: Encode: %v", i, err)
		}
		gotDL, got, err := scs.GobCodec{}.Decode(b)
		if err != nil {
			t.Fatalf("%d: scs.GobCodec.Decode: %v", i, err)
		}
		if !gotDL.Equal(dl) || !reflect.DeepEqual(got, vals) {
			t.Fatalf("%d: scs decoded %v %v, want %v %v", i, gotDL, got, dl, vals)
		}
	}
}

func TestGobCodec_output_has_the_bytes_of_scs_GobCodec(t *testing.T) {
	c := newGobCodec()
	dl := time.UnixMilli(1_800_000_000_123).UTC()
	for range 3 { // warm and reused encoders alike
		for _, vals := range []map[string]any{{}, {"userID": "u1"}, {"n": int64(7)}, {"t": dl}, {"p": gobTestPoint{1, 2}}} {
			want, _ := scs.GobCodec{}.Encode(dl, vals) // one entry: no map order to differ
			got, err := c.Encode(dl, vals)
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("Encode(%v) = %x, %v; scs.GobCodec gives %x", vals, got, err, want)
			}
		}
	}
}

func TestGobCodec_decodes_what_scs_GobCodec_decodes(t *testing.T) {
	c := newGobCodec()
	dl := time.Now().Add(time.Hour)
	sessions := gobTestSessions()
	for round := range 3 { // the first round makes the decoders, later ones reuse them
		for i, vals := range sessions {
			b, err := scs.GobCodec{}.Encode(dl, vals)
			if err != nil {
				t.Fatal(err)
			}
			gotDL, got, err := c.Decode(b)
			if err != nil {
				t.Fatalf("round %d, %d: Decode: %v", round, i, err)
			}
			if !gotDL.Equal(dl) || !reflect.DeepEqual(got, vals) {
				t.Fatalf("round %d, %d: decoded %v %v, want %v %v", round, i, gotDL, got, dl, vals)
			}
		}
	}
}

func TestGobCodec_each_decode_returns_a_map_of_its_own(t *testing.T) {
	c := newGobCodec()
	b, _ := scs.GobCodec{}.Encode(time.Now(), map[string]any{"user": "u1"})
	_, v1, _ := c.Decode(b)
	_, v2, _ := c.Decode(b)
	v1["user"] = "scribbled"
	if v2["user"] != "u1" {
		t.Fatalf("second decode sees %v", v2["user"])
	}
}

func TestGobCodec_bad_data_gives_the_error_of_scs_GobCodec(t *testing.T) {
	c := newGobCodec()
	good, _ := scs.GobCodec{}.Encode(time.Now(), map[string]any{"user": "u1", "n": 3})
	c.Decode(good) // a decoder for these definitions is kept
	n := gobPrefixLen(good)
	inputs := [][]byte{nil, {}, {0}, {0xff}, []byte("garbage"), good[:n], good[:len(good)-1],
		append(bytes.Clone(good[:n]), 3, 0x80, 1, 2), append(bytes.Clone(good[:n]), good...)}
	for i := range len(good) {
		b := bytes.Clone(good)
		b[i] ^= 0x55
		inputs = append(inputs, b)
	}
	for _, b := range inputs {
		wantDL, want, wantErr := scs.GobCodec{}.Decode(b)
		gotDL, got, err := c.Decode(b)
		if (err != nil) != (wantErr != nil) || !gotDL.Equal(wantDL) || !reflect.DeepEqual(got, want) {
			t.Fatalf("Decode(%x) = %v %v %v; scs.GobCodec gives %v %v %v", b, gotDL, got, err, wantDL, want, wantErr)
		}
	}
	if _, v, err := c.Decode(good); err != nil || v["user"] != "u1" {
		t.Fatalf("good data after bad = %v, %v", v, err)
	}
}

func TestGobCodec_concurrent_use(t *testing.T) {
	c := newGobCodec()
	dl := time.Now().Add(time.Hour).UTC()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				vals := map[string]any{"g": g, "i": int64(i), "s": fmt.Sprint(g, i)}
				b, err := c.Encode(dl, vals)
				if err != nil {
					t.Error(err)
					return
				}
				gotDL, got, err := c.Decode(b)
				if err != nil || !gotDL.Equal(dl) || !reflect.DeepEqual(got, vals) {
					t.Errorf("round trip: %v %v %v, want %v", gotDL, got, err, vals)
					return
				}
			}
		})
	}
	wg.Wait()
}

func FuzzGobCodec_Decode_matches_scs_GobCodec(f *testing.F) {
	for _, vals := range gobTestSessions()[:20] {
		b, _ := scs.GobCodec{}.Encode(time.Now(), vals)
		f.Add(b)
	}
	c := newGobCodec()
	f.Fuzz(func(t *testing.T, b []byte) {
		wantDL, want, wantErr := scs.GobCodec{}.Decode(b)
		gotDL, got, err := c.Decode(b)
		if (err != nil) != (wantErr != nil) || !gotDL.Equal(wantDL) || !reflect.DeepEqual(got, want) {
			t.Fatalf("Decode(%x) = %v %v %v; scs.GobCodec gives %v %v %v", b, gotDL, got, err, wantDL, want, wantErr)
		}
	})
}

func TestGobHead_fast_encoding_is_on(t *testing.T) {
	if sessionGobHead() == nil {
		t.Fatal("gob's output for the probe sessions differs from appendGobSession's: fast encoding is off")
	}
}

func TestGobHead_encode_has_the_bytes_of_gob_for_every_basic_type(t *testing.T) {
	h := sessionGobHead()
	if h == nil {
		t.Skip("fast encoding is off")
	}
	dls := []time.Time{time.UnixMilli(1_800_000_000_123).UTC(), time.Now().UTC(), time.Now(),
		time.Unix(-1e10, 1).In(time.FixedZone("x", -7*3600)), time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC)}
	long := strings.Repeat("é", 5000)
	vals := []any{nil, "", "a", long, []byte{}, []byte(nil), []byte(long), true, false,
		0, 1, -1, 63, 64, -64, -65, 127, 128, math.MaxInt, math.MinInt,
		int8(math.MinInt8), int8(math.MaxInt8), int16(-300), int32(math.MinInt32), int64(math.MaxInt64), int64(math.MinInt64),
		uint(0), uint(math.MaxUint), uint8(255), uint16(65535), uint32(1 << 31), uint64(math.MaxUint64), uint64(127), uint64(128),
		float32(0), float32(-1.25), float32(math.MaxFloat32), float32(math.SmallestNonzeroFloat32),
		0.0, math.Copysign(0, -1), 1.5, -2.75, math.Pi, math.MaxFloat64, math.SmallestNonzeroFloat64, math.Inf(1), math.Inf(-1), math.NaN(),
		complex64(complex(1, -2)), complex(math.Inf(1), math.NaN()), complex128(0)}
	for _, dl := range dls {
		for _, v := range vals {
			for _, k := range []string{"k", "", long} {
				one := map[string]any{k: v}
				want, err := scs.GobCodec{}.Encode(dl, one)
				if err != nil {
					t.Fatal(err)
				}
				if got := h.encode(dl, one); !bytes.Equal(got, want) {
					t.Fatalf("encode(%v, %T %v) =\n%x\ngob gives\n%x", dl, v, v, got, want)
				}
			}
		}
	}
}

func TestGobHead_encode_leaves_to_gob_what_it_does_not_handle(t *testing.T) {
	h := sessionGobHead()
	if h == nil {
		t.Skip("fast encoding is off")
	}
	dl := time.Now().UTC()
	for _, tc := range []struct {
		name string
		dl   time.Time
		vals map[string]any
	}{
		{"zero deadline", time.Time{}, map[string]any{"k": 1}},
		{"no values", dl, map[string]any{}},
		{"nil map", dl, nil},
		{"time value", dl, map[string]any{"k": dl}},
		{"application type", dl, map[string]any{"k": gobTestPoint{1, 2}}},
		{"named basic type", dl, map[string]any{"k": time.Second}},
		{"slice", dl, map[string]any{"k": []string{"a"}}},
	} {
		if got := h.encode(tc.dl, tc.vals); got != nil {
			t.Errorf("%s: encoded %x, want nil (left to gob)", tc.name, got)
		}
	}
}

func FuzzGobHead_encode_decodes_with_scs_GobCodec(f *testing.F) {
	f.Add("k", "v", int64(-5), uint64(300), 1.5, true, []byte("b"), int64(1_800_000_000_123))
	f.Fuzz(func(t *testing.T, k, s string, i int64, u uint64, fl float64, b bool, bs []byte, ms int64) {
		h := sessionGobHead()
		if h == nil {
			t.Skip("fast encoding is off")
		}
		dl := time.UnixMilli(ms).UTC()
		vals := map[string]any{k: s, k + "i": i, k + "u": u, k + "f": fl, k + "b": b, k + "x": bs,
			k + "n": nil, k + "8": int8(i), k + "c": complex(fl, -fl), k + "3": float32(fl)}
		out := h.encode(dl, vals)
		if out == nil {
			t.Fatal("not encoded")
		}
		gotDL, got, err := scs.GobCodec{}.Decode(out)
		if err != nil {
			t.Fatalf("scs.GobCodec.Decode: %v", err)
		}
		if !gotDL.Equal(dl) || len(got) != len(vals) {
			t.Fatalf("decoded %v %v, want %v %v", gotDL, got, dl, vals)
		}
		for key, want := range vals {
			// %#v, not DeepEqual: NaN is not equal to itself, and an empty
			// []byte decodes as nil under either codec.
			if g, w := fmt.Sprintf("%T %#v", got[key], got[key]), fmt.Sprintf("%T %#v", want, want); g != w {
				if wb, ok := want.([]byte); ok && len(wb) == 0 && got[key] != nil && len(got[key].([]byte)) == 0 {
					continue
				}
				t.Fatalf("%q: decoded %s, want %s", key, g, w)
			}
		}
	})
}

// gobWithMapCount returns a session stream whose map of values claims n
// entries but holds one: corrupt or hostile data, a few bytes long.
func gobWithMapCount(t *testing.T, n uint64) []byte {
	t.Helper()
	b, err := scs.GobCodec{}.Encode(time.Unix(1_800_000_000, 0).UTC(), map[string]any{"a": "b"})
	if err != nil {
		t.Fatal(err)
	}
	off := gobPrefixLen(b)
	msgLen, w := gobUint(b[off:])
	at := bytes.Index(b[off:], []byte{1, 1, 1, 'a'}) // field delta, count 1, key length 1, "a"
	if off <= 0 || msgLen >= 0x80 || at < 0 {
		t.Fatalf("unexpected gob layout % x", b)
	}
	count := appendGobUint(nil, n)
	out := append([]byte{}, b[:off]...)
	out = appendGobUint(out, msgLen+uint64(len(count)-1))
	out = append(out, b[off+w:off+at+1]...)
	out = append(out, count...)
	return append(out, b[off+at+2:]...)
}

func TestGobCodec_corrupt_map_length_fails_without_allocating_it(t *testing.T) {
	b := gobWithMapCount(t, 1<<21)
	if _, _, err := (scs.GobCodec{}).Decode(gobWithMapCount(t, 1)); err != nil {
		t.Fatalf("the unpatched stream must decode: %v", err)
	}
	c := newGobCodec()
	var before, after runtimeMem
	before.read()
	_, _, err := c.Decode(b)
	after.read()
	if err == nil {
		t.Fatal("Decode of a map claiming 2^21 entries in a few bytes succeeded")
	}
	// gob makes the map at the size the data claims before reading any
	// entry: some 100 MB here, gigabytes or a crash for 2^30 and more.
	if got := after.total - before.total; got > 16<<20 {
		t.Fatalf("Decode allocated %d MB for a %d-byte stream", got>>20, len(b))
	}
}

type runtimeMem struct{ total uint64 }

func (m *runtimeMem) read() {
	var s runtime.MemStats
	runtime.ReadMemStats(&s)
	m.total = s.TotalAlloc
}
