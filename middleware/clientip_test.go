package middleware_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/rediware/rediware/middleware"
)

func mustProxies(t testing.TB, s string) []netip.Prefix {
	t.Helper()
	p, err := middleware.ParseTrustedProxies(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func request(remote string, header http.Header) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.RemoteAddr = remote
	if header != nil {
		r.Header = header
	}
	return r
}

type clientIPCase struct {
	name    string
	cfg     *middleware.ClientIP
	remote  string
	header  http.Header
	want    string // Addr().String(), "invalid IP" for the zero Addr
	wantKey string
}

func runClientIPCases(t *testing.T, cases []clientIPCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := request(tc.remote, tc.header)
			if got := tc.cfg.Addr(r).String(); got != tc.want {
				t.Errorf("Addr = %s, want %s", got, tc.want)
			}
			if tc.wantKey != "" {
				if got := tc.cfg.Key(r); got != tc.wantKey {
					t.Errorf("Key = %s, want %s", got, tc.wantKey)
				}
				if got := string(tc.cfg.AppendKey([]byte("rl:"), r)); got != "rl:"+tc.wantKey {
					t.Errorf("AppendKey = %s, want rl:%s", got, tc.wantKey)
				}
			}
		})
	}
}

func TestClientIP_untrusted_peer_ignores_headers(t *testing.T) {
	proxy := &middleware.ClientIP{TrustedProxies: mustProxies(t, "10.0.0.0/8")}
	spoof := http.Header{
		"X-Forwarded-For": {"1.1.1.1"},
		"Forwarded":       {"for=1.1.1.1"},
		"X-Real-Ip":       {"1.1.1.1"},
	}
	runClientIPCases(t, []clientIPCase{
		{name: "nil config", cfg: nil, remote: "203.0.113.9:1234", header: spoof, want: "203.0.113.9", wantKey: "203.0.113.9"},
		{name: "zero config", cfg: &middleware.ClientIP{}, remote: "203.0.113.9:1234", header: spoof, want: "203.0.113.9"},
		{name: "peer outside trusted prefixes XFF", cfg: proxy, remote: "203.0.113.9:1234", header: spoof, want: "203.0.113.9"},
		{name: "peer outside trusted prefixes Forwarded", cfg: &middleware.ClientIP{TrustedProxies: proxy.TrustedProxies, Header: "Forwarded"},
			remote: "203.0.113.9:1234", header: spoof, want: "203.0.113.9"},
		{name: "peer outside trusted prefixes X-Real-IP", cfg: &middleware.ClientIP{TrustedProxies: proxy.TrustedProxies, Header: "X-Real-IP"},
			remote: "203.0.113.9:1234", header: spoof, want: "203.0.113.9"},
	})
}

