package middleware

import (
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
)

// ErrInvalidTrustedProxy is wrapped by the error [ParseTrustedProxies] returns
// for an entry that is neither an IP address nor a CIDR prefix.
var ErrInvalidTrustedProxy = errors.New("middleware: invalid trusted proxy")

// InvalidClientKey is what [ClientIP.Key] returns when no valid client address
// can be found, for example when RemoteAddr is a Unix socket path or garbage.
// All such requests share this one key, so a rate limiter keyed by it treats
// them as a single client (fail closed).
const InvalidClientKey = "invalid"

// MaxForwardedHops bounds the work done on a forwarding header: at most this
// many entries, counted from the right, are examined. If all of them are
// trusted proxies, the leftmost one examined is the result.
const MaxForwardedHops = 32

// ClientIP finds the address of the client that sent a request, trusting
// forwarding headers only when they come from known reverse proxies. A nil
// *ClientIP or the zero value trusts nobody and returns the TCP peer from
// r.RemoteAddr, so a client cannot spoof its address with a header.
//
// The algorithm starts from the peer in r.RemoteAddr. If the peer is inside
// TrustedProxies, the forwarding header is read from right to left (the
// rightmost entry was added by the proxy closest to us), skipping entries that
// are themselves trusted proxies; the first untrusted entry is the client. If
// every entry is trusted, the leftmost is the client. An entry that does not
// parse, an RFC 7239 "unknown" or obfuscated node, or a missing header stops
// the walk, and the result is the last trusted hop reached (at worst the
// peer itself): never an address to the left of something we could not read.
//
// Exactly one header is consulted, chosen by Header. Reading both
// X-Forwarded-For and Forwarded would let a client spoof its address through
// whichever of the two its proxy does not overwrite, so there is no mode that
// mixes them.
//
// Addresses are normalised: IPv4-mapped IPv6 (::ffff:192.0.2.1) becomes IPv4
// and IPv6 zones are dropped, both before the trust check, so that a trusted
// address cannot be aliased past it.
//
// A ClientIP is safe for concurrent use as long as its fields are not changed.
type ClientIP struct {
	// TrustedProxies lists the reverse proxies (load balancers, CDNs) allowed
	// to set the forwarding header: both the TCP peer and the hops skipped in
	// the header must be inside one of these prefixes. Use
	// ParseTrustedProxies to build it from configuration. Default: none, so
	// forwarding headers are ignored. A prefix such as 0.0.0.0/0 trusts every
	// peer and is only safe if the network lets nothing but your proxies
	// reach this server.
	TrustedProxies []netip.Prefix

	// Header names the forwarding header that the trusted proxies set:
	//
	//   - "" or "X-Forwarded-For": a comma-separated list of addresses, all
	//     header lines joined in order (nginx, HAProxy, Envoy, Traefik,
	//     Caddy, AWS ALB, Google Cloud LB). This is the default.
	//   - "Forwarded": RFC 7239, the for= parameter of each element, with
	//     quoted IPv6 such as for="[2001:db8::1]:4711".
	//   - any other name, such as "X-Real-IP" or "CF-Connecting-IP": a header
	//     holding a single address that the proxy overwrites on every
	//     request. If it occurs more than once, the last value is used.
	//
	// Names are matched case-insensitively; the canonical form
	// ("Cf-Connecting-Ip") saves an allocation per request.
	Header string

	// IPv6Prefix is the number of leading bits of an IPv6 address kept by
	// Key, so that a client cannot dodge a per-IP limit by rotating through
	// the addresses of its own subnet. Default 64 (one end site's LAN).
	// Values above 128 are treated as 128; zero or negative means 64.
	IPv6Prefix int
}

// Addr returns the client address for r. The result is invalid (IsValid
// reports false) only when r.RemoteAddr holds no IP address and no trusted
// header applies, for example for a Unix socket listener.
func (c *ClientIP) Addr(r *http.Request) netip.Addr {
	peer, _ := parseNode(r.RemoteAddr, false)
	if c == nil || len(c.TrustedProxies) == 0 || !peer.IsValid() || !c.trusted(peer) {
		return peer
	}
	switch {
	case c.Header == "" || strings.EqualFold(c.Header, "X-Forwarded-For"):
		return c.walkXFF(r.Header["X-Forwarded-For"], peer)
	case strings.EqualFold(c.Header, "Forwarded"):
		return c.walkForwarded(r.Header["Forwarded"], peer)
	}
	values, ok := r.Header[c.Header]
	if !ok {
		values = r.Header[http.CanonicalHeaderKey(c.Header)]
	}
	if len(values) == 0 {
		return peer
	}
	if a, ok := parseNode(values[len(values)-1], false); ok {
		return a
	}
	return peer
}

