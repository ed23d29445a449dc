package cachecontrol_test

import (
	"testing"
	"time"

	"github.com/rediware/rediware/responsecache/internal/cachecontrol"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name  string
		lines []string
		check func(d cachecontrol.Directives) bool
	}{
		{"MaxAge", []string{"max-age=60"}, func(d cachecontrol.Directives) bool { return d.HasMaxAge && d.MaxAge == time.Minute }},
		{"MaxAgeQuoted", []string{`max-age="60"`}, func(d cachecontrol.Directives) bool { return d.MaxAge == time.Minute }},
		{"MaxAgeCaseInsensitive", []string{"MaX-AgE=60"}, func(d cachecontrol.Directives) bool { return d.MaxAge == time.Minute }},
		{"MaxAgeInvalidIsZero", []string{"max-age=6a"}, func(d cachecontrol.Directives) bool { return d.HasMaxAge && d.MaxAge == 0 }},
		{"MaxAgeNegativeIsZero", []string{"max-age=-1"}, func(d cachecontrol.Directives) bool { return d.HasMaxAge && d.MaxAge == 0 }},
		{"MaxAgeOverflowIsMaxDelta", []string{"max-age=99999999999999999999"}, func(d cachecontrol.Directives) bool { return d.MaxAge == cachecontrol.MaxDelta }},
		{"MaxAgeFirstWins", []string{"max-age=1, max-age=2", "max-age=3"}, func(d cachecontrol.Directives) bool { return d.MaxAge == time.Second }},
		{"MaxAgeSpaceBeforeEqualsIgnored", []string{"max-age =60"}, func(d cachecontrol.Directives) bool { return !d.HasMaxAge }},
		{"MaxAgeSpaceAfterEqualsIgnored", []string{"max-age= 60"}, func(d cachecontrol.Directives) bool { return !d.HasMaxAge }},
		{"QuotedTextIsNotADirective", []string{`foo="max-age=60, no-store"`}, func(d cachecontrol.Directives) bool { return !d.HasMaxAge && !d.NoStore }},
		{"SMaxAgeSeparateLine", []string{"max-age=60", "s-maxage=5"}, func(d cachecontrol.Directives) bool { return d.HasSMaxAge && d.SMaxAge == 5*time.Second }},
		{"NoCacheUnqualified", []string{"no-cache"}, func(d cachecontrol.Directives) bool { return d.NoCache && len(d.NoCacheFields) == 0 }},
		{"NoCacheWithFieldsIsQualified", []string{`no-cache="set-cookie, x-a"`}, func(d cachecontrol.Directives) bool {
			return !d.NoCache && len(d.NoCacheFields) == 2 && d.NoCacheFields[0] == "Set-Cookie"
		}},
		{"PrivateWithFieldsIsQualified", []string{`private="x-user"`}, func(d cachecontrol.Directives) bool { return !d.Private && d.PrivateFields[0] == "X-User" }},
		{"MaxStaleWithoutValueIsUnbounded", []string{"max-stale"}, func(d cachecontrol.Directives) bool { return d.HasMaxStale && d.MaxStale == cachecontrol.MaxDelta }},
		{"StaleExtensions", []string{"stale-while-revalidate=30, stale-if-error=60"}, func(d cachecontrol.Directives) bool {
			return d.StaleWhileRevalidate == 30*time.Second && d.StaleIfError == time.Minute
		}},
		{"MalformedPrivateIsUnqualifiedPrivate", []string{"private; max-age=60"}, func(d cachecontrol.Directives) bool { return d.Private && !d.HasMaxAge }},
		{"MalformedNoStoreIsNoStore", []string{"public, no-store ;x"}, func(d cachecontrol.Directives) bool { return d.NoStore && d.Public }},
		{"MalformedQualifiedNoCacheIsUnqualified", []string{`no-cache="set-cookie`}, func(d cachecontrol.Directives) bool { return d.NoCache }},
		{"UnknownExtensionIgnored", []string{"foobar, max-age=1"}, func(d cachecontrol.Directives) bool { return d.MaxAge == time.Second }},
		{"GarbageDoesNotPanic", []string{`"unterminated, =, ,,, max-age=="`}, func(d cachecontrol.Directives) bool { return true }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if d := cachecontrol.Parse(tt.lines); !tt.check(d) {
				t.Fatalf("Parse(%q) = %+v", tt.lines, d)
			}
		})
	}
}

func TestParseHTTPDate(t *testing.T) {
	tests := []struct {
		in string
		ok bool
	}{
		{"Sun, 06 Nov 1994 08:49:37 GMT", true},
		{"SUN, 06 NOV 1994 08:49:37 gmt", true},
		{"Sunday, 06-Nov-94 08:49:37 GMT", true},
		{"Sun Nov  6 08:49:37 1994", true},
		// A wrong weekday is tolerated in the obsolete forms, as in
		// IMF-fixdate (RFC 9110 section 5.6.7: recipients are lenient);
		// 8 Aug 2050 is a Monday.
		{"Thu Aug  8 02:01:18 2050", true},
		{"Thursday, 08-Aug-50 02:01:18 GMT", true},
		{"Xyz Aug  8 02:01:18 2050", false},
		{"Thu Aug 8 02:01:18 2050", false},
		{"Thu  Aug  8 02:01:18 2050", false},
		{"Thu Aug  8 2:01:18 2050", false},
		{"Thu Aug  8 02:01:18 2050 ", true}, // trimmed
		{"Thu Aug 08 02:01:18 2050", false},
		{"Thursday, 08-Aug-50 2:01:18 GMT", false},
		{"0", false},
		{"Sun, 06 Nov 1994 08:49:37 UTC", false},
		{"Sun, 06 Nov 94 08:49:37 GMT", false},
		{"Sun 06 Nov 1994 08:49:37 GMT", false},
		{"Sun, 06  Nov  1994 08:49:37 GMT", false},
		{"Sun, 06-Nov-1994 08:49:37 GMT", false},
		{"Sun, 06 Nov 1994 8:49:37 GMT", false},
		{"Sun, 06 Nov 1994 08.49.37 GMT", false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if _, ok := cachecontrol.ParseHTTPDate(tt.in); ok != tt.ok {
				t.Fatalf("ParseHTTPDate(%q) ok = %v, want %v", tt.in, ok, tt.ok)
			}
		})
	}
}

