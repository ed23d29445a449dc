package responsecache_test

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rediware/rediware/responsecache"
)

// step is one request of a conformance case, in the manner of the
// http-tests/cache-tests suite: the origin's scripted answer and what the
// client must see.
type step struct {
	method   string
	req      []string // request header pairs
	status   int      // origin status; 0 means 200
	resp     []string // origin header pairs; "$d+N" is an HTTP-date N seconds from now
	body     string
	validate bool // the origin answers a conditional request with 304 and resp
	pause    time.Duration

	want        string // "cached", "not_cached", "validated", or "" for setup
	wantStatus  int
	wantHeaders []string // pairs; value "*" means present, "$sent" the value the origin last sent
	// wantAge, when not "", is the Age the hit must carry, in seconds:
	// exactly that much, plus at most the whole seconds the case has run
	// (the Date the origin sent has one-second resolution and a loaded
	// machine may take seconds between steps).
	wantAge     string
	wantMissing []string
	wantBody    string
}

type conformanceCase struct {
	name  string
	opts  responsecache.Options
	steps []step
}

func expand(v string) string {
	if rest, ok := strings.CutPrefix(v, "$d"); ok {
		n, _ := strconv.Atoi(rest)
		return httpDate(n)
	}
	return v
}

var defaultBody = "body"

// lm1 is a fixed Last-Modified.
const lm1 = "Wed, 01 Jan 2020 00:00:00 GMT"

func runCase(t *testing.T, tc conformanceCase) {
	s, _ := miniStore(t)
	opts := tc.opts
	opts.StoreTimeout = 5 * time.Second // generous: -race and parallel cases slow miniredis
	opts.ErrorFunc = func(_ *http.Request, err error) { t.Errorf("store error: %v", err) }
	c := responsecache.New(s, opts)
	o := &origin{}
	h := c.Handler(o)
	path := "/" + strings.ReplaceAll(tc.name, " ", "-")
	start := time.Now()
	var sentMu sync.Mutex
	sent := http.Header{} // the header fields of the origin's last response
	for i, st := range tc.steps {
		st := st
		body := st.body
		if body == "" && st.status != http.StatusNoContent && st.status != http.StatusNotModified {
			body = defaultBody
		}
		o.set(func(w http.ResponseWriter, r *http.Request) {
			for j := 0; j+1 < len(st.resp); j += 2 {
				w.Header().Add(st.resp[j], expand(st.resp[j+1]))
			}
			sentMu.Lock()
			sent = w.Header().Clone()
			sentMu.Unlock()
			conditional := r.Header.Get("If-None-Match") != "" || r.Header.Get("If-Modified-Since") != ""
			if st.validate && conditional {
				w.WriteHeader(http.StatusNotModified)
				return
			}
			status := st.status
			if status == 0 {
				status = 200
			}
			w.Header().Set("Content-Length", strconv.Itoa(len(body)))
			w.WriteHeader(status)
			_, _ = w.Write([]byte(body))
		})
		method := st.method
		if method == "" {
			method = http.MethodGet
		}
		var req []string
		for j := 0; j+1 < len(st.req); j += 2 {
			req = append(req, st.req[j], expand(st.req[j+1]))
		}
		before := o.count()
		rec := send(h, method, "http://example.com"+path, req...)
		after := o.count()
		desc := fmt.Sprintf("step %d (%s %v): status %d, Cache-Status %q", i+1, method, st.req, rec.Code, rec.Header().Values("Cache-Status"))
		switch st.want {
		case "cached":
			if after != before {
				t.Fatalf("%s: want cached, the origin was asked", desc)
			}
		case "not_cached":
			if after == before {
				t.Fatalf("%s: want not_cached, the origin was not asked", desc)
			}
		case "validated":
			if after == before {
				t.Fatalf("%s: want validated, the origin was not asked", desc)
			}
			lr := o.last()
			if lr.Header.Get("If-None-Match") == "" && lr.Header.Get("If-Modified-Since") == "" {
				t.Fatalf("%s: want a conditional request to the origin, got %v", desc, lr.Header)
			}
		}
		if st.wantStatus != 0 && rec.Code != st.wantStatus {
			t.Fatalf("%s: want status %d", desc, st.wantStatus)
		}
		for j := 0; j+1 < len(st.wantHeaders); j += 2 {
			k, v := st.wantHeaders[j], expand(st.wantHeaders[j+1])
			if v == "$sent" {
				sentMu.Lock()
				v = sent.Get(k)
				sentMu.Unlock()
			}
			got := rec.Header().Get(k)
			if (v == "*" && got == "") || (v != "*" && got != v) {
				t.Fatalf("%s: header %s = %q, want %q", desc, k, got, v)
			}
		}
		if st.wantAge != "" {
			want, _ := strconv.Atoi(st.wantAge)
			// Whole seconds elapsed since the first response, plus one for
			// the truncation of its Date.
			slack := int(time.Since(start)/time.Second) + 1
			got, err := strconv.Atoi(rec.Header().Get("Age"))
			if err != nil || got < want || got > want+slack {
				t.Fatalf("%s: Age = %q, want %d to %d", desc, rec.Header().Get("Age"), want, want+slack)
			}
		}
		for _, k := range st.wantMissing {
			if rec.Header().Get(k) != "" {
				t.Fatalf("%s: header %s = %q, want none", desc, k, rec.Header().Get(k))
			}
		}
		if st.wantBody != "" && rec.Body.String() != st.wantBody {
			t.Fatalf("%s: body %q, want %q", desc, rec.Body.String(), st.wantBody)
		}
		for _, cs := range rec.Header().Values("Cache-Status") {
			if !strings.HasPrefix(cs, "rediware; ") && !strings.HasPrefix(cs, tc.opts.Name) {
				t.Fatalf("%s: bad Cache-Status %q", desc, cs)
			}
		}
		if st.pause > 0 {
			time.Sleep(st.pause)
		}
	}
}

