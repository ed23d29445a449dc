package session_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/rediware/rediware/internal/redistest"
	"github.com/rediware/rediware/session"
	"github.com/rediware/rediware/store/goredis"
)

func TestMain(m *testing.M) { redistest.Main(m) }

// newRedis starts a redis-server and returns it with a go-redis client and
// a store over that client.
func newRedis(t *testing.T) (*redistest.Server, *redis.Client, *goredis.Store) {
	t.Helper()
	srv := redistest.Start(t)
	// ContextTimeoutEnabled: without it go-redis ignores context deadlines
	// and waits for its ReadTimeout (3s) on a hung server.
	c := redis.NewClient(&redis.Options{Addr: srv.Addr(), MaxRetries: -1, ContextTimeoutEnabled: true})
	t.Cleanup(func() { _ = c.Close() })
	return srv, c, goredis.New(c)
}

// do sends one request through h with the given session cookie ("" for
// none) and returns the response.
func do(t *testing.T, h http.Handler, method, target, cookie string) *http.Response {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	if cookie != "" {
		req.AddCookie(&http.Cookie{Name: "session", Value: cookie})
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

func body(t *testing.T, res *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// sessionCookie returns the session cookie set by res, or nil.
func sessionCookie(res *http.Response) *http.Cookie {
	for _, c := range res.Cookies() {
		if c.Name == "session" {
			return c
		}
	}
	return nil
}

// app is a small application: /put?v=x stores v, /get answers it,
// /login?u=id logs in, /logout destroys, /refresh renews the token.
func app(m *session.Manager) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/put", func(w http.ResponseWriter, r *http.Request) {
		m.Put(r.Context(), "v", r.URL.Query().Get("v"))
		io.WriteString(w, "ok")
	})
	mux.HandleFunc("/get", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, m.GetString(r.Context(), "v"))
	})
	mux.HandleFunc("/login", func(w http.ResponseWriter, r *http.Request) {
		if err := m.Login(r.Context(), r.URL.Query().Get("u")); err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		io.WriteString(w, "welcome")
	})
	mux.HandleFunc("/logout", func(w http.ResponseWriter, r *http.Request) {
		if err := m.Logout(r.Context()); err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		io.WriteString(w, "bye")
	})
	mux.HandleFunc("/refresh", func(w http.ResponseWriter, r *http.Request) {
		if err := m.Refresh(r.Context()); err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		io.WriteString(w, "refreshed")
	})
	mux.HandleFunc("/whoami", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, m.UserID(r.Context()))
	})
	return m.LoadAndSave(mux)
}

// newSession stores v in a new session through h and returns its token.
func newSession(t *testing.T, h http.Handler, v string) string {
	t.Helper()
	res := do(t, h, "GET", "/put?v="+v, "")
	c := sessionCookie(res)
	if res.StatusCode != 200 || c == nil || c.Value == "" {
		t.Fatalf("put: status %d, cookie %v", res.StatusCode, c)
	}
	return c.Value
}

// login logs user in through h, from a fresh session, and returns the token.
func login(t *testing.T, h http.Handler, user string) string {
	t.Helper()
	res := do(t, h, "GET", "/login?u="+user, "")
	c := sessionCookie(res)
	if res.StatusCode != 200 || c == nil || c.Value == "" {
		t.Fatalf("login: status %d, cookie %v", res.StatusCode, c)
	}
	return c.Value
}

func get(t *testing.T, h http.Handler, token string) string {
	t.Helper()
	res := do(t, h, "GET", "/get", token)
	if res.StatusCode != 200 {
		t.Fatalf("get: status %d", res.StatusCode)
	}
	return body(t, res)
}

func exists(t *testing.T, c redis.Cmdable, key string) bool {
	t.Helper()
	n, err := c.Exists(context.Background(), key).Result()
	if err != nil {
		t.Fatal(err)
	}
	return n == 1
}