// Key returns a stable string identifying the client of r, for use as a
// rate-limit or lockout key: the IPv4 address ("192.0.2.1"), or the IPv6
// address masked to IPv6Prefix bits in CIDR form ("2001:db8:1:2::/64"). It
// returns [InvalidClientKey] when there is no valid address.
func (c *ClientIP) Key(r *http.Request) string {
	a := c.Addr(r)
	if !a.IsValid() {
		return InvalidClientKey
	}
	var buf [64]byte
	return string(c.appendAddrKey(buf[:0], a))
}

// AppendKey appends the key that [ClientIP.Key] returns to dst, without
// allocating when dst has room.
func (c *ClientIP) AppendKey(dst []byte, r *http.Request) []byte {
	a := c.Addr(r)
	if !a.IsValid() {
		return append(dst, InvalidClientKey...)
	}
	return c.appendAddrKey(dst, a)
}

func (c *ClientIP) appendAddrKey(dst []byte, a netip.Addr) []byte {
	if a.Is4() {
		return a.AppendTo(dst)
	}
	bits := 64
	if c != nil && c.IPv6Prefix > 0 {
		bits = min(c.IPv6Prefix, 128)
	}
	p, _ := a.Prefix(bits) // cannot fail: a is valid IPv6 without zone, 0 < bits <= 128
	dst = p.Addr().AppendTo(dst)
	dst = append(dst, '/')
	return strconv.AppendInt(dst, int64(bits), 10)
}

// trusted reports whether a is inside one of the trusted prefixes. Prefixes
// written as IPv4-mapped IPv6 (::ffff:10.0.0.0/104) also match the plain IPv4
// addresses that Addr normalises to.
func (c *ClientIP) trusted(a netip.Addr) bool {
	for _, p := range c.TrustedProxies {
		if p.Contains(a) {
			return true
		}
		if pa := p.Addr(); a.Is4() && pa.Is4In6() && p.Bits() >= 96 {
			if netip.PrefixFrom(pa.Unmap(), p.Bits()-96).Contains(a) {
				return true
			}
		}
	}
	return false
}

// walkXFF walks X-Forwarded-For from right to left; see ClientIP.
func (c *ClientIP) walkXFF(lines []string, peer netip.Addr) netip.Addr {
	last, seen := peer, 0
	for i := len(lines) - 1; i >= 0; i-- {
		line := lines[i]
		end := len(line)
		for {
			start := strings.LastIndexByte(line[:end], ',') + 1
			a, ok := parseNode(line[start:end], false)
			if !ok {
				return last
			}
			if !c.trusted(a) {
				return a
			}
			last = a
			if seen++; seen >= MaxForwardedHops || start == 0 {
				break
			}
			end = start - 1
		}
		if seen >= MaxForwardedHops {
			break
		}
	}
	return last
}

// span locates one Forwarded element: lines[line][start:end].
type span struct{ line, start, end int }

// walkForwarded walks RFC 7239 Forwarded elements from right to left.
// Elements are found left to right (commas inside quoted strings do not
// split), keeping only the last MaxForwardedHops in a ring on the stack.
func (c *ClientIP) walkForwarded(lines []string, peer netip.Addr) netip.Addr {
	var ring [MaxForwardedHops]span
	n := 0
	for li, line := range lines {
		start, quoted := 0, false
		for i := 0; i < len(line); i++ {
			switch ch := line[i]; {
			case quoted && ch == '\\':
				i++ // quoted-pair
			case ch == '"':
				quoted = !quoted
			case !quoted && ch == ',':
				ring[n%MaxForwardedHops] = span{li, start, i}
				n++
				start = i + 1
			}
		}
		ring[n%MaxForwardedHops] = span{li, start, len(line)}
		n++
	}
	last := peer
	for k := 0; k < min(n, MaxForwardedHops); k++ {
		s := ring[(n-1-k)%MaxForwardedHops]
		a, ok := forwardedFor(lines[s.line][s.start:s.end])
		if !ok {
			return last
		}
		if !c.trusted(a) {
			return a
		}
		last = a
	}
	return last
}

