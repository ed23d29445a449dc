package ratelimit_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/rediware/rediware/ratelimit"
)

// TestCompose_and_FirstOf_accept_a_key_func_that_returns_a_new_slice: a
// KeyFunc should append to dst, but one that returns a slice of its own
// (return []byte(id), true) is an easy mistake. Alone it works; inside
// Compose it must not panic, and inside Compose or FirstOf it must give the
// key an appending function gives, tag and length prefix included (without
// them FirstOf's parts could collide).
func TestCompose_and_FirstOf_accept_a_key_func_that_returns_a_new_slice(t *testing.T) {
	fresh := func(_ []byte, r *http.Request) ([]byte, bool) {
		v := r.Header.Get("X-Id")
		return []byte(v), v != ""
	}
	appending := func(dst []byte, r *http.Request) ([]byte, bool) {
		v := r.Header.Get("X-Id")
		return append(dst, v...), v != ""
	}
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "192.0.2.1:1"
	r.Header.Set("X-Id", "u1")
	for _, tc := range []struct {
		name      string
		got, want ratelimit.KeyFunc
	}{
		{"Compose after ByIP", ratelimit.Compose(ratelimit.ByIP(nil), fresh), ratelimit.Compose(ratelimit.ByIP(nil), appending)},
		{"Compose first", ratelimit.Compose(fresh, ratelimit.ByIP(nil)), ratelimit.Compose(appending, ratelimit.ByIP(nil))},
		{"FirstOf", ratelimit.FirstOf(fresh, ratelimit.ByIP(nil)), ratelimit.FirstOf(appending, ratelimit.ByIP(nil))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want, wok := tc.want(make([]byte, 0, 128), r)
			var got []byte
			var ok bool
			func() {
				defer func() {
					if p := recover(); p != nil {
						t.Fatalf("panic: %v", p)
					}
				}()
				got, ok = tc.got(make([]byte, 0, 128), r)
			}()
			if ok != wok || string(got) != string(want) {
				t.Fatalf("key %q, %v; want %q, %v as with an appending function", got, ok, want, wok)
			}
		})
	}
}
