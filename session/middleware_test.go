package session_test

import (
	"encoding/base64"
	"net/http"
	"testing"
	"time"

	"github.com/rediware/rediware/session"
)

func TestLoadAndSave_round_trip(t *testing.T) {
	_, _, s := newRedis(t)
	h := app(session.New(s))
	tok := newSession(t, h, "hello")
	if got := get(t, h, tok); got != "hello" {
		t.Fatalf("get = %q, want hello", got)
	}
}

func TestLoadAndSave_cookie_is_secure_by_default(t *testing.T) {
	_, _, s := newRedis(t)
	h := app(session.New(s))
	res := do(t, h, "GET", "/put?v=x", "")
	c := sessionCookie(res)
	if c == nil {
		t.Fatal("no session cookie")
	}
	if !c.Secure || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/" {
		t.Fatalf("cookie %+v: want Secure, HttpOnly, SameSite=Lax, Path=/", c)
	}
	raw, err := base64.RawURLEncoding.DecodeString(c.Value)
	if err != nil || len(raw) != 32 {
		t.Fatalf("token %q: %d bytes (err %v), want 32 (256 bits)", c.Value, len(raw), err)
	}
	if c.MaxAge <= 0 {
		t.Fatalf("MaxAge = %d, want a persistent cookie", c.MaxAge)
	}
	if v := res.Header.Values("Vary"); len(v) == 0 || v[0] != "Cookie" {
		t.Fatalf("Vary = %v, want Cookie", v)
	}
}

func TestLoadAndSave_InsecureCookie_drops_Secure(t *testing.T) {
	_, _, s := newRedis(t)
	h := app(session.NewManager(s, session.Config{InsecureCookie: true}))
	c := sessionCookie(do(t, h, "GET", "/put?v=x", ""))
	if c == nil || c.Secure || !c.HttpOnly {
		t.Fatalf("cookie %+v: want HttpOnly without Secure", c)
	}
}

func TestLoadAndSave_applied_twice_does_not_wait_for_its_own_lock(t *testing.T) {
	_, _, s := newRedis(t)
	m := session.NewManager(s, session.Config{Lock: true, LockWait: 200 * time.Millisecond})
	h := m.LoadAndSave(app(m)) // app wraps with LoadAndSave too
	tok := newSession(t, h, "x")
	if res := do(t, h, "GET", "/put?v=y", tok); res.StatusCode != 200 {
		t.Fatalf("status %d: the inner middleware waited for the outer one's lock", res.StatusCode)
	}
	if got := get(t, h, tok); got != "y" {
		t.Fatalf("get %q", got)
	}
}

func TestLoadAndSave_applied_twice_loads_and_saves_once(t *testing.T) {
	_, c, s := newRedis(t)
	m := session.New(s)
	h := m.LoadAndSave(app(m)) // app wraps with LoadAndSave too
	tok := login(t, h, "alice")
	c.ConfigResetStat(t.Context())
	if res := do(t, h, "GET", "/put?v=x", tok); res.StatusCode != 200 {
		t.Fatalf("status %d", res.StatusCode)
	}
	calls := commandCalls(t, c)
	delete(calls, "config|resetstat")
	if calls["get"] != 1 || calls["set"] != 1 || len(calls) != 2 {
		t.Fatalf("ran %v; want one load and one save", calls)
	}
	if n, err := m.RevokeAll(t.Context(), "alice"); n != 1 || err != nil {
		t.Fatalf("RevokeAll = %d, %v", n, err)
	}
	if whoami(t, h, tok) != "" {
		t.Fatal("revoked session works")
	}
}

func TestLoadAndSave_two_managers_nested_each_load_their_own_session(t *testing.T) {
	_, _, s := newRedis(t)
	users := session.New(s)
	admins := session.NewManager(s, session.Config{CookieName: "admin", Prefix: "admin:session:"})
	h := users.LoadAndSave(admins.LoadAndSave(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		users.Put(r.Context(), "u", "1")
		admins.Put(r.Context(), "a", "2")
		w.Write([]byte("ok"))
	})))
	res := do(t, h, "GET", "/", "")
	if res.StatusCode != 200 {
		t.Fatalf("status %d", res.StatusCode)
	}
	names := map[string]bool{}
	for _, c := range res.Cookies() {
		names[c.Name] = c.Value != ""
	}
	if !names["session"] || !names["admin"] {
		t.Fatalf("cookies %v: want one of each manager", res.Cookies())
	}
}