// forwardedFor returns the address in the for= parameter of one Forwarded
// element. It fails for a missing or repeated for=, "unknown", an obfuscated
// identifier, or anything malformed.
func forwardedFor(elem string) (netip.Addr, bool) {
	var (
		val   string
		found bool
	)
	for len(elem) > 0 {
		// Cut one pair at the first ';' outside quotes.
		end, quoted := len(elem), false
		for i := 0; i < len(elem); i++ {
			if ch := elem[i]; quoted && ch == '\\' {
				i++
			} else if ch == '"' {
				quoted = !quoted
			} else if !quoted && ch == ';' {
				end = i
				break
			}
		}
		pair := trimOWS(elem[:end])
		if end < len(elem) {
			elem = elem[end+1:]
		} else {
			elem = ""
		}
		k, v, ok := strings.Cut(pair, "=")
		if !ok {
			if pair == "" {
				continue // empty pair, allowed by the grammar
			}
			return netip.Addr{}, false
		}
		if !strings.EqualFold(k, "for") {
			continue
		}
		if found {
			return netip.Addr{}, false // RFC 7239: at most once per element
		}
		val, found = v, true
	}
	if !found {
		return netip.Addr{}, false
	}
	if len(val) >= 2 && val[0] == '"' && val[len(val)-1] == '"' {
		val = val[1 : len(val)-1]
		if strings.ContainsAny(val, "\\\"") {
			return netip.Addr{}, false // no address needs escaping
		}
	}
	if strings.EqualFold(val, "unknown") || strings.HasPrefix(val, "_") {
		return netip.Addr{}, false
	}
	return parseNode(val, true)
}

// maxNodeLen bounds the length of one address entry; the longest valid one,
// "[ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255%zone]:65535", is shorter.
const maxNodeLen = 100

// parseNode parses an address as found in RemoteAddr or a forwarding header:
// "192.0.2.1", "192.0.2.1:80", "2001:db8::1", "[2001:db8::1]", "[2001:db8::1]:80",
// with surrounding spaces or tabs and optional zone. obfPort also allows an
// RFC 7239 obfuscated port ("[2001:db8::1]:_abc"). The result is unmapped and
// has no zone.
func parseNode(s string, obfPort bool) (netip.Addr, bool) {
	s = trimOWS(s)
	if len(s) == 0 || len(s) > maxNodeLen {
		return netip.Addr{}, false
	}
	var host, port string
	if s[0] == '[' {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return netip.Addr{}, false
		}
		host, port = s[1:end], s[end+1:]
		if port != "" {
			if port[0] != ':' {
				return netip.Addr{}, false
			}
			port = port[1:]
			if port == "" {
				return netip.Addr{}, false
			}
		}
	} else if i := strings.IndexByte(s, ':'); i >= 0 && strings.IndexByte(s[i+1:], ':') < 0 {
		host, port = s[:i], s[i+1:] // IPv4:port
		if port == "" {
			return netip.Addr{}, false
		}
	} else {
		host = s // IPv4 or bare IPv6
	}
	if port != "" && !validPort(port, obfPort) {
		return netip.Addr{}, false
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}, false
	}
	if s[0] == '[' && !a.Is6() || port != "" && s[0] != '[' && !a.Is4() {
		return netip.Addr{}, false // "[192.0.2.1]" or "::1:80" style confusion
	}
	return a.WithZone("").Unmap(), true
}

func validPort(p string, obf bool) bool {
	if obf && p[0] == '_' {
		for i := 1; i < len(p); i++ {
			if ch := p[i]; !(ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9' || ch == '.' || ch == '_' || ch == '-') {
				return false
			}
		}
		return len(p) > 1
	}
	if len(p) > 5 {
		return false
	}
	v := 0
	for i := 0; i < len(p); i++ {
		if p[i] < '0' || p[i] > '9' {
			return false
		}
		v = v*10 + int(p[i]-'0')
	}
	return v <= 65535
}

func trimOWS(s string) string {
	for len(s) > 0 && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for len(s) > 0 && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}

// ParseTrustedProxies parses a comma-separated list of IP addresses and CIDR
// prefixes, such as "127.0.0.1,::1,10.0.0.0/8", into [ClientIP.TrustedProxies].
// A bare address becomes a single-address prefix; IPv4-mapped IPv6 forms are
// converted to IPv4; host bits are masked. Spaces and empty entries are
// ignored, so an empty string gives no prefixes. An entry that does not parse
// or carries an IPv6 zone yields an error wrapping [ErrInvalidTrustedProxy]
// that quotes the entry.
func ParseTrustedProxies(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for entry := range strings.SplitSeq(s, ",") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		p, err := parseTrustedProxy(entry)
		if err != nil {
			return nil, fmt.Errorf("%w %q: %v", ErrInvalidTrustedProxy, entry, err)
		}
		out = append(out, p)
	}
	return out, nil
}

func parseTrustedProxy(s string) (netip.Prefix, error) {
	var p netip.Prefix
	if strings.Contains(s, "/") {
		var err error
		if p, err = netip.ParsePrefix(s); err != nil {
			return p, err
		}
	} else {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return p, err
		}
		if a.Zone() != "" {
			return p, errors.New("IPv6 zones are not allowed")
		}
		p = netip.PrefixFrom(a, a.BitLen())
	}
	if p.Addr().Is4In6() && p.Bits() >= 96 {
		p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
	}
	return p.Masked(), nil
}