func TestMatchNone(t *testing.T) {
	tests := []struct {
		name string
		inm  []string
		etag string
		want bool
	}{
		{"StrongEqual", []string{`"a"`}, `"a"`, true},
		{"WeakComparison", []string{`W/"a"`}, `"a"`, true},
		{"WeakBoth", []string{`W/"a"`}, `W/"a"`, true},
		{"List", []string{`"x", "y", "a"`}, `"a"`, true},
		{"ListAcrossLines", []string{`"x"`, `"a"`}, `"a"`, true},
		{"Star", []string{`*`}, `"a"`, true},
		{"NoMatch", []string{`"b"`}, `"a"`, false},
		{"CommaInsideTag", []string{`"a,b"`}, `"a,b"`, true},
		{"NoStoredETag", []string{`"a"`}, ``, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := cachecontrol.MatchNone(tt.inm, tt.etag); got != tt.want {
				t.Fatalf("MatchNone(%q, %q) = %v", tt.inm, tt.etag, got)
			}
		})
	}
}

func TestVaryFields(t *testing.T) {
	f, star := cachecontrol.VaryFields([]string{"accept-encoding, Foo", "", "foo"})
	if star || len(f) != 2 || f[0] != "Accept-Encoding" || f[1] != "Foo" {
		t.Fatalf("got %v %v", f, star)
	}
	if _, star := cachecontrol.VaryFields([]string{"", "Foo, *"}); !star {
		t.Fatal("star not detected")
	}
}

func TestParseAge(t *testing.T) {
	tests := []struct {
		name  string
		lines []string
		want  time.Duration
		ok    bool
	}{
		{"Integer", []string{"30"}, 30 * time.Second, true},
		{"Spaces", []string{" 30 "}, 30 * time.Second, true},
		{"ListFirstMember", []string{"7200, 0"}, 7200 * time.Second, true},
		{"ListNoSpace", []string{"7200,0"}, 7200 * time.Second, true},
		{"FirstLineWins", []string{"7200", "0"}, 7200 * time.Second, true},
		{"ListFirstMemberInvalid", []string{"abc, 30"}, 0, false},
		{"ListFirstMemberEmpty", []string{", 30"}, 0, false},
		{"Overflow", []string{"2147483649"}, cachecontrol.MaxDelta, true},
		{"HugeOverflow", []string{"99999999999999999999"}, cachecontrol.MaxDelta, true},
		{"NonNumeric", []string{"abc"}, 0, false},
		{"Negative", []string{"-1"}, 0, false},
		{"Float", []string{"1.5"}, 0, false},
		{"Empty", []string{""}, 0, false},
		{"None", nil, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if d, ok := cachecontrol.ParseAge(tt.lines); d != tt.want || ok != tt.ok {
				t.Fatalf("ParseAge(%q) = %v, %v; want %v, %v", tt.lines, d, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestParseTargeted(t *testing.T) {
	tests := []struct {
		name string
		in   string
		ok   bool
		ma   time.Duration
	}{
		{"MaxAge", "max-age=3600", true, time.Hour},
		{"Extension", "foobar, max-age=3600", true, time.Hour},
		{"Overflow", "max-age=99999999999", true, cachecontrol.MaxDelta},
		{"QuotedMaxAgeIsWrongType", `max-age="3600"`, false, 0},
		{"UnknownTypeInvalid", "max-age=10000, &&&&&", false, 0},
		{"UppercaseKeyInvalid", "MaX-aGe=3600", false, 0},
		{"SpaceBeforeEquals", "max-age =100", false, 0},
		{"Params", "max-age=60;foo=bar, public", true, time.Minute},
		{"Empty", "", false, 0},
		{"TrailingComma", "max-age=1,", false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, ok := cachecontrol.ParseTargeted([]string{tt.in})
			if ok != tt.ok || (ok && d.MaxAge != tt.ma) {
				t.Fatalf("ParseTargeted(%q) = %v, %v", tt.in, d.MaxAge, ok)
			}
		})
	}
	if d, ok := cachecontrol.ParseTargeted([]string{"private"}); !ok || !d.Private {
		t.Fatal("private not parsed")
	}
}

func FuzzParsers(f *testing.F) {
	for _, s := range []string{"max-age=60", `no-cache="a, b", private`, `x="\"", max-age="1"`, "Sun, 06 Nov 1994 08:49:37 GMT", `W/"a", "b"`, "max-age=1;a=?1, b=:YQ==:"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		cachecontrol.Parse([]string{s})
		cachecontrol.ParseTargeted([]string{s})
		cachecontrol.ParseHTTPDate(s)
		cachecontrol.MatchNone([]string{s}, s)
		cachecontrol.VaryFields([]string{s})
		cachecontrol.ParseAge([]string{s})
	})
}
