package session_test

import (
	"encoding/base64"
	"net/http"
	"testing"

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
