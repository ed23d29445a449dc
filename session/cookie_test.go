package session_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/rediware/rediware/session"
)

// doRaw sends one request with a raw Cookie header, as a browser or an
// attacker might, bypassing http.Cookie's sanitising.
func doRaw(t *testing.T, h http.Handler, target string, cookieHeaders ...string) *http.Response {
	t.Helper()
	req := httptest.NewRequest("GET", target, nil)
	for _, v := range cookieHeaders {
		req.Header.Add("Cookie", v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

func TestLoadAndSave_several_session_cookies_use_the_first_well_formed_one(t *testing.T) {
	_, _, s := newRedis(t)
	h := app(session.New(s))
	tok := newSession(t, h, "mine")
	for name, hdrs := range map[string][]string{
		"junk first (tossed from a sibling domain)": {"session=junk; session=" + tok},
		"empty first":   {"session=; session=" + tok},
		"two headers":   {"session=../x", "session=" + tok},
		"quoted":        {`session="` + tok + `"`},
		"other cookies": {"a=1; session=" + tok + "; b=2"},
	} {
		t.Run(name, func(t *testing.T) {
			res := doRaw(t, h, "/get", hdrs...)
			if got := body(t, res); res.StatusCode != 200 || got != "mine" {
				t.Fatalf("status %d body %q, want the session of the well-formed cookie", res.StatusCode, got)
			}
		})
	}
}

func TestLoadAndSave_weird_cookie_headers_give_a_fresh_session(t *testing.T) {
	_, _, s := newRedis(t)
	h := app(session.New(s))
	for name, hdr := range map[string]string{
		"invalid utf-8":  "session=\xff\xfe" + strings.Repeat("A", 41),
		"control bytes":  "session=\x00\x01\x7f",
		"no value":       "session",
		"only separator": ";;;;;=;=",
		"many cookies":   strings.Repeat("session=x; ", 2000),
		"huge":           "session=" + strings.Repeat("A", 1<<20),
		"unicode":        "session=ééééééééééééééééééééééé",
	} {
		t.Run(name, func(t *testing.T) {
			res := doRaw(t, h, "/get", hdr)
			if got := body(t, res); res.StatusCode != 200 || got != "" {
				t.Fatalf("status %d body %q, want 200 and an empty session", res.StatusCode, got)
			}
		})
	}
}
