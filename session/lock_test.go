package session_test

import (
	"io"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rediware/rediware/session"
)

// incrApp increments a counter in the session. Each request waits (up to
// wait) for the other one to have loaded the session too, which makes a
// lost update certain when nothing serialises them.
func incrApp(m *session.Manager, wait time.Duration) http.Handler {
	var arrived atomic.Int32
	mux := http.NewServeMux()
	mux.HandleFunc("/incr", func(w http.ResponseWriter, r *http.Request) {
		n := m.GetInt(r.Context(), "n")
		arrived.Add(1)
		for deadline := time.Now().Add(wait); arrived.Load() < 2 && time.Now().Before(deadline); {
			time.Sleep(time.Millisecond)
		}
		m.Put(r.Context(), "n", n+1)
		io.WriteString(w, "ok")
	})
	mux.HandleFunc("/n", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, strconv.Itoa(m.GetInt(r.Context(), "n")))
	})
	mux.HandleFunc("/start", func(w http.ResponseWriter, r *http.Request) {
		m.Put(r.Context(), "n", 0)
	})
	return m.LoadAndSave(mux)
}

func concurrentIncrements(t *testing.T, m *session.Manager, wait time.Duration) string {
	t.Helper()
	h := incrApp(m, wait)
	tok := sessionCookie(do(t, h, "GET", "/start", "")).Value
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			if res := do(t, h, "GET", "/incr", tok); res.StatusCode != 200 {
				t.Errorf("incr: status %d", res.StatusCode)
			}
		})
	}
	wg.Wait()
	return body(t, do(t, h, "GET", "/n", tok))
}

func TestLoadAndSave_without_lock_loses_a_concurrent_update(t *testing.T) {
	_, _, s := newRedis(t)
	if got := concurrentIncrements(t, session.New(s), 5*time.Second); got != "1" {
		t.Fatalf("n = %s; this test expects the lost update (n = 1) without the lock", got)
	}
}

func TestLoadAndSave_Lock_prevents_the_lost_update(t *testing.T) {
	_, c, s := newRedis(t)
	if got := concurrentIncrements(t, session.NewManager(s, session.Config{Lock: true}), 300*time.Millisecond); got != "2" {
		t.Fatalf("n = %s, want 2 with the lock", got)
	}
	if keys := c.Keys(t.Context(), "scs:lock:*").Val(); len(keys) != 0 {
		t.Fatalf("locks left behind: %v", keys)
	}
}

func TestLoadAndSave_Lock_wait_times_out_with_503(t *testing.T) {
	_, c, s := newRedis(t)
	m := session.NewManager(s, session.Config{Lock: true, LockWait: 100 * time.Millisecond})
	h := app(m)
	tok := newSession(t, h, "x")
	c.Set(t.Context(), "scs:lock:"+tok, "someone else", time.Minute)
	start := time.Now()
	res := do(t, h, "GET", "/get", tok)
	if res.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("status %d, want 503", res.StatusCode)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("waited %v for a 100ms LockWait", d)
	}
}

func TestLoadAndSave_Lock_is_released_when_the_handler_panics(t *testing.T) {
	_, c, s := newRedis(t)
	m := session.NewManager(s, session.Config{Lock: true, LockWait: 200 * time.Millisecond})
	inner := app(m)
	h := m.LoadAndSave(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/panic" {
			panic(http.ErrAbortHandler)
		}
		inner.ServeHTTP(w, r)
	}))
	tok := newSession(t, h, "x")
	func() {
		defer func() {
			if recover() == nil {
				t.Fatal("handler did not panic")
			}
		}()
		do(t, h, "GET", "/panic", tok)
	}()
	if keys := c.Keys(t.Context(), "scs:lock:*").Val(); len(keys) != 0 {
		t.Fatalf("lock left behind by a panicking handler: %v", keys)
	}
	if got := get(t, h, tok); got != "x" {
		t.Fatalf("next request of the session: %q", got)
	}
}

func TestLoadAndSave_Lock_release_leaves_a_lock_taken_over_by_another_request(t *testing.T) {
	_, c, s := newRedis(t)
	m := session.NewManager(s, session.Config{Lock: true})
	inner := app(m)
	var tok string
	h := m.LoadAndSave(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/expire" {
			// This request's lock expired (LockTTL) and another took it.
			c.Set(r.Context(), "scs:lock:"+tok, "another request", time.Minute)
		}
		inner.ServeHTTP(w, r)
	}))
	tok = newSession(t, h, "x")
	do(t, h, "GET", "/expire", tok)
	if v := c.Get(t.Context(), "scs:lock:"+tok).Val(); v != "another request" {
		t.Fatalf("lock value %q: release freed a lock it no longer owned", v)
	}
}

func TestLoadAndSave_touch_of_a_read_does_not_undo_a_concurrent_write(t *testing.T) {
	_, _, s := newRedis(t)
	m := session.NewManager(s, session.Config{IdleTimeout: time.Hour, TouchInterval: time.Millisecond})
	loaded, release := make(chan struct{}), make(chan struct{})
	read := m.LoadAndSave(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := m.GetString(r.Context(), "v") // reads, changes nothing
		close(loaded)
		<-release
		io.WriteString(w, v)
	}))
	h := app(m)
	tok := newSession(t, h, "old")
	time.Sleep(5 * time.Millisecond) // the next read is due for a touch

	done := make(chan *http.Response)
	go func() { done <- do(t, read, "GET", "/read", tok) }()
	<-loaded
	if res := do(t, h, "GET", "/put?v=new", tok); res.StatusCode != 200 {
		t.Fatalf("put: status %d", res.StatusCode)
	}
	close(release)
	if res := <-done; res.StatusCode != 200 {
		t.Fatalf("read: status %d", res.StatusCode)
	}
	if got := get(t, h, tok); got != "new" {
		t.Fatalf("v = %q after the concurrent read's touch, want %q: the touch wrote back its stale copy", got, "new")
	}
}
