package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/textproto"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// suiteOrigin mimics the origin server of the http-tests/cache-tests
// suite: each test has a list of scripted responses chosen by the client's
// Req-Num header; it reports its own request count in Server-Request-Count,
// answers 304 to a conditional request only when a validated response was
// expected and the validator matches the previous response's exactly (999
// otherwise), and can drop the connection.
type suiteOrigin struct {
	mu    sync.Mutex
	tests map[string][]originStep
	seen  map[string][]http.Header // request headers per test, in order
	nums  map[string][]int
}

type originStep struct {
	status     int
	headers    [][2]string // "Date"-like values "@N" are now+N seconds
	validated  bool
	disconnect bool
	body       string
}

func newSuiteOrigin() *suiteOrigin {
	return &suiteOrigin{tests: map[string][]originStep{}, seen: map[string][]http.Header{}, nums: map[string][]int{}}
}

func fixDate(v string, now time.Time) string {
	if rest, ok := strings.CutPrefix(v, "@"); ok {
		n, _ := strconv.Atoi(rest)
		return now.Add(time.Duration(n) * time.Second).UTC().Format(http.TimeFormat)
	}
	return v
}

func (o *suiteOrigin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	id := strings.TrimPrefix(r.URL.Path, "/test/")
	id, _, _ = strings.Cut(id, "/")
	num, _ := strconv.Atoi(r.Header.Get("Req-Num"))
	o.mu.Lock()
	steps := o.tests[id]
	o.seen[id] = append(o.seen[id], r.Header.Clone())
	o.nums[id] = append(o.nums[id], num)
	srvNum := len(o.seen[id])
	nums := append([]int(nil), o.nums[id]...)
	o.mu.Unlock()
	if num < 1 || num > len(steps) {
		http.Error(w, "no config", http.StatusConflict)
		return
	}
	st := steps[num-1]
	now := time.Now()
	status := st.status
	if status == 0 {
		status = 200
	}
	if st.validated {
		status = 999
		prev := steps[num-2]
		for _, h := range prev.headers {
			v := fixDate(h[1], now)
			if strings.EqualFold(h[0], "ETag") && r.Header.Get("If-None-Match") == v {
				status = 304
			}
			if strings.EqualFold(h[0], "Last-Modified") && r.Header.Get("If-Modified-Since") == v {
				status = 304
			}
		}
	}
	hdr := w.Header()
	hdr.Set("Server-Base-Url", r.URL.RequestURI())
	hdr.Set("Server-Request-Count", strconv.Itoa(srvNum))
	for _, h := range st.headers {
		v := fixDate(h[1], now)
		if h[0] == "Location" || h[0] == "Content-Location" {
			v = r.URL.Path + "/" + v
		}
		hdr.Add(h[0], v)
	}
	if hdr.Get("Content-Type") == "" {
		hdr.Set("Content-Type", "text/plain")
	}
	var ns []string
	for _, n := range nums {
		ns = append(ns, strconv.Itoa(n))
	}
	hdr.Set("Request-Numbers", strings.Join(ns, " "))
	if st.disconnect {
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			conn.Close()
		}
		return
	}
	body := st.body
	if body == "" {
		body = id
	}
	if status == 204 || status == 304 {
		w.WriteHeader(status)
		return
	}
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

type clientStep struct {
	method     string
	header     [][2]string
	want       string // cached, not_cached, etag_validated, lm_validated
	wantStatus int
	wantHeader [][2]string
	// wantAge, when not "", is the Age the response must carry: that many
	// seconds, plus at most the whole seconds the case has run so far (the
	// Date is fixed at the start with one-second resolution).
	wantAge string
	// waitHeader, when set, makes the step first poll until a GET answers
	// with that header value (say, after a background refresh), up to 5s.
	// The polling requests are served by the cache, not the origin.
	waitHeader [2]string
	pause      time.Duration
}

type suiteCase struct {
	name   string
	origin []originStep
	client []clientStep
}

