package cachecontrol

import (
	"strconv"
	"strings"
	"time"
)

// ParseTargeted parses a targeted cache-control field such as
// CDN-Cache-Control (RFC 9213). Its value is a Structured Field Dictionary
// (RFC 8941): keys are lowercase, delta-seconds are sf-integers. ok is
// false when the field is absent, empty or not a valid dictionary, or when
// a known directive has a value of the wrong type; the cache then ignores
// the field and falls back to Cache-Control, as RFC 9213 section 2.1
// requires.
func ParseTargeted(values []string) (d Directives, ok bool) {
	s := strings.Trim(strings.Join(values, ","), " \t")
	if s == "" {
		return d, false
	}
	p := sfParser{s: s}
	for {
		key, ok := p.key()
		if !ok {
			return Directives{}, false
		}
		var val any = true
		if p.peek() == '=' {
			p.i++
			if val, ok = p.bareItem(); !ok {
				return Directives{}, false
			}
		}
		if !p.params() {
			return Directives{}, false
		}
		if !d.applyTargeted(key, val) {
			return Directives{}, false
		}
		p.ows()
		if p.i >= len(p.s) {
			return d, true
		}
		if p.s[p.i] != ',' {
			return Directives{}, false
		}
		p.i++
		p.ows()
		if p.i >= len(p.s) {
			return Directives{}, false // trailing comma
		}
	}
}

func (d *Directives) applyTargeted(key string, val any) bool {
	delta := func() (time.Duration, bool) {
		n, ok := val.(int64)
		if !ok || n < 0 {
			return 0, false
		}
		if n >= int64(MaxDelta/time.Second) {
			return MaxDelta, true
		}
		return time.Duration(n) * time.Second, true
	}
	var ok = true
	switch key {
	case "max-age":
		d.HasMaxAge = true
		d.MaxAge, ok = delta()
	case "s-maxage":
		d.HasSMaxAge = true
		d.SMaxAge, ok = delta()
	case "stale-while-revalidate":
		d.HasStaleWhileRevalidate = true
		d.StaleWhileRevalidate, ok = delta()
	case "stale-if-error":
		d.HasStaleIfError = true
		d.StaleIfError, ok = delta()
	case "no-store":
		d.NoStore = true
	case "no-cache":
		d.NoCache = true
	case "private":
		d.Private = true
	case "public":
		d.Public = true
	case "must-revalidate":
		d.MustRevalidate = true
	case "proxy-revalidate":
		d.ProxyRevalidate = true
	case "must-understand":
		d.MustUnderstand = true
	}
	return ok
}

type sfParser struct {
	s string
	i int
}

func (p *sfParser) peek() byte {
	if p.i < len(p.s) {
		return p.s[p.i]
	}
	return 0
}

func (p *sfParser) ows() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t') {
		p.i++
	}
}

// key parses an sf-key: ( lcalpha / "*" ) *( lcalpha / DIGIT / "_" / "-" / "." / "*" ).
func (p *sfParser) key() (string, bool) {
	start := p.i
	if c := p.peek(); !(c >= 'a' && c <= 'z' || c == '*') {
		return "", false
	}
	p.i++
	for p.i < len(p.s) {
		c := p.s[p.i]
		if c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.' || c == '*' {
			p.i++
			continue
		}
		break
	}
	return p.s[start:p.i], true
}

// params skips ;key[=value] parameters.
func (p *sfParser) params() bool {
	for p.peek() == ';' {
		p.i++
		for p.peek() == ' ' {
			p.i++
		}
		if _, ok := p.key(); !ok {
			return false
		}
		if p.peek() == '=' {
			p.i++
			if _, ok := p.bareItem(); !ok {
				return false
			}
		}
	}
	return true
}

// bareItem parses an sf-integer (int64), sf-decimal (float64), sf-string
// (string), sf-token (token), sf-binary ([]byte) or sf-boolean (bool).
func (p *sfParser) bareItem() (any, bool) {
	c := p.peek()
	switch {
	case c == '-' || c >= '0' && c <= '9':
		start := p.i
		if c == '-' {
			p.i++
		}
		digits, dot := 0, false
		for p.i < len(p.s) {
			c := p.s[p.i]
			if c >= '0' && c <= '9' {
				digits++
			} else if c == '.' && !dot {
				dot = true
			} else {
				break
			}
			p.i++
		}
		if digits == 0 || digits > 15 {
			return nil, false
		}
		if dot {
			f, err := strconv.ParseFloat(p.s[start:p.i], 64)
			return f, err == nil
		}
		n, err := strconv.ParseInt(p.s[start:p.i], 10, 64)
		return n, err == nil
	case c == '"':
		p.i++
		var b strings.Builder
		for p.i < len(p.s) {
			c := p.s[p.i]
			p.i++
			switch {
			case c == '\\':
				if p.i >= len(p.s) || (p.s[p.i] != '"' && p.s[p.i] != '\\') {
					return nil, false
				}
				b.WriteByte(p.s[p.i])
				p.i++
			case c == '"':
				return b.String(), true
			case c < 0x20 || c > 0x7e:
				return nil, false
			default:
				b.WriteByte(c)
			}
		}
		return nil, false
	case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '*':
		start := p.i
		for p.i < len(p.s) && (isTchar(p.s[p.i]) || p.s[p.i] == ':' || p.s[p.i] == '/') {
			p.i++
		}
		return token(p.s[start:p.i]), true
	case c == ':':
		end := strings.IndexByte(p.s[p.i+1:], ':')
		if end < 0 {
			return nil, false
		}
		p.i += end + 2
		return []byte(nil), true
	case c == '?':
		if p.i+1 < len(p.s) && (p.s[p.i+1] == '0' || p.s[p.i+1] == '1') {
			p.i += 2
			return p.s[p.i-1] == '1', true
		}
	}
	return nil, false
}

type token string
