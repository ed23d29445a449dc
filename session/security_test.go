package session_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"

	"github.com/rediware/rediware/session"
)

func TestLogin_renews_token_and_kills_the_old_one(t *testing.T) {
	_, c, s := newRedis(t)
	h := app(session.New(s))
	anon := newSession(t, h, "cart") // an attacker could have planted this one
	res := do(t, h, "GET", "/login?u=alice", anon)
	ck := sessionCookie(res)
	if ck == nil || ck.Value == "" || ck.Value == anon {
		t.Fatalf("login kept the token: cookie %v", ck)
	}
	if exists(t, c, "scs:session:"+anon) {
		t.Fatal("old session key still exists after login")
	}
	if got := body(t, do(t, h, "GET", "/whoami", anon)); got != "" {
		t.Fatalf("old token is still logged in as %q", got)
	}
	if got := body(t, do(t, h, "GET", "/whoami", ck.Value)); got != "alice" {
		t.Fatalf("new token: user %q", got)
	}
	if got := get(t, h, ck.Value); got != "cart" {
		t.Fatalf("data lost at login: %q", got)
	}
}

func TestRefresh_renews_token_and_kills_the_old_one(t *testing.T) {
	_, _, s := newRedis(t)
	h := app(session.New(s))
	tok := newSession(t, h, "x")
	ck := sessionCookie(do(t, h, "GET", "/refresh", tok))
	if ck == nil || ck.Value == tok {
		t.Fatalf("cookie %v", ck)
	}
	if get(t, h, tok) != "" || get(t, h, ck.Value) != "x" {
		t.Fatal("want old token dead, new token with the data")
	}
}

func TestLogout_token_is_rejected_afterwards(t *testing.T) {
	_, c, s := newRedis(t)
	h := app(session.New(s))
	tok := login(t, h, "bob")
	res := do(t, h, "GET", "/logout", tok)
	ck := sessionCookie(res)
	if ck == nil || ck.Value != "" || ck.MaxAge >= 0 {
		t.Fatalf("logout cookie %v: want it cleared", ck)
	}
	if exists(t, c, "scs:session:"+tok) {
		t.Fatal("key still exists")
	}
	res = do(t, h, "GET", "/whoami", tok)
	if got := body(t, res); res.StatusCode != 200 || got != "" {
		t.Fatalf("destroyed token: status %d user %q", res.StatusCode, got)
	}
}

func TestLoadAndSave_bad_cookies_give_a_fresh_session(t *testing.T) {
	_, c, s := newRedis(t)
	h := app(session.New(s))
	good := newSession(t, h, "secret")
	tampered := []byte(good)
	if tampered[10] == 'A' {
		tampered[10] = 'B'
	} else {
		tampered[10] = 'A'
	}
	cases := map[string]string{
		"tampered":       string(tampered),
		"truncated":      good[:42],
		"extended":       good + "A",
		"malformed":      "../../etc/passwd",
		"glob":           strings.Repeat("*", 43),
		"unknown":        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		"oversized 8KiB": strings.Repeat("A", 8<<10),
		"binary":         "\x00\x01\x02",
	}
	before, _ := c.DBSize(t.Context()).Result()
	for name, cookie := range cases {
		t.Run(name, func(t *testing.T) {
			res := do(t, h, "GET", "/get", cookie)
			if got := body(t, res); res.StatusCode != 200 || got != "" {
				t.Fatalf("status %d body %q: want 200 and an empty session", res.StatusCode, got)
			}
			if sessionCookie(res) != nil {
				t.Fatal("an unchanged fresh session must not set a cookie")
			}
		})
	}
	if after, _ := c.DBSize(t.Context()).Result(); after != before {
		t.Fatalf("bad cookies created keys: %d -> %d", before, after)
	}
}

func TestLoadAndSave_undecodable_data_gives_a_fresh_session(t *testing.T) {
	_, c, s := newRedis(t)
	h := app(session.New(s))
	tok := newSession(t, h, "x")
	c.Set(t.Context(), "scs:session:"+tok, "not gob", time.Minute)
	res := do(t, h, "GET", "/get", tok)
	if got := body(t, res); res.StatusCode != 200 || got != "" {
		t.Fatalf("status %d body %q", res.StatusCode, got)
	}
	if !exists(t, c, "scs:session:"+tok) {
		t.Fatal("undecodable session was deleted; it may be another app version's")
	}
}