func runSuiteCase(t *testing.T, proxyURL string, o *suiteOrigin, tc suiteCase) {
	id := strings.ReplaceAll(tc.name, " ", "-") + "-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	// Dates are fixed once, as the suite's server does, so that a
	// validator compares equal across requests.
	now := time.Now()
	steps := make([]originStep, len(tc.origin))
	for i, st := range tc.origin {
		st.headers = append([][2]string(nil), st.headers...)
		for j := range st.headers {
			st.headers[j][1] = fixDate(st.headers[j][1], now)
		}
		steps[i] = st
	}
	o.mu.Lock()
	o.tests[id] = steps
	o.mu.Unlock()
	for i, cs := range tc.client {
		if cs.waitHeader[0] != "" {
			waitForHeader(t, proxyURL+"/test/"+id, cs.waitHeader)
		}
		method := cs.method
		if method == "" {
			method = http.MethodGet
		}
		var body io.Reader
		if method == http.MethodPost || method == http.MethodPut {
			body = strings.NewReader("abc")
		}
		req, _ := http.NewRequest(method, proxyURL+"/test/"+id, body)
		req.Header.Set("Pragma", "foo")
		req.Header.Set("Cache-Control", "nothing-to-see-here")
		for _, h := range cs.header {
			req.Header.Add(h[0], fixDate(h[1], now))
		}
		req.Header.Set("Req-Num", strconv.Itoa(i+1))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("request %d: %v", i+1, err)
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		resNum, numErr := strconv.Atoi(resp.Header.Get("Server-Request-Count"))
		desc := fmt.Sprintf("request %d: %d %v %q", i+1, resp.StatusCode, resp.Header, got)
		if rn := resp.Header.Get("Request-Numbers"); rn != "" {
			seen := map[string]bool{}
			for _, n := range strings.Fields(rn) {
				if seen[n] {
					t.Fatalf("%s: the proxy retried a request (%s)", desc, rn)
				}
				seen[n] = true
			}
		}
		switch cs.want {
		case "cached":
			if !(resp.StatusCode == 304 && numErr != nil) && !(resNum < i+1) {
				t.Fatalf("%s: want cached", desc)
			}
		case "not_cached", "etag_validated", "lm_validated":
			if resNum != i+1 {
				t.Fatalf("%s: want from the origin", desc)
			}
		}
		if cs.want == "etag_validated" || cs.want == "lm_validated" {
			o.mu.Lock()
			h := o.seen[id][len(o.seen[id])-1]
			o.mu.Unlock()
			v := "If-None-Match"
			if cs.want == "lm_validated" {
				v = "If-Modified-Since"
			}
			if h.Get(v) == "" {
				t.Fatalf("%s: origin request lacks %s", desc, v)
			}
		}
		want := cs.wantStatus
		if want == 0 {
			want = 200
		}
		if resp.StatusCode != want {
			t.Fatalf("%s: want status %d", desc, want)
		}
		for _, h := range cs.wantHeader {
			if g := resp.Header.Get(h[0]); g != fixDate(h[1], time.Now()) && !(h[1] == "*" && g != "") {
				t.Fatalf("%s: header %s = %q, want %q", desc, h[0], g, h[1])
			}
		}
		if cs.wantAge != "" {
			want, _ := strconv.Atoi(cs.wantAge)
			slack := int(time.Since(now)/time.Second) + 1
			got, err := strconv.Atoi(resp.Header.Get("Age"))
			if err != nil || got < want || got > want+slack {
				t.Fatalf("%s: Age = %q, want %d to %d", desc, resp.Header.Get("Age"), want, want+slack)
			}
		}
		if cs.pause > 0 {
			time.Sleep(cs.pause)
		}
	}
}

