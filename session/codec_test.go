package session_test

import (
	"fmt"
	"io"
	"net/http"
	"testing"

	"github.com/rediware/rediware/session"
)

func TestDecodeCache_requests_do_not_share_values(t *testing.T) {
	_, _, s := newRedis(t)
	m := session.New(s)
	mux := http.NewServeMux()
	mux.HandleFunc("/init", func(w http.ResponseWriter, r *http.Request) {
		m.Put(r.Context(), "s", "kept")
		m.Put(r.Context(), "b", []byte("kept"))
	})
	mux.HandleFunc("/scribble", func(w http.ResponseWriter, r *http.Request) {
		// Change the loaded data without Put, and a mutable value in place:
		// nothing of it may leak to the next request.
		if b := m.GetBytes(r.Context(), "b"); len(b) > 0 {
			b[0] = 'X'
		}
	})
	mux.HandleFunc("/read", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, m.GetString(r.Context(), "s")+" "+string(m.GetBytes(r.Context(), "b")))
	})
	h := m.LoadAndSave(mux)
	tok := sessionCookie(do(t, h, "GET", "/init", "")).Value
	for range 3 {
		do(t, h, "GET", "/scribble", tok)
		if got := body(t, do(t, h, "GET", "/read", tok)); got != "kept kept" {
			t.Fatalf("read %q", got)
		}
	}
}

func TestDecodeCache_unsaved_change_does_not_reach_the_cache(t *testing.T) {
	_, _, s := newRedis(t)
	tok := newSession(t, app(session.New(s)), "a")
	// Saves fail on this manager, loads work: a change made by one request
	// and never saved must not be seen by the next one through the cache.
	h := app(session.New(failingCommits{s}))
	for range 2 { // the second read caches the decoded session
		if got := get(t, h, tok); got != "a" {
			t.Fatalf("get %q", got)
		}
	}
	if res := do(t, h, "GET", "/put?v=changed", tok); res.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("put: status %d", res.StatusCode)
	}
	if got := get(t, h, tok); got != "a" {
		t.Fatalf("get %q after an unsaved change, want a", got)
	}
}

func TestDecodeCache_session_changed_on_every_request_reads_what_was_saved(t *testing.T) {
	_, _, s := newRedis(t)
	m := session.New(s)
	h := m.LoadAndSave(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Types matter: GetInt and GetInt64 answer 0 for any other type.
		n, big := m.GetInt(r.Context(), "n"), m.GetInt64(r.Context(), "big")
		m.Put(r.Context(), "n", n+1)
		m.Put(r.Context(), "big", big+2)
		fmt.Fprint(w, n, big)
	}))
	tok := sessionCookie(do(t, h, "GET", "/", "")).Value
	for i := 1; i <= 5; i++ {
		if got, want := body(t, do(t, h, "GET", "/", tok)), fmt.Sprint(i, 2*i); got != want {
			t.Fatalf("request %d read %q, want %q", i, got, want)
		}
	}
}