// storeRaw writes a session directly, bypassing the Manager.
func storeRaw(t *testing.T, s *session.RedisStore, deadline time.Time, vals map[string]any, ttl time.Duration) string {
	t.Helper()
	b, err := scs.GobCodec{}.Encode(deadline, vals)
	if err != nil {
		t.Fatal(err)
	}
	tok := "BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB" + string(rune('a'+len(vals)))
	if err := s.CommitCtx(context.Background(), tok, b, time.Now().Add(ttl)); err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestLoadAndSave_enforces_absolute_deadline_beyond_redis_ttl(t *testing.T) {
	_, _, s := newRedis(t)
	m := session.New(s)
	h := app(m)
	// The Redis TTL says an hour, the session's own deadline has passed.
	tok := storeRaw(t, m.Store(), time.Now().Add(-time.Second), map[string]any{"v": "old"}, time.Hour)
	if got := get(t, h, tok); got != "" {
		t.Fatalf("session past its deadline was loaded: %q", got)
	}
}

func TestLoadAndSave_enforces_idle_timeout_beyond_redis_ttl(t *testing.T) {
	_, _, s := newRedis(t)
	m := session.NewManager(s, session.Config{IdleTimeout: time.Minute})
	h := app(m)
	idle := time.Now().Add(-2 * time.Minute).UnixMilli()
	tok := storeRaw(t, m.Store(), time.Now().Add(time.Hour),
		map[string]any{"v": "old", session.TouchedKey: idle}, time.Hour)
	if got := get(t, h, tok); got != "" {
		t.Fatalf("idle session was loaded: %q", got)
	}
}

func TestLoadAndSave_idle_timeout_expires_in_redis(t *testing.T) {
	_, c, s := newRedis(t)
	const idle = 500 * time.Millisecond
	h := app(session.NewManager(s, session.Config{IdleTimeout: idle}))
	start := time.Now()
	tok := newSession(t, h, "x")
	key := "scs:session:" + tok
	ttl := c.PTTL(t.Context(), key).Val()
	// A loaded machine may stall past the idle timeout before PTTL runs:
	// then the key must already be gone (-2), never without a TTL (-1).
	if ttl > idle || ttl == -1 || (ttl <= 0 && time.Since(start) < idle) {
		t.Fatalf("PTTL = %v, want at most the idle timeout %v", ttl, idle)
	}
	// Redis itself drops the key: poll its existence, not only the load
	// (which would also fail on the server-side idle check).
	for deadline := time.Now().Add(idle + 10*time.Second); exists(t, c, key); {
		if time.Now().After(deadline) {
			t.Fatalf("session key still in Redis %v after its last write", time.Since(start))
		}
		time.Sleep(50 * time.Millisecond)
	}
	if got := get(t, h, tok); got != "" {
		t.Fatalf("idle session still alive: %q", got)
	}
}

func TestLoadAndSave_touch_extends_idle_expiry_without_a_change(t *testing.T) {
	_, c, s := newRedis(t)
	// Generous idle timeout against a loaded CI machine: each gap between
	// requests (250ms + the request) must stay below it, while the whole
	// run lasts well past one idle timeout, which only touches survive.
	const idle, touch = 1500 * time.Millisecond, 100 * time.Millisecond
	h := app(session.NewManager(s, session.Config{IdleTimeout: idle, TouchInterval: touch}))
	tok := newSession(t, h, "x")
	start := time.Now()
	for time.Since(start) < idle+idle/2 {
		time.Sleep(250 * time.Millisecond)
		res := do(t, h, "GET", "/get", tok)
		if got := body(t, res); got != "x" {
			t.Fatalf("session lost while in use after %v: %q", time.Since(start), got)
		}
		if ck := sessionCookie(res); ck == nil || ck.Value != tok {
			t.Fatalf("touch must re-send the same token with its new expiry, got %v", ck)
		}
	}
	if ttl := c.PTTL(t.Context(), "scs:session:"+tok).Val(); ttl < idle/2 {
		t.Fatalf("PTTL %v after a touch, want close to %v", ttl, idle)
	}
}
