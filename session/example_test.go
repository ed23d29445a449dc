package session_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/rediware/rediware/session"
	"github.com/rediware/rediware/store/goredis"
)

func ExampleNew() {
	mr := miniredis.NewMiniRedis() // in production: your Redis
	if err := mr.Start(); err != nil {
		panic(err)
	}
	defer mr.Close()
	client := redis.NewClient(&redis.Options{Addr: mr.Addr(), ContextTimeoutEnabled: true})
	defer client.Close()

	sessions := session.New(goredis.New(client))

	mux := http.NewServeMux()
	mux.HandleFunc("/login", func(w http.ResponseWriter, r *http.Request) {
		if err := sessions.Login(r.Context(), "user-42"); err != nil {
			http.Error(w, "login failed", http.StatusInternalServerError)
			return
		}
		io.WriteString(w, "logged in")
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello %q", sessions.UserID(r.Context()))
	})
	h := sessions.LoadAndSave(mux)

	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("POST", "/login", nil))
	cookie := rec.Result().Cookies()[0]
	fmt.Println(cookie.Name, cookie.Secure, cookie.HttpOnly, cookie.SameSite == http.SameSiteLaxMode)

	req := httptest.NewRequest("GET", "/", nil)
	req.AddCookie(cookie)
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	fmt.Println(rec.Body.String())
	// Output:
	// session true true true
	// hello "user-42"
}

func ExampleManager_RevokeAll() {
	mr := miniredis.NewMiniRedis()
	if err := mr.Start(); err != nil {
		panic(err)
	}
	defer mr.Close()
	client := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	defer client.Close()
	sessions := session.NewManager(goredis.New(client), session.Config{IdleTimeout: 30 * time.Minute})

	login := sessions.LoadAndSave(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = sessions.Login(r.Context(), "alice")
	}))
	for range 3 { // three devices
		login.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("POST", "/login", nil))
	}
	list, _ := sessions.Sessions(context.Background(), "alice")
	fmt.Println("active:", len(list))
	n, _ := sessions.RevokeAll(context.Background(), "alice")
	fmt.Println("revoked:", n)
	list, _ = sessions.Sessions(context.Background(), "alice")
	fmt.Println("active:", len(list))
	// Output:
	// active: 3
	// revoked: 3
	// active: 0
}

func ExampleNewStore() {
	mr := miniredis.NewMiniRedis()
	if err := mr.Start(); err != nil {
		panic(err)
	}
	defer mr.Close()
	client := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	defer client.Close()

	// An scs store, for code that keeps its own *scs.SessionManager:
	//	sm := scs.New(); sm.Store = session.NewStore(s)
	rs := session.NewStore(goredis.New(client))
	_ = rs.Commit("token", []byte("codec bytes"), time.Now().Add(time.Hour))
	b, found, _ := rs.Find("token")
	fmt.Println(rs.Key("token"), string(b), found)
	// Output: scs:session:token codec bytes true
}