func TestClientIP_X_Forwarded_For(t *testing.T) {
	cfg := &middleware.ClientIP{TrustedProxies: mustProxies(t, "10.0.0.0/8, 192.168.1.1, fd00::/8")}
	runClientIPCases(t, []clientIPCase{
		{name: "single hop", cfg: cfg, remote: "10.0.0.1:5000",
			header: http.Header{"X-Forwarded-For": {"198.51.100.7"}}, want: "198.51.100.7", wantKey: "198.51.100.7"},
		{name: "client spoofs left of proxy entry", cfg: cfg, remote: "10.0.0.1:5000",
			header: http.Header{"X-Forwarded-For": {"1.1.1.1, 198.51.100.7"}}, want: "198.51.100.7"},
		{name: "multiple trusted hops skipped", cfg: cfg, remote: "10.0.0.1:5000",
			header: http.Header{"X-Forwarded-For": {"6.6.6.6, 198.51.100.7, 192.168.1.1, 10.2.3.4"}}, want: "198.51.100.7"},
		{name: "all trusted takes leftmost", cfg: cfg, remote: "10.0.0.1:5000",
			header: http.Header{"X-Forwarded-For": {"10.9.9.9, 192.168.1.1"}}, want: "10.9.9.9"},
		{name: "no header uses peer", cfg: cfg, remote: "10.0.0.1:5000", want: "10.0.0.1"},
		{name: "multiple header lines joined in order", cfg: cfg, remote: "10.0.0.1:5000",
			header: http.Header{"X-Forwarded-For": {"6.6.6.6, 198.51.100.7", "10.1.1.1", "10.2.2.2"}}, want: "198.51.100.7"},
		{name: "garbage rightmost stops at peer", cfg: cfg, remote: "10.0.0.1:5000",
			header: http.Header{"X-Forwarded-For": {"198.51.100.7, not-an-ip"}}, want: "10.0.0.1"},
		{name: "garbage mid chain stops at last trusted hop", cfg: cfg, remote: "10.0.0.1:5000",
			header: http.Header{"X-Forwarded-For": {"198.51.100.7, 1.2.3, 10.5.5.5"}}, want: "10.5.5.5"},
		{name: "empty rightmost entry", cfg: cfg, remote: "10.0.0.1:5000",
			header: http.Header{"X-Forwarded-For": {"198.51.100.7,"}}, want: "10.0.0.1"},
		{name: "entry with port", cfg: cfg, remote: "10.0.0.1:5000",
			header: http.Header{"X-Forwarded-For": {"198.51.100.7:4711"}}, want: "198.51.100.7"},
		{name: "bracketed IPv6 with port", cfg: cfg, remote: "10.0.0.1:5000",
			header: http.Header{"X-Forwarded-For": {"[2001:db8::1]:4711"}}, want: "2001:db8::1", wantKey: "2001:db8::/64"},
		{name: "bad port stops walk", cfg: cfg, remote: "10.0.0.1:5000",
			header: http.Header{"X-Forwarded-For": {"198.51.100.7:99999"}}, want: "10.0.0.1"},
		{name: "IPv4-mapped entry is unmapped", cfg: cfg, remote: "10.0.0.1:5000",
			header: http.Header{"X-Forwarded-For": {"::ffff:198.51.100.7"}}, want: "198.51.100.7", wantKey: "198.51.100.7"},
		{name: "IPv4-mapped trusted hop is skipped", cfg: cfg, remote: "10.0.0.1:5000",
			header: http.Header{"X-Forwarded-For": {"198.51.100.7, ::ffff:10.3.3.3"}}, want: "198.51.100.7"},
		{name: "zone on entry is dropped", cfg: cfg, remote: "10.0.0.1:5000",
			header: http.Header{"X-Forwarded-For": {"fe80::1%eth0"}}, want: "fe80::1"},
		{name: "IPv6 trusted peer", cfg: cfg, remote: "[fd00::5]:443",
			header: http.Header{"X-Forwarded-For": {"2001:db8:aa:bb:1:2:3:4"}}, want: "2001:db8:aa:bb:1:2:3:4", wantKey: "2001:db8:aa:bb::/64"},
		{name: "IPv4-mapped peer is trusted as IPv4", cfg: cfg, remote: "[::ffff:10.0.0.1]:5000",
			header: http.Header{"X-Forwarded-For": {"198.51.100.7"}}, want: "198.51.100.7"},
		{name: "explicit header name", cfg: &middleware.ClientIP{TrustedProxies: cfg.TrustedProxies, Header: "x-forwarded-for"},
			remote: "10.0.0.1:5000", header: http.Header{"X-Forwarded-For": {"198.51.100.7"}}, want: "198.51.100.7"},
	})
}

func TestClientIP_X_Forwarded_For_long_header_is_capped(t *testing.T) {
	cfg := &middleware.ClientIP{TrustedProxies: mustProxies(t, "10.0.0.0/8")}
	hops := make([]string, 0, 1000)
	hops = append(hops, "198.51.100.7")
	for i := range 999 {
		hops = append(hops, fmt.Sprintf("10.0.%d.%d", i/250, i%250+1))
	}
	r := request("10.0.0.1:5000", http.Header{"X-Forwarded-For": {strings.Join(hops, ", ")}})
	got := cfg.Addr(r)
	// Only the last MaxForwardedHops entries are examined; all are trusted,
	// so the leftmost examined hop wins, never the far-left client entry.
	want := netip.MustParseAddr(hops[len(hops)-middleware.MaxForwardedHops])
	if got != want {
		t.Fatalf("Addr = %s, want %s", got, want)
	}

	// Spread over many header lines, the cap still holds.
	lines := make([]string, len(hops))
	copy(lines, hops)
	r = request("10.0.0.1:5000", http.Header{"X-Forwarded-For": lines})
	if got := cfg.Addr(r); got != want {
		t.Fatalf("Addr over many lines = %s, want %s", got, want)
	}

	// One giant entry is rejected without parsing it.
	r = request("10.0.0.1:5000", http.Header{"X-Forwarded-For": {strings.Repeat("1", 1<<20)}})
	if got := cfg.Addr(r).String(); got != "10.0.0.1" {
		t.Fatalf("Addr with a 1 MiB entry = %s, want the peer", got)
	}
}

