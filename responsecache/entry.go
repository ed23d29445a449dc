package responsecache

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"errors"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/rediware/rediware/responsecache/internal/cachecontrol"
)

// errCorrupt is returned when a stored record cannot be decoded. The
// record is then treated as a miss and deleted.
var errCorrupt = errors.New("responsecache: corrupt cache entry")

const (
	recordMagic   = 0xC5
	recordVersion = 1

	kindEntry     = 1 // a stored response
	kindVaryIndex = 2 // the Vary field names of a URL and the nonce of its variants

	flagDeflate = 1 << 0 // body compressed with DEFLATE
	flagAuthOK  = 1 << 1 // response to an Authorization request, allowed by its directives

	// compressMin is the smallest body worth compressing: below it the
	// CPU spent inflating on every hit outweighs the bytes saved.
	compressMin = 4096
)

// entry is one stored response, with what the freshness and age
// calculations of RFC 9111 section 4.2 need.
type entry struct {
	Status   int
	Header   http.Header // stored header fields (without Age)
	Body     []byte
	ReqTime  time.Time     // request_time
	RespTime time.Time     // response_time
	AgeValue time.Duration // age_value: the Age field received with the response
	AuthOK   bool          // stored from a request with Authorization
	// VaryFields and VaryValues are the selecting header fields of the
	// request that caused the response to be stored, normalised.
	VaryFields []string
	VaryValues []string

	// Derived on decode (see derive), not encoded.
	cc                  cachecontrol.Directives
	etag                string
	date, expires, lm   time.Time
	hasDate, hasExpires bool
	expiresOK, lmOK     bool
	hasLM               bool
	size                int // encoded size, for the local tier
}

// hitFields are the field values of a hit at a given age and ttl (in
// whole seconds) with a body of a given length: they depend on nothing
// else, so the Cache keeps recent ones (Cache.hits) for the next hits in
// the same second instead of formatting and allocating them again. The
// slices are shared by every response that uses them and must not be
// modified (their capacity equals their length, so an append copies).
type hitFields struct {
	age, ttl int64
	length   int
	ageV     []string // Age
	statusV  []string // Cache-Status: name; hit; ttl=N
	lengthV  []string // Content-Length
}

// varyIndex is what the primary key holds for a response that has Vary:
// the field names and a random nonce that is part of every variant's key,
// so that invalidating the URL (deleting the index) orphans all variants.
type varyIndex struct {
	Fields []string
	Nonce  string

	// variants maps the raw selecting field lines of requests (see
	// appendRawVary) to their variant, for the local tier's hit path: the
	// normalisation and the key hash are pure functions of those lines, so
	// they are computed once per distinct spelling. Copy on write, at most
	// maxVariantMemo entries.
	variants atomic.Pointer[map[string]*variantRef]
}

// variantRef is a variant of a varyIndex: the normalised selecting values
// and the Redis key of the variant.
type variantRef struct {
	values []string
	key    string
}

// maxVariantMemo bounds varyIndex.variants: beyond it, other spellings
// take the general path.
const maxVariantMemo = 32

// derive parses, once per decoded entry, the fields the hit path needs.
func (e *entry) derive(targets []string) {
	var targeted bool
	e.cc, targeted = responseDirectives(e.Header, targets)
	e.etag = hget(e.Header, "Etag")
	e.date, e.hasDate = cachecontrol.ParseHTTPDate(hget(e.Header, "Date"))
	_, e.hasExpires = e.Header["Expires"]
	e.hasExpires = e.hasExpires && !targeted
	e.expires, e.expiresOK = cachecontrol.ParseHTTPDate(hget(e.Header, "Expires"))
	lm := hget(e.Header, "Last-Modified")
	e.hasLM = lm != ""
	e.lm, e.lmOK = cachecontrol.ParseHTTPDate(lm)
}

// responseDirectives returns the directives that govern this cache: those
// of the first valid targeted field (RFC 9213, e.g. CDN-Cache-Control), in
// which case Cache-Control and Expires are ignored and targeted is true,
// or else those of Cache-Control.
func responseDirectives(h http.Header, targets []string) (d cachecontrol.Directives, targeted bool) {
	for _, f := range targets {
		vs := h[f]
		if len(vs) == 0 {
			continue
		}
		if f == "Surrogate-Control" {
			// The Edge Architecture field uses Cache-Control syntax.
			if d := cachecontrol.Parse(vs); d.Known() {
				return d, true
			}
			continue
		}
		if d, ok := cachecontrol.ParseTargeted(vs); ok {
			return d, true
		}
	}
	return cachecontrol.Parse(h["Cache-Control"]), false
}

