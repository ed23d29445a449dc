package middleware_test

import (
	"net/http"
	"net/netip"
	"strings"
	"testing"

	"github.com/rediware/rediware/middleware"
)

// FuzzClientIP checks the invariants that hold for any input: no panic, an
// untrusted peer is never overridden, a trusted peer yields either itself or
// an address that appears in the header, and Key agrees with AppendKey.
func FuzzClientIP(f *testing.F) {
	for _, seed := range []struct{ remote, header string }{
		{"10.0.0.1:80", "198.51.100.7, 10.2.2.2"},
		{"[fd00::1]:80", `for="[2001:db8::1]:4711";proto=https, for=10.0.0.3`},
		{"10.0.0.1:80", `for="\"\\,;=`},
		{"203.0.113.9:80", "1.1.1.1"},
		{"garbage", "[::1"},
		{"10.0.0.1:80", ",,,,"},
		{"[fe80::1%eth0]:80", "fe80::2%lo, ::ffff:10.0.0.9"},
	} {
		for _, h := range []string{"", "Forwarded", "X-Real-IP"} {
			f.Add(seed.remote, seed.header, h)
		}
	}
	proxies := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}
	f.Fuzz(func(t *testing.T, remote, header, name string) {
		switch name {
		case "", "Forwarded", "X-Real-IP":
		default:
			name = "" // keep the header names the request below sets
		}
		cfg := &middleware.ClientIP{TrustedProxies: proxies, Header: name}
		key := name
		if key == "" {
			key = "X-Forwarded-For"
		}
		r := request(remote, http.Header{http.CanonicalHeaderKey(key): strings.Split(header, "\n")})
		got := cfg.Addr(r)
		peer := (*middleware.ClientIP)(nil).Addr(r)
		trusted := peer.IsValid() && (proxies[0].Contains(peer) || proxies[1].Contains(peer))
		if !trusted && got != peer {
			t.Fatalf("untrusted peer %s overridden by %s", peer, got)
		}
		// IPv4 text is canonical (netip rejects leading zeros), so an IPv4
		// result must appear verbatim; IPv6 has many spellings.
		if got != peer && got.Is4() && !strings.Contains(header, got.String()) {
			t.Fatalf("Addr %s appears neither as the peer nor in the header %q", got, header)
		}
		if got.IsValid() && (got.Zone() != "" || got.Is4In6()) {
			t.Fatalf("Addr %s not normalised", got)
		}
		if k := cfg.Key(r); k == "" || string(cfg.AppendKey(nil, r)) != k {
			t.Fatalf("Key %q, AppendKey %q", k, cfg.AppendKey(nil, r))
		}
	})
}