func TestClientIP_Forwarded(t *testing.T) {
	cfg := &middleware.ClientIP{TrustedProxies: mustProxies(t, "10.0.0.0/8"), Header: "Forwarded"}
	runClientIPCases(t, []clientIPCase{
		{name: "single element", cfg: cfg, remote: "10.0.0.1:5000",
			header: http.Header{"Forwarded": {"for=198.51.100.7;proto=https"}}, want: "198.51.100.7"},
		{name: "quoted IPv6 with port", cfg: cfg, remote: "10.0.0.1:5000",
			header: http.Header{"Forwarded": {`for="[2001:db8:cafe::17]:4711"`}}, want: "2001:db8:cafe::17", wantKey: "2001:db8:cafe::/64"},
		{name: "case-insensitive parameter name", cfg: cfg, remote: "10.0.0.1:5000",
			header: http.Header{"Forwarded": {`For="198.51.100.7:80"`}}, want: "198.51.100.7"},
		{name: "trusted hops skipped right to left", cfg: cfg, remote: "10.0.0.1:5000",
			header: http.Header{"Forwarded": {"for=6.6.6.6, for=198.51.100.7;by=10.0.0.2, for=10.0.0.3"}}, want: "198.51.100.7"},
		{name: "multiple lines", cfg: cfg, remote: "10.0.0.1:5000",
			header: http.Header{"Forwarded": {"for=6.6.6.6, for=198.51.100.7", "for=10.0.0.3"}}, want: "198.51.100.7"},
		{name: "comma inside quoted value does not split", cfg: cfg, remote: "10.0.0.1:5000",
			header: http.Header{"Forwarded": {`for=198.51.100.7;ext="a,b", for=10.0.0.3`}}, want: "198.51.100.7"},
		{name: "unknown stops at last trusted hop", cfg: cfg, remote: "10.0.0.1:5000",
			header: http.Header{"Forwarded": {"for=198.51.100.7, for=unknown, for=10.0.0.3"}}, want: "10.0.0.3"},
		{name: "obfuscated stops at peer", cfg: cfg, remote: "10.0.0.1:5000",
			header: http.Header{"Forwarded": {"for=198.51.100.7, for=_hidden"}}, want: "10.0.0.1"},
		{name: "obfuscated port allowed", cfg: cfg, remote: "10.0.0.1:5000",
			header: http.Header{"Forwarded": {`for="198.51.100.7:_p1"`}}, want: "198.51.100.7"},
		{name: "element without for stops", cfg: cfg, remote: "10.0.0.1:5000",
			header: http.Header{"Forwarded": {"for=198.51.100.7, proto=https"}}, want: "10.0.0.1"},
		{name: "repeated for is malformed", cfg: cfg, remote: "10.0.0.1:5000",
			header: http.Header{"Forwarded": {"for=198.51.100.7;for=6.6.6.6"}}, want: "10.0.0.1"},
		{name: "unterminated quote is malformed", cfg: cfg, remote: "10.0.0.1:5000",
			header: http.Header{"Forwarded": {`for="198.51.100.7`}}, want: "10.0.0.1"},
		{name: "X-Forwarded-For is not consulted", cfg: cfg, remote: "10.0.0.1:5000",
			header: http.Header{"X-Forwarded-For": {"6.6.6.6"}, "Forwarded": {"for=198.51.100.7"}}, want: "198.51.100.7"},
		{name: "missing header uses peer", cfg: cfg, remote: "10.0.0.1:5000",
			header: http.Header{"X-Forwarded-For": {"6.6.6.6"}}, want: "10.0.0.1"},
	})
}

