package responsecache

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// The local tier's allocation-free lookup must build exactly the key the
// general path reads and writes, or it would serve another URL's entry.
func TestAppendHeadKey_equals_headKey_of_primaryKey(t *testing.T) {
	routes := map[string]*Route{
		"plain":   {},
		"query":   {IgnoreQuery: []string{"utm"}},
		"only":    {OnlyQuery: []string{"a"}},
		"headers": {KeyHeaders: []string{"X-Tenant"}, KeyCookies: []string{"currency"}, Key: func(r *http.Request) string { return "k" + r.URL.Path }},
	}
	reqs := []func() *http.Request{
		func() *http.Request { return httptest.NewRequest("GET", "http://Example.COM/page", nil) },
		func() *http.Request { return httptest.NewRequest("GET", "http://example.com/p%20q?b=2&a=1&utm=x", nil) },
		func() *http.Request {
			r := httptest.NewRequest("GET", "http://example.com/x", nil)
			r.Header.Set("X-Forwarded-Host", "evil.example")
			r.Header.Add("X-Forwarded-Prefix", "/a")
			r.Header.Add("X-Forwarded-Prefix", "/b")
			r.Header.Set("X-Tenant", "t1")
			r.Header.Set("Cookie", "currency=EUR; other=1")
			return r
		},
		func() *http.Request {
			r := httptest.NewRequest("GET", "https://example.com/x", nil)
			for i := 0; i < scanFieldsMax+2; i++ { // more fields than requestFields scans
				r.Header.Set("X-Field-"+strings.Repeat("a", i+1), "v")
			}
			r.Header.Set("X-Original-URL", "/admin")
			return r
		},
		func() *http.Request { return httptest.NewRequest("GET", "http://example.com/{brace}%7B", nil) },
		func() *http.Request {
			return httptest.NewRequest("GET", "http://example.com/"+strings.Repeat("long", 300), nil)
		},
	}
	for _, prefix := range []string{"", "p{1}%"} {
		for _, trust := range []bool{false, true} {
			c := New(nil, Options{KeyPrefix: prefix, TrustForwarded: trust})
			for name, rt := range routes {
				for i, mk := range reqs {
					r := mk()
					want := c.headKey(c.primaryKey(r, rt))
					got, ok := c.appendHeadKey(nil, r, rt, requestFields(r.Header))
					if ok && string(got) != want {
						t.Errorf("prefix %q trust %v route %s request %d: appendHeadKey %q, headKey %q", prefix, trust, name, i, got, want)
					}
					if !ok && i < len(reqs)-1 {
						t.Errorf("prefix %q route %s request %d: no fast key for a plain URL", prefix, name, i)
					}
				}
			}
		}
	}
}
