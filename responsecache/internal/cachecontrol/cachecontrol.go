// Package cachecontrol parses the Cache-Control header field (RFC 9111
// section 5.2) and the other header fields an HTTP cache reads: Age,
// Expires, Date, Pragma, ETag lists and Vary.
package cachecontrol

import (
	"net/http"
	"strings"
	"time"
)

// MaxDelta is the value a cache must use for a delta-seconds value it
// cannot represent (RFC 9111 section 1.2.2): 2^31 seconds.
const MaxDelta = 2147483648 * time.Second

// Directives holds the parsed directives of one message. Durations are
// valid only when the matching Has flag is set. An invalid delta-seconds
// value (for example "a100", "100a", "-1", "1.5") is recorded as present with
// a value of zero, which makes the response stale: RFC 9111 section 4.2.1
// lets a cache consider a response with an invalid freshness directive
// stale, and that is the safe choice.
type Directives struct {
	NoStore         bool
	NoCache         bool     // unqualified no-cache
	NoCacheFields   []string // field names of no-cache="a, b" (canonical form)
	Private         bool     // unqualified private
	PrivateFields   []string // field names of private="a, b"
	Public          bool
	MustRevalidate  bool
	ProxyRevalidate bool
	MustUnderstand  bool
	NoTransform     bool
	Immutable       bool
	OnlyIfCached    bool

	HasMaxAge  bool
	MaxAge     time.Duration
	HasSMaxAge bool
	SMaxAge    time.Duration

	HasMaxStale bool
	MaxStale    time.Duration // MaxDelta when max-stale has no value
	HasMinFresh bool
	MinFresh    time.Duration

	HasStaleWhileRevalidate bool
	StaleWhileRevalidate    time.Duration
	HasStaleIfError         bool
	StaleIfError            time.Duration
}

// Parse parses every Cache-Control field line in values. Directive names
// are case-insensitive; when a directive appears more than once the first
// occurrence wins (RFC 9111 section 4.2.1). Text inside quoted strings is
// never mistaken for a directive.
func Parse(values []string) Directives {
	var d Directives
	seen := 0 // bitmask of value directives already taken
	for _, line := range values {
		p := parser{s: line}
		for {
			name, val, hasVal, ok := p.next()
			if !ok {
				break
			}
			d.apply(name, val, hasVal, &seen)
		}
	}
	return d
}

const (
	seenMaxAge = 1 << iota
	seenSMaxAge
	seenMaxStale
	seenMinFresh
	seenSWR
	seenSIE
)

func (d *Directives) apply(name, val string, hasVal bool, seen *int) {
	switch strings.ToLower(name) {
	case "no-store":
		d.NoStore = true
	case "no-cache":
		// The qualified form (no-cache="a, b") only keeps the listed
		// fields from being reused; the unqualified form requires
		// revalidation of the whole response.
		if fs := fieldList(val); hasVal && len(fs) > 0 {
			d.NoCacheFields = append(d.NoCacheFields, fs...)
		} else {
			d.NoCache = true
		}
	case "private":
		if fs := fieldList(val); hasVal && len(fs) > 0 {
			d.PrivateFields = append(d.PrivateFields, fs...)
		} else {
			d.Private = true
		}
	case "public":
		d.Public = true
	case "must-revalidate":
		d.MustRevalidate = true
	case "proxy-revalidate":
		d.ProxyRevalidate = true
	case "must-understand":
		d.MustUnderstand = true
	case "no-transform":
		d.NoTransform = true
	case "immutable":
		d.Immutable = true
	case "only-if-cached":
		d.OnlyIfCached = true
	case "max-age":
		if *seen&seenMaxAge == 0 {
			*seen |= seenMaxAge
			d.HasMaxAge, d.MaxAge = true, delta(val, hasVal)
		}
	case "s-maxage":
		if *seen&seenSMaxAge == 0 {
			*seen |= seenSMaxAge
			d.HasSMaxAge, d.SMaxAge = true, delta(val, hasVal)
		}
	case "max-stale":
		if *seen&seenMaxStale == 0 {
			*seen |= seenMaxStale
			d.HasMaxStale = true
			if hasVal {
				d.MaxStale = delta(val, true)
			} else {
				d.MaxStale = MaxDelta
			}
		}
	case "min-fresh":
		if *seen&seenMinFresh == 0 {
			*seen |= seenMinFresh
			d.HasMinFresh, d.MinFresh = true, delta(val, hasVal)
		}
	case "stale-while-revalidate":
		if *seen&seenSWR == 0 {
			*seen |= seenSWR
			d.HasStaleWhileRevalidate, d.StaleWhileRevalidate = true, delta(val, hasVal)
		}
	case "stale-if-error":
		if *seen&seenSIE == 0 {
			*seen |= seenSIE
			d.HasStaleIfError, d.StaleIfError = true, delta(val, hasVal)
		}
	}
}