func TestClientIP_Forwarded_long_header_is_capped(t *testing.T) {
	cfg := &middleware.ClientIP{TrustedProxies: mustProxies(t, "10.0.0.0/8"), Header: "Forwarded"}
	elems := []string{"for=198.51.100.7"}
	for i := range 200 {
		elems = append(elems, fmt.Sprintf("for=10.1.0.%d", i+1))
	}
	r := request("10.0.0.1:5000", http.Header{"Forwarded": {strings.Join(elems, ",")}})
	want := "10.1.0." + fmt.Sprint(200-middleware.MaxForwardedHops+1)
	if got := cfg.Addr(r).String(); got != want {
		t.Fatalf("Addr = %s, want %s", got, want)
	}
}

func TestClientIP_X_Forwarded_For_is_default_even_with_Forwarded_present(t *testing.T) {
	cfg := &middleware.ClientIP{TrustedProxies: mustProxies(t, "10.0.0.0/8")}
	r := request("10.0.0.1:5000", http.Header{"Forwarded": {"for=6.6.6.6"}, "X-Forwarded-For": {"198.51.100.7"}})
	if got := cfg.Addr(r).String(); got != "198.51.100.7" {
		t.Fatalf("Addr = %s, want the X-Forwarded-For entry", got)
	}
}

func TestClientIP_single_value_header(t *testing.T) {
	cfg := &middleware.ClientIP{TrustedProxies: mustProxies(t, "10.0.0.0/8"), Header: "CF-Connecting-IP"}
	runClientIPCases(t, []clientIPCase{
		{name: "value used", cfg: cfg, remote: "10.0.0.1:5000",
			header: http.Header{"Cf-Connecting-Ip": {"198.51.100.7"}}, want: "198.51.100.7"},
		{name: "last of several values", cfg: cfg, remote: "10.0.0.1:5000",
			header: http.Header{"Cf-Connecting-Ip": {"6.6.6.6", "198.51.100.7"}}, want: "198.51.100.7"},
		{name: "list is malformed", cfg: cfg, remote: "10.0.0.1:5000",
			header: http.Header{"Cf-Connecting-Ip": {"6.6.6.6, 198.51.100.7"}}, want: "10.0.0.1"},
		{name: "missing uses peer", cfg: cfg, remote: "10.0.0.1:5000",
			header: http.Header{"X-Forwarded-For": {"6.6.6.6"}}, want: "10.0.0.1"},
		{name: "garbage uses peer", cfg: cfg, remote: "10.0.0.1:5000",
			header: http.Header{"Cf-Connecting-Ip": {"<script>"}}, want: "10.0.0.1"},
	})
}

func TestClientIP_RemoteAddr_forms(t *testing.T) {
	var cfg *middleware.ClientIP
	runClientIPCases(t, []clientIPCase{
		{name: "ipv4 with port", cfg: cfg, remote: "192.0.2.1:80", want: "192.0.2.1", wantKey: "192.0.2.1"},
		{name: "ipv6 with port", cfg: cfg, remote: "[2001:db8:1:2:3:4:5:6]:80", want: "2001:db8:1:2:3:4:5:6", wantKey: "2001:db8:1:2::/64"},
		{name: "bare ipv4", cfg: cfg, remote: "192.0.2.1", want: "192.0.2.1", wantKey: "192.0.2.1"},
		{name: "bare ipv6", cfg: cfg, remote: "2001:db8::1", want: "2001:db8::1", wantKey: "2001:db8::/64"},
		{name: "zone dropped", cfg: cfg, remote: "[fe80::1%eth0]:80", want: "fe80::1", wantKey: "fe80::/64"},
		{name: "ipv4-mapped unmapped", cfg: cfg, remote: "[::ffff:192.0.2.1]:80", want: "192.0.2.1", wantKey: "192.0.2.1"},
		{name: "empty", cfg: cfg, remote: "", want: "invalid IP", wantKey: middleware.InvalidClientKey},
		{name: "unix socket", cfg: cfg, remote: "@", want: "invalid IP", wantKey: middleware.InvalidClientKey},
		{name: "garbage", cfg: cfg, remote: "not an address:12", want: "invalid IP", wantKey: middleware.InvalidClientKey},
		{name: "bracketed ipv4", cfg: cfg, remote: "[192.0.2.1]:80", want: "invalid IP", wantKey: middleware.InvalidClientKey},
		{name: "unclosed bracket", cfg: cfg, remote: "[2001:db8::1:80", want: "invalid IP", wantKey: middleware.InvalidClientKey},
	})
}