func fresh(kv ...string) []string {
	return append([]string{"Cache-Control", "max-age=100000", "Expires", "$d100000", "Last-Modified", "$d0", "Date", "$d0"}, kv...)
}

func stale(kv ...string) []string {
	return append([]string{"Expires", "$d-5000", "Last-Modified", "$d-100000", "Date", "$d0"}, kv...)
}

var conformance = []conformanceCase{
	// Response Cache-Control.
	{name: "cc-resp-private-shared", steps: []step{{resp: []string{"Cache-Control", "private, max-age=3600"}}, {want: "not_cached"}}},
	{name: "cc-resp-no-store", steps: []step{{resp: []string{"Cache-Control", "no-store"}}, {want: "not_cached"}}},
	{name: "cc-resp-no-store-case-insensitive", steps: []step{{resp: []string{"Cache-Control", "No-StOrE, max-age=3600"}}, {want: "not_cached"}}},
	{name: "cc-resp-no-store-old-new", steps: []step{
		{resp: []string{"Cache-Control", "max-age=10000", "A", "1"}},
		{req: []string{"Cache-Control", "no-cache"}, resp: []string{"Cache-Control", "no-store", "A", "2"}, want: "not_cached"},
		{want: "cached", wantHeaders: []string{"A", "1"}},
	}},
	{name: "cc-resp-no-cache", steps: []step{{resp: []string{"Cache-Control", "max-age=10000, no-cache", "Expires", "$d10000", "Date", "$d0"}}, {want: "not_cached"}}},
	{name: "cc-resp-no-cache-revalidate", steps: []step{{resp: []string{"Cache-Control", "no-cache", "ETag", `"abcd"`}}, {resp: []string{"Cache-Control", "no-cache", "ETag", `"abcd"`}, validate: true, want: "validated", wantStatus: 200, wantBody: defaultBody}}},
	{name: "cc-resp-no-cache-fields", steps: []step{{resp: []string{"Cache-Control", `no-cache="a, b"`, "A", "1", "B", "2", "C", "3", "Cache-Control", "max-age=3600"}}, {want: "cached", wantHeaders: []string{"C", "3"}, wantMissing: []string{"A", "B"}}}},
	{name: "cc-resp-must-revalidate-fresh", steps: []step{{resp: []string{"Cache-Control", "max-age=10000, must-revalidate", "ETag", `"abcd"`}}, {want: "cached"}}},
	{name: "cc-resp-must-revalidate-stale", steps: []step{
		{resp: []string{"Cache-Control", "max-age=2, must-revalidate", "ETag", `"abcd"`, "Age", "3"}},
		{resp: []string{"Cache-Control", "max-age=2, must-revalidate", "ETag", `"abcd"`}, validate: true, want: "validated", wantStatus: 200},
	}},
	{name: "headers-omit-connection", steps: []step{{resp: []string{"Cache-Control", "max-age=3600", "Connection", "a, b", "A", "1", "B", "2", "C", "3"}}, {want: "cached", wantHeaders: []string{"C", "3"}, wantMissing: []string{"A", "B", "Connection"}}}},

	// Freshness.
	{name: "freshness-none", steps: []step{{}, {want: "not_cached"}}},
	{name: "freshness-max-age", steps: []step{{resp: []string{"Cache-Control", "max-age=3600"}}, {want: "cached"}}},
	{name: "freshness-max-age-quoted", steps: []step{{resp: []string{"Cache-Control", `max-age="3600"`}}, {want: "cached"}}},
	{name: "freshness-max-age-single-quoted", steps: []step{{resp: []string{"Cache-Control", "max-age='3600'"}}, {want: "not_cached"}}},
	{name: "freshness-max-age-ignore-quoted", steps: []step{{resp: []string{"Cache-Control", `extension="max-age=100", max-age=0`}}, {want: "not_cached"}}},
	{name: "freshness-max-age-ignore-quoted-rev", steps: []step{{resp: []string{"Cache-Control", `max-age=0, extension="max-age=100"`}}, {want: "not_cached"}}},
	{name: "freshness-max-age-space-before-equals", steps: []step{{resp: []string{"Cache-Control", "max-age =100"}}, {want: "not_cached"}}},
	{name: "freshness-max-age-space-after-equals", steps: []step{{resp: []string{"Cache-Control", "max-age= 100"}}, {want: "not_cached"}}},
	{name: "freshness-max-age-0", steps: []step{{resp: []string{"Cache-Control", "max-age=0"}}, {want: "not_cached"}}},
	{name: "freshness-max-age-a100", steps: []step{{resp: []string{"Cache-Control", "max-age=a100"}}, {want: "not_cached"}}},
	{name: "freshness-max-age-100a", steps: []step{{resp: []string{"Cache-Control", "max-age=100a"}}, {want: "not_cached"}}},
	{name: "freshness-max-age-negative", steps: []step{{resp: []string{"Cache-Control", "max-age=-100"}}, {want: "not_cached"}}},
	{name: "freshness-max-age-max-plus", steps: []step{{resp: []string{"Cache-Control", "max-age=99999999999"}}, {want: "cached"}}},
	{name: "freshness-max-age-leading-zero", steps: []step{{resp: []string{"Cache-Control", "max-age=003600"}}, {want: "cached"}}},
	{name: "freshness-max-age-age", steps: []step{{resp: []string{"Date", "$d0", "Cache-Control", "max-age=10", "Age", "15"}}, {want: "not_cached"}}},
	{name: "freshness-max-age-expires", steps: []step{{resp: []string{"Cache-Control", "max-age=3600", "Expires", "$d-10000", "Date", "$d0"}}, {want: "cached"}}},
	{name: "freshness-max-age-0-expires", steps: []step{{resp: []string{"Cache-Control", "max-age=0", "Expires", "$d10000", "Date", "$d0"}}, {want: "not_cached"}}},
	{name: "freshness-max-age-extension", steps: []step{{resp: []string{"Cache-Control", "foobar, max-age=3600"}}, {want: "cached"}}},
	{name: "freshness-max-age-case-insensitive", steps: []step{{resp: []string{"Cache-Control", "MaX-aGe=3600"}}, {want: "cached"}}},
	{name: "freshness-s-maxage-shared", steps: []step{{resp: []string{"Cache-Control", "s-maxage=3600"}}, {want: "cached"}}},
	{name: "freshness-max-age-s-maxage-shared-longer", steps: []step{{resp: []string{"Cache-Control", "max-age=3600, s-maxage=1", "Age", "2"}}, {want: "not_cached"}}},
	{name: "freshness-max-age-s-maxage-shared-longer-multiple", steps: []step{{resp: []string{"Cache-Control", "max-age=3600", "Cache-Control", "s-maxage=1", "Age", "2"}}, {want: "not_cached"}}},
	{name: "freshness-max-age-s-maxage-shared-shorter", steps: []step{{resp: []string{"Cache-Control", "max-age=1, s-maxage=3600", "Age", "2"}}, {want: "cached"}}},

	// Expires.
	{name: "freshness-expires-future", steps: []step{{resp: []string{"Expires", "$d2592000", "Date", "$d0"}}, {want: "cached"}}},
	{name: "freshness-expires-past", steps: []step{{resp: []string{"Expires", "$d-2592000", "Date", "$d0"}}, {want: "not_cached"}}},
	{name: "freshness-expires-present", steps: []step{{resp: []string{"Expires", "$d0", "Date", "$d0"}}, {want: "not_cached"}}},
	{name: "freshness-expires-old-date", steps: []step{{resp: []string{"Expires", "$d300", "Date", "$d400"}}, {want: "not_cached"}}},
	{name: "freshness-expires-wrong-case-weekday", steps: []step{{resp: []string{"Expires", "THU, 18 Aug 2050 02:01:18 GMT", "Date", "$d0"}}, {want: "cached"}}},
	{name: "freshness-expires-wrong-case-tz", steps: []step{{resp: []string{"Expires", "Thu, 18 Aug 2050 02:01:18 gMT", "Date", "$d0"}}, {want: "cached"}}},
	{name: "freshness-expires-ansi-c", steps: []step{{resp: []string{"Expires", "Thu Aug  8 02:01:18 2050", "Date", "$d0"}}, {want: "cached"}}},
	{name: "freshness-expires-invalid", steps: []step{{resp: []string{"Expires", "0", "Date", "$d0"}}, {want: "not_cached"}}},
	{name: "freshness-expires-invalid-utc", steps: []step{{resp: []string{"Expires", "Thu, 18 Aug 2050 02:01:18 UTC", "Date", "$d0"}}, {want: "not_cached"}}},
	{name: "freshness-expires-invalid-2-digit-year", steps: []step{{resp: []string{"Expires", "Thu, 18 Aug 50 02:01:18 GMT", "Date", "$d0"}}, {want: "not_cached"}}},
	{name: "freshness-expires-invalid-no-comma", steps: []step{{resp: []string{"Expires", "Thu 18 Aug 2050 02:01:18 GMT", "Date", "$d0"}}, {want: "not_cached"}}},
	{name: "freshness-expires-invalid-multiple-spaces", steps: []step{{resp: []string{"Expires", "Thu, 18  Aug  2050 02:01:18 GMT", "Date", "$d0"}}, {want: "not_cached"}}},
	{name: "freshness-expires-invalid-date-dashes", steps: []step{{resp: []string{"Expires", "Thu, 18-Aug-2050 02:01:18 GMT", "Date", "$d0"}}, {want: "not_cached"}}},
	{name: "freshness-expires-invalid-1-digit-hour", steps: []step{{resp: []string{"Expires", "Thu, 18 Aug 2050 2:01:18 GMT", "Date", "$d0"}}, {want: "not_cached"}}},
	{name: "freshness-expires-invalid-date", steps: []step{{resp: []string{"Date", "foo", "Expires", "$d10"}}, {want: "cached"}}},
	{name: "freshness-expires-age-slow-date", steps: []step{{resp: []string{"Date", "$d-10", "Expires", "$d10", "Age", "25"}}, {want: "not_cached"}}},
	{name: "freshness-expires-age-fast-date", steps: []step{{resp: []string{"Date", "$d10", "Expires", "$d20", "Age", "15"}}, {want: "not_cached"}}},

	// Age parsing (RFC 9111 section 5.1): the first member of a list, an
	// invalid value ignored, an overflow capped.
	{name: "age-parse-suffix", steps: []step{{resp: []string{"Date", "$d0", "Cache-Control", "max-age=3600", "Age", "7200, 0"}}, {want: "not_cached"}}},
	{name: "age-parse-suffix-lines", steps: []step{{resp: []string{"Date", "$d0", "Cache-Control", "max-age=3600", "Age", "7200", "Age", "0"}}, {want: "not_cached"}}},
	{name: "age-parse-prefix", steps: []step{{resp: []string{"Date", "$d0", "Cache-Control", "max-age=3600", "Age", "600, 7200"}}, {want: "cached", wantAge: "600"}}},
	{name: "age-parse-nonnumeric", steps: []step{{resp: []string{"Date", "$d0", "Cache-Control", "max-age=3600", "Age", "old"}}, {want: "cached", wantAge: "0"}}},
	{name: "age-parse-negative", steps: []step{{resp: []string{"Date", "$d0", "Cache-Control", "max-age=3600", "Age", "-7200"}}, {want: "cached", wantAge: "0"}}},
	{name: "age-parse-float", steps: []step{{resp: []string{"Date", "$d0", "Cache-Control", "max-age=3600", "Age", "7200.0"}}, {want: "cached", wantAge: "0"}}},
	{name: "age-parse-overflow", steps: []step{{resp: []string{"Date", "$d0", "Cache-Control", "max-age=3600", "Age", "99999999999999999999"}}, {want: "not_cached"}}},

	// Age and Date on hits.
	{name: "other-age-gen", steps: []step{{resp: []string{"Expires", "$d2592000", "Date", "$d0"}}, {want: "cached", wantAge: "0"}}},
	{name: "other-age-update-max-age", steps: []step{{resp: []string{"Cache-Control", "max-age=600", "Date", "$d0", "Age", "30"}}, {want: "cached", wantAge: "30"}}},
	{name: "other-date-update", steps: []step{{resp: []string{"Expires", "$d2592000", "Date", "$d-5"}}, {want: "cached", wantHeaders: []string{"Date", "$sent"}}}},

	// Heuristic freshness (opted in).
	{name: "heuristic-200-cached", opts: responsecache.Options{Heuristic: true}, steps: []step{{resp: []string{"Last-Modified", "$d-86400", "Date", "$d0"}}, {want: "cached"}}},
	{name: "heuristic-201-not_cached", opts: responsecache.Options{Heuristic: true}, steps: []step{{status: 201, resp: []string{"Last-Modified", "$d-86400", "Date", "$d0"}}, {status: 201, want: "not_cached"}}},
	{name: "heuristic-403-not_cached", opts: responsecache.Options{Heuristic: true}, steps: []step{{status: 403, resp: []string{"Last-Modified", "$d-86400", "Date", "$d0"}}, {status: 403, want: "not_cached"}}},
	{name: "heuristic-599-public-cached", opts: responsecache.Options{Heuristic: true}, steps: []step{{status: 599, resp: []string{"Last-Modified", "$d-86400", "Date", "$d0", "Cache-Control", "public"}}, {status: 599, want: "cached"}}},
	{name: "heuristic-off-by-default", steps: []step{{resp: []string{"Last-Modified", "$d-86400", "Date", "$d0"}}, {want: "not_cached"}}},

	// Status codes.
	{name: "status-500-fresh", steps: []step{{status: 500, resp: fresh()}, {want: "cached", wantStatus: 500}}},
	{name: "status-500-stale", steps: []step{{status: 500, resp: stale()}, {status: 500, want: "not_cached"}}},
	{name: "status-301-fresh", steps: []step{{status: 301, resp: fresh("Location", "/x")}, {want: "cached", wantStatus: 301}}},
	{name: "status-204-fresh", steps: []step{{status: 204, resp: fresh()}, {want: "cached", wantStatus: 204}}},

	// must-understand (RFC 9111 section 5.2.2.3): never stored with a status
	// code the cache does not understand; with one it does, no-store is
	// ignored.
	{name: "status-599-must-understand", steps: []step{{status: 599, resp: []string{"Cache-Control", "max-age=3600, must-understand"}}, {status: 599, want: "not_cached", wantStatus: 599}}},
	{name: "status-599-must-understand-no-store", steps: []step{{status: 599, resp: []string{"Cache-Control", "max-age=3600, no-store, must-understand"}}, {status: 599, want: "not_cached", wantStatus: 599}}},
	{name: "status-200-must-understand", steps: []step{{resp: []string{"Cache-Control", "max-age=3600, no-store, must-understand"}}, {want: "cached", wantStatus: 200}}},
	{name: "status-404-must-understand", steps: []step{{status: 404, resp: []string{"Cache-Control", "max-age=3600, no-store, must-understand"}}, {want: "cached", wantStatus: 404}}},
	{name: "status-200-must-understand-separate-lines", steps: []step{{resp: []string{"Cache-Control", "max-age=3600, no-store", "Cache-Control", "must-understand"}}, {want: "cached"}}},
	// RFC 9110 section 15: a status code is three digits, 100 to 599;
	// anything else is no final response to store.
	{name: "status-999-not-stored", steps: []step{{status: 999, resp: []string{"Cache-Control", "max-age=3600"}}, {status: 999, want: "not_cached", wantStatus: 999}}},
	{name: "status-599-max-age-stored", steps: []step{{status: 599, resp: []string{"Cache-Control", "max-age=3600"}}, {want: "cached", wantStatus: 599}}},
	{name: "status-200-must-understand-private", steps: []step{{resp: []string{"Cache-Control", "max-age=3600, private, no-store, must-understand"}}, {want: "not_cached"}}},

	// Request Cache-Control.
	{name: "ccreq-ma0", steps: []step{{resp: fresh()}, {req: []string{"Cache-Control", "max-age=0"}, want: "not_cached"}}},
	{name: "ccreq-magreaterage", steps: []step{{resp: []string{"Cache-Control", "max-age=3600", "Age", "1800"}}, {req: []string{"Cache-Control", "max-age=600"}, want: "not_cached"}}},
	{name: "ccreq-max-stale", steps: []step{{resp: []string{"Cache-Control", "max-age=1", "Age", "2"}}, {req: []string{"Cache-Control", "max-stale=1000"}, want: "cached"}}},
	{name: "ccreq-max-stale-must-revalidate", steps: []step{{resp: []string{"Cache-Control", "max-age=1, must-revalidate", "Age", "2"}}, {req: []string{"Cache-Control", "max-stale=1000"}, want: "not_cached"}}},
	{name: "ccreq-min-fresh", steps: []step{{resp: []string{"Cache-Control", "max-age=1500"}}, {req: []string{"Cache-Control", "min-fresh=2000"}, want: "not_cached"}}},
	{name: "ccreq-no-cache", steps: []step{{resp: []string{"Cache-Control", "max-age=3600"}}, {req: []string{"Cache-Control", "no-cache"}, want: "not_cached"}}},
	{name: "ccreq-no-cache-etag", steps: []step{{resp: []string{"Cache-Control", "max-age=3600", "ETag", `"abc"`}}, {req: []string{"Cache-Control", "no-cache"}, validate: true, resp: []string{"Cache-Control", "max-age=3600", "ETag", `"abc"`}, want: "validated", wantStatus: 200}}},
	{name: "ccreq-pragma-no-cache", steps: []step{{resp: []string{"Cache-Control", "max-age=3600"}}, {req: []string{"Pragma", "no-cache"}, want: "not_cached"}}},
	{name: "ccreq-no-store", steps: []step{{resp: []string{"Cache-Control", "max-age=3600"}}, {req: []string{"Cache-Control", "no-store"}, want: "not_cached"}}},
	{name: "ccreq-oic", steps: []step{{req: []string{"Cache-Control", "only-if-cached"}, want: "cached", wantStatus: 504}}},
	{name: "ccreq-oic-hit", steps: []step{{resp: fresh()}, {req: []string{"Cache-Control", "only-if-cached"}, want: "cached", wantStatus: 200}}},

	// Authorization.
	{name: "other-authorization", steps: []step{{req: []string{"Authorization", "FOO"}, resp: []string{"Expires", "$d2592000", "Date", "$d0"}}, {want: "not_cached"}}},
	{name: "other-authorization-public", steps: []step{{req: []string{"Authorization", "FOO"}, resp: []string{"Cache-Control", "max-age=3600, public"}}, {want: "cached"}}},
	{name: "other-authorization-s-maxage", steps: []step{{req: []string{"Authorization", "FOO"}, resp: []string{"Cache-Control", "s-maxage=3600"}}, {want: "cached"}}},

	// Set-Cookie.
	{name: "set-cookie-bypass", steps: []step{{resp: []string{"Cache-Control", "max-age=3600", "Set-Cookie", "a=b"}, wantHeaders: []string{"Set-Cookie", "a=b"}}, {want: "not_cached"}}},
	{name: "set-cookie-strip", opts: responsecache.Options{SetCookie: responsecache.SetCookieStrip}, steps: []step{
		{resp: []string{"Cache-Control", "max-age=3600", "Set-Cookie", "a=b"}, wantHeaders: []string{"Set-Cookie", "a=b"}},
		{want: "cached", wantMissing: []string{"Set-Cookie"}},
	}},

	// Vary.
	{name: "vary-match", steps: []step{{req: []string{"Foo", "1"}, resp: []string{"Cache-Control", "max-age=5000", "Vary", "Foo"}}, {req: []string{"Foo", "1"}, want: "cached"}}},
	{name: "vary-no-match", steps: []step{{req: []string{"Foo", "1"}, resp: []string{"Cache-Control", "max-age=5000", "Vary", "Foo"}}, {req: []string{"Foo", "2"}, want: "not_cached"}}},
	{name: "vary-omit", steps: []step{{req: []string{"Foo", "1"}, resp: []string{"Cache-Control", "max-age=5000", "Vary", "Foo"}}, {want: "not_cached"}}},
	{name: "vary-invalidate", steps: []step{
		{req: []string{"Foo", "1"}, resp: []string{"Cache-Control", "max-age=5000", "Vary", "Foo"}, body: "foo1"},
		{req: []string{"Foo", "2"}, resp: []string{"Cache-Control", "max-age=5000", "Vary", "Foo"}, body: "foo2", want: "not_cached"},
		{req: []string{"Foo", "1"}, want: "cached", wantBody: "foo1"},
		{req: []string{"Foo", "2"}, want: "cached", wantBody: "foo2"},
	}},
	{name: "vary-cache-key", steps: []step{{req: []string{"Foo", "1", "Other", "2"}, resp: []string{"Cache-Control", "max-age=5000", "Vary", "Foo"}}, {req: []string{"Foo", "1", "Other", "3"}, want: "cached"}}},
	{name: "vary-2-no-match", steps: []step{{req: []string{"Foo", "1", "Bar", "abc"}, resp: []string{"Cache-Control", "max-age=5000", "Vary", "Foo, Bar"}}, {req: []string{"Foo", "2", "Bar", "abc"}, want: "not_cached"}}},
	{name: "vary-3-omit", steps: []step{{req: []string{"Foo", "1", "Baz", "789"}, resp: []string{"Cache-Control", "max-age=5000", "Vary", "Foo, Bar, Baz"}}, {req: []string{"Foo", "1", "Baz", "789"}, want: "cached"}}},
	{name: "vary-star", steps: []step{{req: []string{"Foo", "1"}, resp: []string{"Cache-Control", "max-age=5000", "Vary", "*"}}, {req: []string{"Foo", "1"}, want: "not_cached"}}},
	{name: "vary-syntax-foo-star", steps: []step{{req: []string{"Foo", "1"}, resp: []string{"Cache-Control", "max-age=5000", "Vary", "Foo, *"}}, {req: []string{"Foo", "1"}, want: "not_cached"}}},
	{name: "vary-normalise-space", steps: []step{{req: []string{"Foo", "1,2"}, resp: []string{"Cache-Control", "max-age=5000", "Vary", "Foo"}}, {req: []string{"Foo", " 1, 2 "}, want: "cached"}}},
	{name: "vary-normalise-combine", steps: []step{{req: []string{"Foo", "1, 2"}, resp: []string{"Cache-Control", "max-age=5000", "Vary", "Foo"}}, {req: []string{"Foo", "1", "Foo", "2"}, want: "cached"}}},
	{name: "vary-accept-encoding-normalised", steps: []step{{req: []string{"Accept-Encoding", "gzip, deflate, br"}, resp: []string{"Cache-Control", "max-age=5000", "Vary", "Accept-Encoding"}}, {req: []string{"Accept-Encoding", "br;q=1.0, GZIP;q=0.8,deflate"}, want: "cached"}}},
	// A different set of codings may not share: the origin may have chosen
	// a coding (here by "*") that the other client cannot decode.
	{name: "vary-accept-encoding-other-set", steps: []step{{req: []string{"Accept-Encoding", "br, gzip, *;q=0.1"}, resp: []string{"Cache-Control", "max-age=5000", "Vary", "Accept-Encoding"}}, {req: []string{"Accept-Encoding", "gzip, deflate, br"}, want: "not_cached"}}},

	// Conditional requests.
	{name: "conditional-lm-fresh", steps: []step{{resp: []string{"Expires", "$d100000", "Last-Modified", "$d-3000", "Date", "$d0"}}, {req: []string{"If-Modified-Since", "$d-3000"}, want: "cached", wantStatus: 304}}},
	{name: "conditional-lm-fresh-earlier", steps: []step{{resp: []string{"Expires", "$d100000", "Last-Modified", "$d-3000", "Date", "$d0"}}, {req: []string{"If-Modified-Since", "$d-2000"}, want: "cached", wantStatus: 304}}},
	{name: "conditional-lm-fresh-later", steps: []step{{resp: []string{"Expires", "$d100000", "Last-Modified", "$d-3000", "Date", "$d0"}}, {req: []string{"If-Modified-Since", "$d-4000"}, want: "cached", wantStatus: 200}}},
	{name: "conditional-lm-stale", steps: []step{
		{resp: []string{"Expires", "$d-1", "Last-Modified", "$d-3000", "Date", "$d-2"}},
		{req: []string{"If-Modified-Since", "$d-3000"}, resp: []string{"Expires", "$d100", "Last-Modified", "$d-3000", "Date", "$d0"}, validate: true, want: "validated", wantStatus: 304},
	}},
	{name: "conditional-304-etag", steps: []step{{resp: []string{"Expires", "$d100000", "ETag", `"abcdef"`, "Date", "$d0"}}, {req: []string{"If-None-Match", `"abcdef"`}, want: "cached", wantStatus: 304, wantHeaders: []string{"ETag", `"abcdef"`, "Expires", "*", "Date", "*"}, wantMissing: []string{"Content-Length"}}}},
	{name: "conditional-etag-weak-respond", steps: []step{{resp: []string{"Expires", "$d100000", "ETag", `W/"abcdef"`, "Date", "$d0"}}, {req: []string{"If-None-Match", `W/"abcdef"`}, want: "cached", wantStatus: 304}}},
	{name: "conditional-etag-strong-respond-multiple-last", steps: []step{{resp: []string{"Expires", "$d100000", "ETag", `"abcdef"`, "Date", "$d0"}}, {req: []string{"If-None-Match", `"1234", "5678", "abcdef"`}, want: "cached", wantStatus: 304}}},
	{name: "conditional-etag-star", steps: []step{{resp: []string{"Expires", "$d100000", "ETag", `"abcdef"`, "Date", "$d0"}}, {req: []string{"If-None-Match", `*`}, want: "cached", wantStatus: 304}}},
	{name: "conditional-etag-no-match", steps: []step{{resp: []string{"Expires", "$d100000", "ETag", `"abcdef"`, "Date", "$d0"}}, {req: []string{"If-None-Match", `"zzz"`}, want: "cached", wantStatus: 200}}},
	{name: "conditional-etag-strong-generate-unquoted", steps: []step{
		{resp: []string{"Expires", "$d-1", "ETag", "abcdef", "Date", "$d-2"}},
		{resp: []string{"Expires", "$d100", "ETag", "abcdef", "Date", "$d0"}, validate: true, want: "validated", wantStatus: 200},
	}},

	// Updating stored headers from a 304.
	{name: "304-etag-update-stored", steps: []step{
		{resp: []string{"Cache-Control", "max-age=1", "Date", "$d0", "ETag", `"e1"`, "Test-Header", "A", "Age", "2"}},
		{resp: []string{"Cache-Control", "max-age=3600", "Date", "$d0", "ETag", `"e1"`, "Test-Header", "B"}, validate: true, want: "validated", wantHeaders: []string{"Test-Header", "B"}},
		{want: "cached", wantHeaders: []string{"Test-Header", "B", "Cache-Control", "max-age=3600"}, wantBody: defaultBody},
	}},
	{name: "304-lm-use-stored", steps: []step{
		// A fixed Last-Modified, as in cache-tests: "$d-86400" in both
		// steps could fall on either side of a second boundary.
		{resp: []string{"Cache-Control", "max-age=1", "Date", "$d0", "Last-Modified", lm1, "Test-Header", "A", "Age", "2"}},
		{resp: []string{"Cache-Control", "max-age=3600", "Date", "$d0", "Last-Modified", lm1}, validate: true, want: "validated", wantHeaders: []string{"Test-Header", "A"}},
	}},
	{name: "304-no-validator-updates", steps: []step{
		{resp: []string{"Cache-Control", "max-age=1", "Date", "$d0", "ETag", `"e1"`, "Test-Header", "A", "Age", "2"}, body: "old"},
		{resp: []string{"Cache-Control", "max-age=3600", "Date", "$d0", "Test-Header", "B"}, validate: true, want: "validated", wantHeaders: []string{"Test-Header", "B", "ETag", `"e1"`}, wantBody: "old"},
	}},
	{name: "304-weak-etag-updates", steps: []step{
		{resp: []string{"Cache-Control", "max-age=1", "Date", "$d0", "ETag", `"e1"`, "Test-Header", "A", "Age", "2"}, body: "old"},
		{resp: []string{"Cache-Control", "max-age=3600", "Date", "$d0", "ETag", `W/"e1"`, "Test-Header", "B"}, validate: true, want: "validated", wantHeaders: []string{"Test-Header", "B"}, wantBody: "old"},
	}},
	// A 304 whose strong validator the stored response does not have
	// cannot update it (RFC 9111 section 4.3.4): the request goes to the
	// origin again, unconditionally, and the new response is stored.
	{name: "304-etag-update-response-ETag", steps: []step{
		{resp: []string{"Cache-Control", "max-age=1", "Date", "$d0", "ETag", `"abcdef"`, "Age", "2"}, body: "old"},
		{resp: []string{"Cache-Control", "max-age=3600", "Date", "$d0", "ETag", `"ghijkl"`}, body: "new", validate: true, want: "not_cached", wantStatus: 200, wantHeaders: []string{"ETag", `"ghijkl"`}, wantBody: "new"},
		{want: "cached", wantHeaders: []string{"ETag", `"ghijkl"`}, wantBody: "new"},
	}},
	{name: "304-etag-mismatch-strong-vs-stored-weak", steps: []step{
		{resp: []string{"Cache-Control", "max-age=1", "Date", "$d0", "ETag", `W/"abcdef"`, "Age", "2"}, body: "old"},
		{resp: []string{"Cache-Control", "max-age=3600", "Date", "$d0", "ETag", `"abcdef"`}, body: "new", validate: true, want: "not_cached", wantStatus: 200, wantBody: "new"},
	}},
	{name: "304-etag-mismatch-client-conditional", steps: []step{
		{resp: []string{"Cache-Control", "max-age=1", "Date", "$d0", "ETag", `"abcdef"`, "Age", "2"}, body: "old"},
		// The client's own validator goes to the origin, whose 304 is the
		// client's answer; nothing is stored from it.
		{req: []string{"If-None-Match", `"ghijkl"`}, resp: []string{"Cache-Control", "max-age=3600", "Date", "$d0", "ETag", `"ghijkl"`}, validate: true, want: "validated", wantStatus: 304, wantHeaders: []string{"ETag", `"ghijkl"`}},
		{resp: []string{"Cache-Control", "max-age=3600", "Date", "$d0", "ETag", `"ghijkl"`}, body: "new", want: "not_cached", wantBody: "new"},
	}},
	{name: "304-lm-mismatch", steps: []step{
		{resp: []string{"Cache-Control", "max-age=1", "Date", "$d0", "Last-Modified", lm1, "Age", "2"}, body: "old"},
		{resp: []string{"Cache-Control", "max-age=3600", "Date", "$d0", "Last-Modified", "Thu, 02 Jan 2020 00:00:00 GMT"}, body: "new", validate: true, want: "not_cached", wantStatus: 200, wantBody: "new"},
		{want: "cached", wantBody: "new"},
	}},

	// Invalidation.
	{name: "invalidate-POST", steps: []step{{resp: fresh()}, {method: "POST"}, {want: "not_cached"}}},
	{name: "invalidate-M-SEARCH", steps: []step{{resp: fresh()}, {method: "M-SEARCH"}, {want: "not_cached"}}},
	{name: "invalidate-POST-failed", steps: []step{{resp: fresh()}, {method: "POST", status: 500}, {want: "cached"}}},
	{name: "invalidate-DELETE", steps: []step{{resp: fresh()}, {method: "DELETE"}, {want: "not_cached"}}},
	{name: "invalidate-vary-variants", steps: []step{
		{req: []string{"Foo", "1"}, resp: []string{"Cache-Control", "max-age=5000", "Vary", "Foo"}},
		{method: "PUT"},
		{req: []string{"Foo", "1"}, resp: []string{"Cache-Control", "max-age=5000", "Vary", "Foo"}, want: "not_cached"},
	}},

	// Stale serving.
	{name: "stale-if-error-cc-response", steps: []step{{resp: []string{"Cache-Control", "max-age=0, stale-if-error=3600"}}, {status: 500, want: "not_cached", wantStatus: 200, wantBody: defaultBody}}},
	{name: "stale-if-error-cc-response-expired", steps: []step{{resp: []string{"Cache-Control", "max-age=0, stale-if-error=1", "Age", "5"}}, {status: 500, want: "not_cached", wantStatus: 500}}},
	{name: "stale-if-error-cc-request", steps: []step{{resp: []string{"Cache-Control", "max-age=0", "ETag", `"x"`}}, {req: []string{"Cache-Control", "stale-if-error=3600"}, status: 500, want: "not_cached", wantStatus: 200}}},
	{name: "stale-if-error-must-revalidate", steps: []step{{resp: []string{"Cache-Control", "max-age=0, stale-if-error=3600, must-revalidate"}}, {status: 500, want: "not_cached", wantStatus: 500}}},

	// Ranges served from a stored complete response.
	{name: "partial-store-complete-reuse-partial", steps: []step{{resp: []string{"Cache-Control", "max-age=3600"}, body: "01234567890"}, {req: []string{"Range", "bytes=0-1"}, want: "cached", wantStatus: 206, wantBody: "01", wantHeaders: []string{"Content-Range", "bytes 0-1/11"}}}},
	{name: "partial-store-complete-reuse-partial-no-last", steps: []step{{resp: []string{"Cache-Control", "max-age=3600"}, body: "01234567890"}, {req: []string{"Range", "bytes=1-"}, want: "cached", wantStatus: 206, wantBody: "1234567890"}}},
	{name: "partial-store-complete-reuse-partial-suffix", steps: []step{{resp: []string{"Cache-Control", "max-age=3600"}, body: "0123456789A"}, {req: []string{"Range", "bytes=-1"}, want: "cached", wantStatus: 206, wantBody: "A"}}},
	{name: "partial-multiple-ranges-served-whole", steps: []step{{resp: []string{"Cache-Control", "max-age=3600"}, body: "0123456789A"}, {req: []string{"Range", "bytes=0-1,3-4"}, want: "cached", wantStatus: 200, wantBody: "0123456789A"}}},

	// CDN-Cache-Control (RFC 9213).
	{name: "cdn-max-age", steps: []step{{resp: []string{"CDN-Cache-Control", "max-age=3600"}}, {want: "cached"}}},
	{name: "cdn-max-age-age", steps: []step{{resp: []string{"Date", "$d0", "CDN-Cache-Control", "max-age=3600", "Age", "7200"}}, {want: "not_cached"}}},
	{name: "cdn-max-age-0-expires", steps: []step{{resp: []string{"CDN-Cache-Control", "max-age=0", "Expires", "$d10000", "Date", "$d0"}}, {want: "not_cached"}}},
	{name: "cdn-max-age-expires", steps: []step{{resp: []string{"CDN-Cache-Control", "max-age=3600", "Expires", "$d-10000", "Date", "$d0"}}, {want: "cached"}}},
	{name: "cdn-max-age-long-cc-max-age", steps: []step{{resp: []string{"Cache-Control", "max-age=3600", "CDN-Cache-Control", "max-age=1", "Age", "2"}}, {want: "not_cached"}}},
	{name: "cdn-max-age-short-cc-max-age", steps: []step{{resp: []string{"Cache-Control", "max-age=1", "CDN-Cache-Control", "max-age=3600", "Age", "2"}}, {want: "cached"}}},
	{name: "cdn-private", steps: []step{{resp: []string{"CDN-Cache-Control", "private", "Cache-Control", "max-age=10000"}}, {want: "not_cached"}}},
	{name: "cdn-no-cache", steps: []step{{resp: []string{"CDN-Cache-Control", "no-cache", "Cache-Control", "max-age=10000"}}, {want: "not_cached"}}},
	{name: "cdn-no-store-cc-fresh", steps: []step{{resp: []string{"Cache-Control", "max-age=10000", "CDN-Cache-Control", "no-store"}}, {want: "not_cached"}}},
	{name: "cdn-fresh-cc-nostore", steps: []step{{resp: []string{"Cache-Control", "no-store", "CDN-Cache-Control", "max-age=10000"}}, {want: "cached", wantHeaders: []string{"CDN-Cache-Control", "max-age=10000"}}}},
	{name: "cdn-must-understand-599", steps: []step{{status: 599, resp: []string{"CDN-Cache-Control", "max-age=3600, must-understand"}}, {status: 599, want: "not_cached", wantStatus: 599}}},
	{name: "cdn-must-understand-no-store", steps: []step{{resp: []string{"CDN-Cache-Control", "max-age=3600, no-store, must-understand"}}, {want: "cached"}}},
	{name: "cdn-cc-invalid-sh-type-unknown", steps: []step{{resp: []string{"CDN-Cache-Control", "max-age=10000, &&&&&", "Cache-Control", "no-store"}}, {want: "not_cached"}}},
	{name: "cdn-cc-invalid-sh-type-wrong", steps: []step{{resp: []string{"CDN-Cache-Control", `max-age="10000"`, "Cache-Control", "no-store"}}, {want: "not_cached"}}},

	// Surrogate-Control.
	{name: "surrogate-max-age", steps: []step{{resp: []string{"Surrogate-Control", "max-age=3600"}}, {want: "cached"}}},
	{name: "surrogate-max-age-space-before-equals", steps: []step{{resp: []string{"Cache-Control", "max-age=1", "Surrogate-Control", "max-age =100", "Age", "2"}}, {want: "not_cached"}}},
	{name: "surrogate-max-age-long-cc-max-age", steps: []step{{resp: []string{"Cache-Control", "max-age=3600", "Surrogate-Control", "max-age=1", "Age", "2"}}, {want: "not_cached"}}},
	{name: "surrogate-no-store-cc-fresh", steps: []step{{resp: []string{"Cache-Control", "max-age=10000", "Surrogate-Control", "no-store"}}, {want: "not_cached"}}},
	{name: "surrogate-max-age-expires", steps: []step{{resp: []string{"Surrogate-Control", "max-age=3600", "Expires", "$d-10000", "Date", "$d0"}}, {want: "cached"}}},

	// Methods.
	{name: "method-POST", steps: []step{{method: "POST", resp: []string{"Expires", "$d2592000", "Content-Location", "/method-POST", "Date", "$d0"}}, {want: "cached"}}},
	{name: "method-POST-other-content-location", steps: []step{{method: "POST", resp: []string{"Expires", "$d2592000", "Content-Location", "/elsewhere", "Date", "$d0"}}, {want: "not_cached"}}},
	{name: "head-from-get", steps: []step{{resp: fresh()}, {method: "HEAD", want: "cached", wantStatus: 200, wantHeaders: []string{"Content-Length", "4"}}}},
	{name: "query-args-same", steps: []step{{resp: fresh()}, {want: "cached", wantHeaders: []string{"Cache-Status", "*"}}}},
}

func TestConformance(t *testing.T) {
	for _, tc := range conformance {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			runCase(t, tc)
		})
	}
}
