package session_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/rediware/rediware/session"
)

// cacheApp answers every request as publicly cacheable, the way a handler
// unaware of sessions might; /put also changes the session.
func cacheApp(m *session.Manager) http.Handler {
	return m.LoadAndSave(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/put" {
			m.Put(r.Context(), "v", "x")
		}
		w.Header().Set("Cache-Control", "public, max-age=60")
		io.WriteString(w, "page for "+m.GetString(r.Context(), "v"))
	}))
}

// sharedCacheMayStore reports whether the Cache-Control fields of h let a
// shared cache store the response (RFC 9111 section 3: private and
// no-store forbid it).
func sharedCacheMayStore(h http.Header) bool {
	for _, v := range h.Values("Cache-Control") {
		for _, d := range strings.Split(v, ",") {
			d = strings.ToLower(strings.TrimSpace(d))
			if d == "private" || d == "no-store" {
				return false
			}
		}
	}
	return true
}

func TestLoadAndSave_response_setting_the_cookie_is_never_stored_by_a_shared_cache(t *testing.T) {
	_, _, s := newRedis(t)
	h := cacheApp(session.New(s))
	res := do(t, h, "GET", "/put", "")
	if sessionCookie(res) == nil {
		t.Fatal("no cookie")
	}
	if sharedCacheMayStore(res.Header) {
		t.Fatalf("Cache-Control %q lets a shared cache store a response with a session token", res.Header.Values("Cache-Control"))
	}
	cc := strings.Join(res.Header.Values("Cache-Control"), ", ")
	if !strings.Contains(cc, `no-cache="Set-Cookie"`) {
		t.Fatalf(`Cache-Control %q lacks no-cache="Set-Cookie"`, cc)
	}
	if v := res.Header.Values("Vary"); len(v) == 0 || v[0] != "Cookie" {
		t.Fatalf("Vary = %v, want Cookie", v)
	}
}

func TestLoadAndSave_response_to_a_request_with_a_session_is_never_stored_by_a_shared_cache(t *testing.T) {
	_, _, s := newRedis(t)
	h := cacheApp(session.New(s))
	tok := sessionCookie(do(t, h, "GET", "/put", "")).Value
	res := do(t, h, "GET", "/", tok) // unchanged session: no Set-Cookie
	if sessionCookie(res) != nil || body(t, res) != "page for x" {
		t.Fatal("unexpected response")
	}
	if sharedCacheMayStore(res.Header) {
		t.Fatalf("Cache-Control %q lets a shared cache store a personalised response", res.Header.Values("Cache-Control"))
	}
}

func TestLoadAndSave_logout_response_is_never_stored_by_a_shared_cache(t *testing.T) {
	_, _, s := newRedis(t)
	h := app(session.New(s))
	tok := login(t, h, "alice")
	res := do(t, h, "GET", "/logout", tok)
	if sharedCacheMayStore(res.Header) {
		t.Fatalf("Cache-Control %q", res.Header.Values("Cache-Control"))
	}
}

func TestLoadAndSave_response_without_a_session_keeps_its_caching(t *testing.T) {
	_, _, s := newRedis(t)
	h := cacheApp(session.New(s))
	res := do(t, h, "GET", "/", "")
	if sessionCookie(res) != nil {
		t.Fatal("cookie set for an untouched session")
	}
	if cc := res.Header.Values("Cache-Control"); len(cc) != 1 || cc[0] != "public, max-age=60" {
		t.Fatalf("Cache-Control %q, want the handler's alone", cc)
	}
}

func TestLoadAndSave_cookie_expiry_matches_the_server_side_expiry(t *testing.T) {
	_, c, s := newRedis(t)
	for _, tc := range []struct {
		name       string
		life, idle time.Duration
		want       time.Duration
	}{
		{"idle first", 24 * time.Hour, 30 * time.Minute, 30 * time.Minute},
		{"lifetime first", 10 * time.Minute, time.Hour, 10 * time.Minute},
		{"no idle", 2 * time.Hour, -1, 2 * time.Hour},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := app(session.NewManager(s, session.Config{Lifetime: tc.life, IdleTimeout: tc.idle}))
			start := time.Now()
			ck := sessionCookie(do(t, h, "GET", "/put?v=x", ""))
			if ck == nil {
				t.Fatal("no cookie")
			}
			pttl := c.PTTL(t.Context(), "scs:session:"+ck.Value).Val()
			if d := pttl - tc.want; d > 0 || d < -5*time.Second {
				t.Fatalf("PTTL %v, want %v", pttl, tc.want)
			}
			if d := time.Duration(ck.MaxAge)*time.Second - tc.want; d > 2*time.Second || d < -5*time.Second {
				t.Fatalf("Max-Age %ds, want %v", ck.MaxAge, tc.want)
			}
			if d := ck.Expires.Sub(start.Add(tc.want)); d > 2*time.Second || d < -5*time.Second {
				t.Fatalf("Expires %v, want about %v", ck.Expires, start.Add(tc.want))
			}
		})
	}
}