func TestClientIP_invalid_peer_ignores_headers(t *testing.T) {
	cfg := &middleware.ClientIP{TrustedProxies: mustProxies(t, "0.0.0.0/0,::/0")}
	r := request("garbage", http.Header{"X-Forwarded-For": {"198.51.100.7"}})
	if got := cfg.Key(r); got != middleware.InvalidClientKey {
		t.Fatalf("Key = %s, want %s", got, middleware.InvalidClientKey)
	}
}

func TestClientIP_Key_IPv6Prefix(t *testing.T) {
	r := request("[2001:db8:1:2:3:4:5:6]:80", nil)
	for _, tc := range []struct {
		bits int
		want string
	}{
		{0, "2001:db8:1:2::/64"},
		{-5, "2001:db8:1:2::/64"},
		{48, "2001:db8:1::/48"},
		{56, "2001:db8:1::/56"},
		{128, "2001:db8:1:2:3:4:5:6/128"},
		{999, "2001:db8:1:2:3:4:5:6/128"},
	} {
		t.Run(fmt.Sprint(tc.bits), func(t *testing.T) {
			cfg := &middleware.ClientIP{IPv6Prefix: tc.bits}
			if got := cfg.Key(r); got != tc.want {
				t.Fatalf("Key = %s, want %s", got, tc.want)
			}
			if cfg.IPv6Prefix != tc.bits {
				t.Fatal("Key wrote a default back into the config")
			}
		})
	}
}

func TestClientIP_Key_same_for_addresses_in_one_64(t *testing.T) {
	var cfg middleware.ClientIP
	a := cfg.Key(request("[2001:db8:1:2::1]:80", nil))
	b := cfg.Key(request("[2001:db8:1:2:ffff:ffff:ffff:ffff]:80", nil))
	c := cfg.Key(request("[2001:db8:1:3::1]:80", nil))
	if a != b || a == c {
		t.Fatalf("keys %s %s %s: want first two equal, third different", a, b, c)
	}
}

func TestClientIP_trusted_prefix_written_as_IPv4_mapped(t *testing.T) {
	cfg := &middleware.ClientIP{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("::ffff:10.0.0.0/104")}}
	r := request("10.0.0.1:5000", http.Header{"X-Forwarded-For": {"198.51.100.7"}})
	if got := cfg.Addr(r).String(); got != "198.51.100.7" {
		t.Fatalf("Addr = %s, want 198.51.100.7", got)
	}
}

func TestParseTrustedProxies_valid(t *testing.T) {
	got, err := middleware.ParseTrustedProxies(" 127.0.0.1, ::1,10.0.0.0/8,,192.168.1.77/24, ::ffff:172.16.0.0/108 ,")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"127.0.0.1/32", "::1/128", "10.0.0.0/8", "192.168.1.0/24", "172.16.0.0/12"}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i].String() != want[i] {
			t.Fatalf("got %v, want %v", got, want)
		}
	}
}

func TestParseTrustedProxies_empty(t *testing.T) {
	got, err := middleware.ParseTrustedProxies("")
	if err != nil || len(got) != 0 {
		t.Fatalf("ParseTrustedProxies(\"\") = %v, %v", got, err)
	}
}

func TestParseTrustedProxies_invalid(t *testing.T) {
	for _, in := range []string{"10.0.0.0/33", "localhost", "10.0.0.1/8/8", "fe80::1%eth0", "1.2.3.4.5", "10.0.0.0/", "127.0.0.1,nope"} {
		t.Run(in, func(t *testing.T) {
			got, err := middleware.ParseTrustedProxies(in)
			if !errors.Is(err, middleware.ErrInvalidTrustedProxy) {
				t.Fatalf("error = %v, want ErrInvalidTrustedProxy", err)
			}
			if got != nil {
				t.Fatalf("got %v with an error", got)
			}
			if !strings.Contains(err.Error(), "middleware: invalid trusted proxy") {
				t.Fatalf("error text %q", err)
			}
		})
	}
}
