package session_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/rediware/rediware/session"
	"github.com/rediware/rediware/store/goredis"
)

// A cookie that browsers refuse to store logs nobody in and says nothing:
// NewManager must refuse such a configuration at once.
func TestNewManager_cookie_browsers_would_reject_panics(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	t.Cleanup(func() { _ = c.Close() })
	s := goredis.New(c)
	for _, tc := range []struct {
		name string
		cfg  session.Config
	}{
		{"__Host- with a Domain", session.Config{CookieName: "__Host-session", CookieDomain: "example.com"}},
		{"__Host- with a Path", session.Config{CookieName: "__Host-session", CookiePath: "/app"}},
		{"__Host- without Secure", session.Config{CookieName: "__Host-session", InsecureCookie: true}},
		{"__host- in lower case without Secure", session.Config{CookieName: "__host-session", InsecureCookie: true}},
		{"__Secure- without Secure", session.Config{CookieName: "__Secure-session", InsecureCookie: true}},
		{"SameSite=None without Secure", session.Config{SameSite: http.SameSiteNoneMode, InsecureCookie: true}},
		{"invalid name", session.Config{CookieName: "my session"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				p := recover()
				if p == nil {
					t.Fatal("NewManager accepted it")
				}
				if msg, _ := p.(string); !strings.HasPrefix(msg, "session: ") {
					t.Fatalf("panic %v, want a session: message", p)
				}
			}()
			session.NewManager(s, tc.cfg)
		})
	}
}

func TestLoadAndSave_Host_prefixed_cookie_works_with_the_defaults(t *testing.T) {
	_, _, s := newRedis(t)
	h := app(session.NewManager(s, session.Config{CookieName: "__Host-session"}))
	res := do(t, h, "GET", "/put?v=x", "")
	var tok string
	for _, c := range res.Cookies() {
		if c.Name == "__Host-session" && c.Secure && c.Path == "/" && c.Domain == "" {
			tok = c.Value
		}
	}
	if tok == "" {
		t.Fatalf("cookies %v: want a Secure __Host-session with Path=/ and no Domain", res.Cookies())
	}
}