func waitForHeader(t *testing.T, u string, want [2]string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		resp, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.Header.Get(want[0]) == want[1] {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s still %q after 5s, want %q", want[0], resp.Header.Get(want[0]), want[1])
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestProxy_cacheTestsStyle(t *testing.T) {
	t.Run("no-local-tier", func(t *testing.T) {
		testCacheTestsStyle(t, func(upstream string) config {
			return config{upstream: upstream, name: "rediware", heuristic: true, setCookie: "strip", maxObject: 1 << 20}
		})
	})
	// What the command runs without flags: the in-process tier and
	// automatic pipelining on.
	t.Run("flag-defaults", func(t *testing.T) {
		testCacheTestsStyle(t, func(upstream string) config {
			cfg, err := parseFlags([]string{"-upstream", upstream})
			if err != nil {
				t.Fatal(err)
			}
			if cfg.localBytes == 0 || !cfg.autoPipeline {
				t.Fatalf("flag defaults changed: %+v", cfg)
			}
			return cfg
		})
	})
}

func testCacheTestsStyle(t *testing.T, cfgFor func(upstream string) config) {
	o := newSuiteOrigin()
	up := httptest.NewServer(o)
	t.Cleanup(up.Close)
	h, closeFn, err := newProxy(cfgFor(up.URL))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(closeFn)
	px := httptest.NewServer(h)
	t.Cleanup(px.Close)

	cases := []suiteCase{
		{name: "freshness-max-age", origin: []originStep{{headers: [][2]string{{"Cache-Control", "max-age=3600"}}}, {}},
			client: []clientStep{{}, {want: "cached", wantHeader: [][2]string{{"Age", "*"}, {"Cache-Status", "*"}}}}},
		{name: "other-age-update-max-age", origin: []originStep{{headers: [][2]string{{"Cache-Control", "max-age=600"}, {"Date", "@0"}, {"Age", "30"}}}, {}},
			client: []clientStep{{}, {want: "cached", wantAge: "30"}}},
		{name: "heuristic-200-cached", origin: []originStep{{headers: [][2]string{{"Last-Modified", "@-86400"}, {"Date", "@0"}}}, {}},
			client: []clientStep{{}, {want: "cached"}}},
		{name: "heuristic-201-not-cached", origin: []originStep{{status: 201, headers: [][2]string{{"Last-Modified", "@-86400"}, {"Date", "@0"}}}, {status: 201}},
			client: []clientStep{{wantStatus: 201}, {want: "not_cached", wantStatus: 201}}},
		{name: "cc-resp-must-revalidate-stale", origin: []originStep{
			{headers: [][2]string{{"Cache-Control", "max-age=2, must-revalidate"}, {"ETag", `"abcd"`}, {"Age", "3"}}},
			{headers: [][2]string{{"Cache-Control", "max-age=2, must-revalidate"}, {"ETag", `"abcd"`}}, validated: true}},
			client: []clientStep{{}, {want: "etag_validated"}}},
		{name: "304-lm-update-stored", origin: []originStep{
			// A fixed Last-Modified, as cache-tests uses: two "@-86400"
			// computed a second apart would differ, and a 304 whose
			// validator differs from the stored one must not update it.
			{headers: [][2]string{{"Cache-Control", "max-age=1"}, {"Date", "@0"}, {"Last-Modified", "Tue, 15 Nov 1994 12:45:26 GMT"}, {"Test-Header", "A"}, {"Age", "2"}}},
			{headers: [][2]string{{"Cache-Control", "max-age=3600"}, {"Date", "@0"}, {"Last-Modified", "Tue, 15 Nov 1994 12:45:26 GMT"}, {"Test-Header", "B"}}, validated: true},
			{}},
			client: []clientStep{{}, {want: "lm_validated", wantHeader: [][2]string{{"Test-Header", "B"}}}, {want: "cached", wantHeader: [][2]string{{"Test-Header", "B"}}}}},
		{name: "304-etag-update-response-Set-Cookie", origin: []originStep{
			{headers: [][2]string{{"Cache-Control", "max-age=1"}, {"Date", "@0"}, {"ETag", `"e"`}, {"Set-Cookie", "a=b"}, {"Age", "2"}}},
			{headers: [][2]string{{"Cache-Control", "max-age=3600"}, {"Date", "@0"}, {"ETag", `"e"`}, {"Set-Cookie", "a=c"}}, validated: true}},
			client: []clientStep{{wantHeader: [][2]string{{"Set-Cookie", "a=b"}}}, {want: "etag_validated", wantHeader: [][2]string{{"Set-Cookie", "a=c"}}}}},
		{name: "conditional-lm-stale", origin: []originStep{
			{headers: [][2]string{{"Expires", "@-1"}, {"Last-Modified", "@-3000"}, {"Date", "@-2"}}},
			{headers: [][2]string{{"Expires", "@100"}, {"Last-Modified", "@-3000"}, {"Date", "@0"}}, validated: true}},
			client: []clientStep{{}, {header: [][2]string{{"If-Modified-Since", "@-3000"}}, want: "lm_validated", wantStatus: 304}}},
		{name: "vary-match", origin: []originStep{{headers: [][2]string{{"Cache-Control", "max-age=5000"}, {"Vary", "Foo"}}}, {}},
			client: []clientStep{{header: [][2]string{{"Foo", "1"}}}, {header: [][2]string{{"Foo", "1"}}, want: "cached"}}},
		{name: "vary-no-match", origin: []originStep{{headers: [][2]string{{"Cache-Control", "max-age=5000"}, {"Vary", "Foo"}}}, {}},
			client: []clientStep{{header: [][2]string{{"Foo", "1"}}}, {header: [][2]string{{"Foo", "2"}}, want: "not_cached"}}},
		{name: "invalidate-POST-location", origin: []originStep{
			{headers: [][2]string{{"Cache-Control", "max-age=3600"}}},
			{headers: [][2]string{{"Location", ""}}},
			{}},
			client: []clientStep{{}, {method: http.MethodPost}, {want: "not_cached"}}},
		{name: "ccreq-oic", origin: []originStep{{}},
			client: []clientStep{{header: [][2]string{{"Cache-Control", "only-if-cached"}}, wantStatus: 504}}},
		{name: "stale-close", origin: []originStep{
			{headers: [][2]string{{"Cache-Control", "max-age=2"}, {"Age", "3"}}},
			{disconnect: true}},
			client: []clientStep{{}, {want: "cached"}}},
		{name: "stale-close-must-revalidate", origin: []originStep{
			{headers: [][2]string{{"Cache-Control", "max-age=2, must-revalidate"}, {"Age", "3"}}},
			{disconnect: true}},
			client: []clientStep{{}, {wantStatus: 502}}},
		{name: "stale-while-revalidate", origin: []originStep{
			{headers: [][2]string{{"Cache-Control", "max-age=0, stale-while-revalidate=3600"}, {"ETag", `"abc"`}}},
			{headers: [][2]string{{"Cache-Control", "max-age=3600"}, {"ETag", `"def"`}}},
			{}},
			client: []clientStep{{}, {wantHeader: [][2]string{{"ETag", `"abc"`}}}, {waitHeader: [2]string{"ETag", `"def"`}, want: "cached", wantHeader: [][2]string{{"ETag", `"def"`}, {"Cache-Control", "max-age=3600"}}}}},
		{name: "range-from-stored", origin: []originStep{{headers: [][2]string{{"Cache-Control", "max-age=3600"}}, body: "01234567890"}, {}},
			client: []clientStep{{}, {header: [][2]string{{"Range", "bytes=-1"}}, want: "cached", wantStatus: 206}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			runSuiteCase(t, px.URL, o, tc)
		})
	}
}

func TestParseFlags_requires_upstream(t *testing.T) {
	if _, err := parseFlags(nil); err == nil {
		t.Fatal("want an error without -upstream")
	}
	if _, _, err := newProxy(config{upstream: "ftp://x", setCookie: "strip"}); err == nil {
		t.Fatal("want an error for a non-http upstream")
	}
	if _, _, err := newProxy(config{upstream: "http://x", setCookie: "eat"}); err == nil {
		t.Fatal("want an error for a bad -set-cookie")
	}
}

func TestParseFlags_runtime_and_pipelining_defaults(t *testing.T) {
	t.Setenv("GOGC", "")
	cfg, err := parseFlags([]string{"-upstream", "http://x"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.readHeaderTimeout != 10*time.Second || cfg.idleTimeout != 2*time.Minute {
		t.Fatalf("server timeouts: read header %v, idle %v", cfg.readHeaderTimeout, cfg.idleTimeout)
	}
	if cfg.gcPercent != defaultGCPercent || cfg.memoryLimit != 0 || cfg.procs != 0 || !cfg.autoPipeline {
		t.Fatalf("defaults: gc-percent %d, memory-limit %d, procs %d, autopipeline %v", cfg.gcPercent, cfg.memoryLimit, cfg.procs, cfg.autoPipeline)
	}
	t.Setenv("GOGC", "50")
	if cfg, _ := parseFlags([]string{"-upstream", "http://x"}); cfg.gcPercent != 0 {
		t.Fatalf("with GOGC set, gc-percent = %d, want 0 (keep the environment's)", cfg.gcPercent)
	}
	for _, bad := range [][]string{{"-procs", "-1"}, {"-memory-limit", "-5"}, {"-gc-percent", "-2"}} {
		if _, err := parseFlags(append([]string{"-upstream", "http://x"}, bad...)); err == nil {
			t.Errorf("%v: want an error", bad)
		}
	}
}

func TestProxy_passes_103_Early_Hints_and_caches_the_final_response(t *testing.T) {
	var calls int
	var mu sync.Mutex
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		calls++
		mu.Unlock()
		w.Header().Set("Link", "</styles.css>; rel=preload; as=style")
		w.WriteHeader(http.StatusEarlyHints)
		w.Header().Del("Link") // Go's server keeps 1xx fields for the final response
		w.Header().Set("Cache-Control", "max-age=100000")
		io.WriteString(w, "final")
	}))
	t.Cleanup(up.Close)
	h, closeFn, err := newProxy(config{upstream: up.URL, name: "rediware", heuristic: true, setCookie: "strip", maxObject: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(closeFn)
	px := httptest.NewServer(h)
	t.Cleanup(px.Close)

	var hints []string
	trace := &httptrace.ClientTrace{Got1xxResponse: func(code int, header textproto.MIMEHeader) error {
		hints = append(hints, fmt.Sprint(code, " ", header.Get("Link")))
		return nil
	}}
	req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), "GET", px.URL+"/page", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if len(hints) != 1 || hints[0] != "103 </styles.css>; rel=preload; as=style" {
		t.Fatalf("interim responses: %q", hints)
	}
	if resp.Header.Get("Link") != "" {
		t.Fatalf("the 103's Link leaked into the final response")
	}
	resp, err = http.Get(px.URL + "/page")
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if calls != 1 {
		t.Fatalf("final response not cached: origin asked %d times", calls)
	}
}

func TestProxy_default_Set_Cookie_policy_strips_the_cookie_from_the_stored_copy(t *testing.T) {
	var calls int
	var mu sync.Mutex
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		calls++
		mu.Unlock()
		w.Header().Set("Cache-Control", "max-age=600")
		w.Header().Set("Set-Cookie", "session=alice")
		io.WriteString(w, "page")
	}))
	t.Cleanup(up.Close)
	cfg, err := parseFlags([]string{"-upstream", up.URL})
	if err != nil {
		t.Fatal(err)
	}
	h, closeFn, err := newProxy(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(closeFn)
	px := httptest.NewServer(h)
	t.Cleanup(px.Close)
	get := func() *http.Response {
		t.Helper()
		resp, err := http.Get(px.URL + "/login")
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	if first := get(); first.Header.Get("Set-Cookie") != "session=alice" {
		t.Fatalf("the client that caused the fetch lost its cookie: %q", first.Header.Get("Set-Cookie"))
	}
	second := get()
	mu.Lock()
	n := calls
	mu.Unlock()
	if n != 1 || !strings.Contains(second.Header.Get("Cache-Status"), "hit") {
		t.Fatalf("response not stored under the default policy: origin asked %d times, Cache-Status %q", n, second.Header.Get("Cache-Status"))
	}
	if sc := second.Header.Values("Set-Cookie"); len(sc) != 0 {
		t.Fatalf("another client was handed the stored cookie: %q", sc)
	}
}

func TestProxy_replaces_client_forwarded_fields_and_keys_the_rest(t *testing.T) {
	var mu sync.Mutex
	var seen []http.Header
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Header.Clone())
		mu.Unlock()
		w.Header().Set("Cache-Control", "max-age=600")
		io.WriteString(w, "prefix="+r.Header.Get("X-Forwarded-Prefix"))
	}))
	t.Cleanup(up.Close)
	cfg, err := parseFlags([]string{"-upstream", up.URL})
	if err != nil {
		t.Fatal(err)
	}
	h, closeFn, err := newProxy(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(closeFn)
	px := httptest.NewServer(h)
	t.Cleanup(px.Close)
	get := func(kv ...string) string {
		t.Helper()
		req, _ := http.NewRequest("GET", px.URL+"/fwd", nil)
		for i := 0; i+1 < len(kv); i += 2 {
			req.Header.Set(kv[i], kv[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return string(b)
	}
	get("X-Forwarded-Host", "evil.example", "X-Forwarded-Proto", "https", "X-Forwarded-Prefix", "/evil")
	mu.Lock()
	first := seen[0]
	mu.Unlock()
	if got := first.Get("X-Forwarded-Host"); got != strings.TrimPrefix(px.URL, "http://") {
		t.Errorf("origin saw X-Forwarded-Host %q, want the proxy's own", got)
	}
	if got := first.Get("X-Forwarded-Proto"); got != "http" {
		t.Errorf("origin saw X-Forwarded-Proto %q, want http", got)
	}
	if got := get(); got != "prefix=" {
		t.Fatalf("a later client was served the attacker's entry: %q", got)
	}
}
