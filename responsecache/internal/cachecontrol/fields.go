package cachecontrol

import (
	"net/http"
	"slices"
	"strings"
	"time"
)

// ParseHTTPDate parses an HTTP-date (RFC 9110 section 5.6.7). It accepts
// IMF-fixdate with day and month names in any letter case ("THU", "aug",
// "gMT"), and the obsolete RFC 850 and asctime forms. Anything else,
// including "0", is reported as invalid.
func ParseHTTPDate(s string) (time.Time, bool) {
	s = strings.TrimSpace(s)
	if t, ok := parseIMF(s); ok {
		return t, true
	}
	if len(s) < len("Mon Jan 2 15:04:05 2006") {
		return time.Time{}, false // too short for either obsolete form (and no time.Parse error to allocate)
	}
	// The obsolete forms, strictly: after the day name, the text must be
	// exactly what the layout produces (no extra spaces, two-digit hours).
	// The day name must be one, but need not be the date's own: as with
	// IMF-fixdate, a recipient is lenient there (RFC 9110 section 5.6.7).
	for _, layout := range []string{time.RFC850, time.ANSIC} {
		if t, err := time.Parse(layout, s); err == nil && afterDayName(t.Format(layout)) == afterDayName(s) {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

// afterDayName is s from its first space on: an obsolete HTTP-date
// without its day name ("Sunday," or "Sun").
func afterDayName(s string) string {
	if i := strings.IndexByte(s, ' '); i >= 0 {
		return s[i:]
	}
	return s
}

var months = [...]string{"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"}
var days = [...]string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"}

// parseIMF parses "Sun, 06 Nov 1994 08:49:37 GMT" case-insensitively.
func parseIMF(s string) (time.Time, bool) {
	if len(s) != 29 || s[3] != ',' || s[4] != ' ' || s[7] != ' ' || s[11] != ' ' ||
		s[16] != ' ' || s[19] != ':' || s[22] != ':' || s[25] != ' ' {
		return time.Time{}, false
	}
	if !strings.EqualFold(s[26:], "GMT") || !slices.ContainsFunc(days[:], func(d string) bool { return strings.EqualFold(d, s[:3]) }) {
		return time.Time{}, false
	}
	mon := slices.IndexFunc(months[:], func(m string) bool { return strings.EqualFold(m, s[8:11]) })
	if mon < 0 {
		return time.Time{}, false
	}
	num := func(a, b int) (int, bool) {
		n := 0
		for i := a; i < b; i++ {
			if s[i] < '0' || s[i] > '9' {
				return 0, false
			}
			n = n*10 + int(s[i]-'0')
		}
		return n, true
	}
	day, ok1 := num(5, 7)
	year, ok2 := num(12, 16)
	hh, ok3 := num(17, 19)
	mm, ok4 := num(20, 22)
	ss, ok5 := num(23, 25)
	if !ok1 || !ok2 || !ok3 || !ok4 || !ok5 || day < 1 || day > 31 || hh > 23 || mm > 59 || ss > 60 {
		return time.Time{}, false
	}
	return time.Date(year, time.Month(mon+1), day, hh, mm, ss, 0, time.UTC), true
}

// ParseAge parses the Age field (RFC 9111 section 5.1). Although Age is a
// singleton, a list is read as its first member: the text before the first
// comma of the first field line ("7200, 0" is 7200). That member must be a
// non-negative integer, else the field is ignored (0, false); a value too
// large to represent is MaxDelta.
func ParseAge(values []string) (time.Duration, bool) {
	if len(values) == 0 {
		return 0, false
	}
	first, _, _ := strings.Cut(values[0], ",")
	return ParseDelta(strings.TrimSpace(first))
}

// HasPragmaNoCache reports whether a Pragma field contains no-cache.
func HasPragmaNoCache(values []string) bool {
	for _, v := range values {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), "no-cache") {
				return true
			}
		}
	}
	return false
}

// VaryFields returns the canonical, sorted, de-duplicated field names of the
// Vary field lines, and star == true if any member is "*".
func VaryFields(values []string) (fields []string, star bool) {
	for _, v := range values {
		for _, f := range strings.Split(v, ",") {
			f = strings.TrimSpace(f)
			switch {
			case f == "":
			case f == "*":
				star = true
			default:
				fields = append(fields, http.CanonicalHeaderKey(f))
			}
		}
	}
	slices.Sort(fields)
	return slices.Compact(fields), star
}

// ETag is one entity-tag.
type ETag struct {
	Weak   bool
	Opaque string // without quotes
}

// ParseETag parses an entity-tag leniently: W/ in any case, and an unquoted
// tag is taken as its own opaque value.
func ParseETag(s string) (ETag, bool) {
	s = strings.TrimSpace(s)
	var e ETag
	if len(s) >= 2 && (s[0] == 'W' || s[0] == 'w') && s[1] == '/' {
		e.Weak = true
		s = s[2:]
	}
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		e.Opaque = s[1 : len(s)-1]
		return e, true
	}
	if s == "" || strings.ContainsAny(s, "\", ") {
		// Lenient: keep the raw text (e.g. W"abc") as the opaque value.
		e.Opaque = s
		return e, s != ""
	}
	e.Opaque = s
	return e, true
}

// String formats the entity-tag with quotes.
func (e ETag) String() string {
	if e.Weak {
		return `W/"` + e.Opaque + `"`
	}
	return `"` + e.Opaque + `"`
}

// MatchNone evaluates If-None-Match (RFC 9110 section 13.1.2) against the
// stored ETag with the weak comparison: it reports true ("the condition
// is false, answer 304") when the list is "*" or contains a tag whose
// opaque value equals the stored one.
func MatchNone(ifNoneMatch []string, etag string) bool {
	stored, ok := ParseETag(etag)
	for _, line := range ifNoneMatch {
		for _, t := range splitETags(line) {
			if t == "*" {
				return true
			}
			if !ok {
				continue
			}
			if c, ok := ParseETag(t); ok && c.Opaque == stored.Opaque {
				return true
			}
		}
	}
	return false
}

// splitETags splits a list of entity-tags on commas outside quotes.
func splitETags(s string) []string {
	var out []string
	inQ := false
	start := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '"':
			inQ = !inQ
		case ',':
			if !inQ {
				if t := strings.TrimSpace(s[start:i]); t != "" {
					out = append(out, t)
				}
				start = i + 1
			}
		}
	}
	if t := strings.TrimSpace(s[start:]); t != "" {
		out = append(out, t)
	}
	return out
}