// hget is Header.Get for a key already in canonical form, without
// canonicalising it again on every call.
func hget(h http.Header, key string) string {
	if v := h[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}

type encoder struct{ b []byte }

func (w *encoder) uv(v uint64)    { w.b = binary.AppendUvarint(w.b, v) }
func (w *encoder) v(v int64)      { w.b = binary.AppendVarint(w.b, v) }
func (w *encoder) str(s string)   { w.uv(uint64(len(s))); w.b = append(w.b, s...) }
func (w *encoder) bytes(p []byte) { w.uv(uint64(len(p))); w.b = append(w.b, p...) }
func (w *encoder) strs(ss []string) {
	w.uv(uint64(len(ss)))
	for _, s := range ss {
		w.str(s)
	}
}

var inflaters sync.Pool // of flate readers

var flaters = sync.Pool{New: func() any {
	fw, _ := flate.NewWriter(nil, flate.BestSpeed)
	return fw
}}

// encodeEntry returns the compact binary form of e. The body is compressed
// with DEFLATE when it is large enough, not already content-coded, and the
// result is at least 10% smaller.
func encodeEntry(e *entry) []byte {
	body := e.Body
	var flags byte
	if e.AuthOK {
		flags |= flagAuthOK
	}
	if len(body) >= compressMin && hget(e.Header, "Content-Encoding") == "" {
		var buf bytes.Buffer
		fw := flaters.Get().(*flate.Writer)
		fw.Reset(&buf)
		if _, err := fw.Write(body); err == nil && fw.Close() == nil && buf.Len() < len(body)*9/10 {
			body = buf.Bytes()
			flags |= flagDeflate
		}
		flaters.Put(fw)
	}
	w := encoder{b: make([]byte, 0, 64+len(body)+headerSize(e.Header))}
	w.b = append(w.b, recordMagic, recordVersion, kindEntry, flags)
	w.uv(uint64(e.Status))
	w.v(e.ReqTime.UnixNano())
	w.v(e.RespTime.UnixNano())
	w.v(int64(e.AgeValue))
	w.strs(e.VaryFields)
	w.strs(e.VaryValues)
	w.uv(uint64(len(e.Header)))
	for k, vs := range e.Header {
		w.str(k)
		w.strs(vs)
	}
	w.bytes(body)
	return w.b
}

func headerSize(h http.Header) int {
	n := 0
	for k, vs := range h {
		n += len(k) + 4
		for _, v := range vs {
			n += len(v) + 2
		}
	}
	return n
}

func encodeIndex(ix *varyIndex) []byte {
	w := encoder{}
	w.b = append(w.b, recordMagic, recordVersion, kindVaryIndex, 0)
	w.strs(ix.Fields)
	w.str(ix.Nonce)
	return w.b
}

type decoder struct {
	b   []byte
	err error
}

func (r *decoder) uv() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = errCorrupt
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *decoder) v() int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.err = errCorrupt
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *decoder) raw() []byte {
	n := r.uv()
	if r.err != nil {
		return nil
	}
	if n > uint64(len(r.b)) {
		r.err = errCorrupt
		return nil
	}
	p := r.b[:n:n]
	r.b = r.b[n:]
	return p
}

// str returns the next string without copying it: it shares the record's
// bytes, which are never modified once decoded (see decodeRecord).
func (r *decoder) str() string {
	p := r.raw()
	if len(p) == 0 {
		return ""
	}
	return unsafe.String(unsafe.SliceData(p), len(p))
}

func (r *decoder) strs() []string {
	var own []string
	return r.strsInto(&own)
}

// strsInto appends the next list of strings to *pool and returns them as
// a slice of it whose capacity is its length, so that one allocation
// serves several lists (the values of all header fields).
func (r *decoder) strsInto(pool *[]string) []string {
	n := r.uv()
	if r.err != nil || n > uint64(len(r.b)) {
		r.err = errCorrupt
		return nil
	}
	if n == 0 {
		return nil
	}
	start := len(*pool)
	if cap(*pool)-start < int(n) {
		// A new backing array; the slices handed out so far keep theirs.
		*pool = make([]string, 0, max(int(n), 2*cap(*pool)))
		start = 0
	}
	for range n {
		*pool = append(*pool, r.str())
	}
	return (*pool)[start:len(*pool):len(*pool)]
}

// decodeRecord decodes a stored record: an *entry or a *varyIndex. The
// result shares b's memory (strings and an uncompressed body are not
// copied), so b must not be modified afterwards: a value returned by
// store.Get belongs to the caller, and records are never changed in place.
//
// A compressed body that inflates to more than maxBody bytes (the cache's
// MaxObjectSize, which no stored body exceeds) is corrupt: a record
// crafted to inflate without bound cannot exhaust memory.
func decodeRecord(b []byte, targets []string, maxBody int64) (any, error) {
	if len(b) < 4 || b[0] != recordMagic || b[1] != recordVersion {
		return nil, errCorrupt
	}
	kind, flags := b[2], b[3]
	r := decoder{b: b[4:]}
	switch kind {
	case kindVaryIndex:
		ix := &varyIndex{Fields: r.strs(), Nonce: r.str()}
		if r.err != nil || len(ix.Fields) == 0 {
			return nil, errCorrupt
		}
		return ix, nil
	case kindEntry:
	default:
		return nil, errCorrupt
	}
	e := &entry{size: len(b), AuthOK: flags&flagAuthOK != 0}
	status := r.uv()
	e.ReqTime = time.Unix(0, r.v())
	e.RespTime = time.Unix(0, r.v())
	e.AgeValue = time.Duration(r.v())
	e.VaryFields = r.strs()
	e.VaryValues = r.strs()
	nh := r.uv()
	if r.err != nil || nh > uint64(len(r.b)) || status < 100 || status > 999 || len(e.VaryFields) != len(e.VaryValues) {
		return nil, errCorrupt
	}
	e.Status = int(status)
	e.Header = make(http.Header, nh)
	vals := make([]string, 0, nh+2) // most fields have one value
	for i := uint64(0); i < nh && r.err == nil; i++ {
		k := r.str()
		e.Header[k] = r.strsInto(&vals)
	}
	body := r.raw()
	if r.err != nil || len(r.b) != 0 {
		return nil, errCorrupt
	}
	if flags&flagDeflate != 0 {
		fr, _ := inflaters.Get().(io.ReadCloser)
		if fr == nil {
			fr = flate.NewReader(bytes.NewReader(body))
		} else {
			_ = fr.(flate.Resetter).Reset(bytes.NewReader(body), nil)
		}
		out, err := io.ReadAll(io.LimitReader(fr, maxBody+1))
		inflaters.Put(fr)
		if err != nil || int64(len(out)) > maxBody {
			return nil, errCorrupt
		}
		body = out
	}
	e.Body = body
	e.derive(targets)
	return e, nil
}
