package session

import (
	"bytes"
	"encoding/gob"
	"fmt"
	"math/rand/v2"
	"reflect"
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