// Known reports whether any directive this package understands was found.
func (d *Directives) Known() bool {
	return d.NoStore || d.NoCache || len(d.NoCacheFields) > 0 || d.Private || len(d.PrivateFields) > 0 ||
		d.Public || d.MustRevalidate || d.ProxyRevalidate || d.HasMaxAge || d.HasSMaxAge ||
		d.HasStaleWhileRevalidate || d.HasStaleIfError
}

// ParseDelta parses delta-seconds: one or more ASCII digits. It reports
// false for anything else. Values too large to represent are MaxDelta.
func ParseDelta(s string) (time.Duration, bool) {
	if s == "" {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		if n < int64(MaxDelta/time.Second) {
			n = n*10 + int64(c-'0')
		}
	}
	if n >= int64(MaxDelta/time.Second) {
		return MaxDelta, true
	}
	return time.Duration(n) * time.Second, true
}

func delta(val string, hasVal bool) time.Duration {
	if !hasVal {
		return 0
	}
	d, _ := ParseDelta(val)
	return d
}

// fieldList splits a quoted list of field names.
func fieldList(v string) []string {
	var out []string
	for _, f := range strings.Split(v, ",") {
		f = strings.TrimSpace(f)
		if f != "" {
			out = append(out, http.CanonicalHeaderKey(f))
		}
	}
	return out
}

// parser walks "name[=value]" directives separated by commas, where value
// is a token or a quoted-string.
type parser struct {
	s string
	i int
}

func isOWS(c byte) bool { return c == ' ' || c == '\t' }

// next returns the next directive. A directive with whitespace around "="
// is malformed and is skipped as a whole, as is anything else that does not
// parse, except that a malformed element naming a restrictive directive
// (see restrictive) is returned as that directive without a value.
func (p *parser) next() (name, val string, hasVal, ok bool) {
	for p.i < len(p.s) {
		// Skip separators.
		for p.i < len(p.s) && (isOWS(p.s[p.i]) || p.s[p.i] == ',') {
			p.i++
		}
		if p.i >= len(p.s) {
			return "", "", false, false
		}
		start := p.i
		for p.i < len(p.s) && isTchar(p.s[p.i]) {
			p.i++
		}
		name = p.s[start:p.i]
		valid := name != ""
		hasVal = false
		val = ""
		if p.i < len(p.s) && p.s[p.i] == '=' {
			p.i++
			hasVal = true
			if p.i < len(p.s) && p.s[p.i] == '"' {
				v, end, good := quoted(p.s, p.i)
				val, p.i = v, end
				valid = valid && good
			} else {
				vs := p.i
				for p.i < len(p.s) && isTchar(p.s[p.i]) {
					p.i++
				}
				val = p.s[vs:p.i]
			}
		}
		// After the directive only OWS and a comma may follow.
		for p.i < len(p.s) && isOWS(p.s[p.i]) {
			p.i++
		}
		if p.i < len(p.s) && p.s[p.i] != ',' {
			valid = false
			p.skipToComma()
		}
		if valid {
			return name, val, hasVal, true
		}
		if restrictive(name) {
			// A malformed element that starts with a directive which
			// only ever makes a cache more careful ("private; max-age=60",
			// "no-store;") is taken as that directive, unqualified:
			// skipping it would store what the origin meant to keep out
			// of shared caches.
			return name, "", false, true
		}
	}
	return "", "", false, false
}

// restrictive reports whether name is a directive whose presence can only
// keep a response from being stored or reused.
func restrictive(name string) bool {
	switch strings.ToLower(name) {
	case "no-store", "no-cache", "private", "must-revalidate", "proxy-revalidate":
		return true
	}
	return false
}

// skipToComma moves past the rest of a malformed element, honouring quoted
// strings so that a comma inside quotes does not end it.
func (p *parser) skipToComma() {
	for p.i < len(p.s) {
		switch p.s[p.i] {
		case ',':
			return
		case '"':
			_, end, _ := quoted(p.s, p.i)
			p.i = end
		default:
			p.i++
		}
	}
}

// quoted parses a quoted-string starting at s[i] == '"'; it returns the
// unescaped value and the index after the closing quote.
func quoted(s string, i int) (string, int, bool) {
	var b strings.Builder
	i++
	for i < len(s) {
		c := s[i]
		switch c {
		case '"':
			return b.String(), i + 1, true
		case '\\':
			if i+1 < len(s) {
				b.WriteByte(s[i+1])
				i += 2
				continue
			}
		}
		b.WriteByte(c)
		i++
	}
	return b.String(), i, false
}

func isTchar(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}
