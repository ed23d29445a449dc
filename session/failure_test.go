package session_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/rediware/rediware/session"
	"github.com/rediware/rediware/store"
	rwredigo "github.com/rediware/rediware/store/redigo"
)

func TestLoadAndSave_redis_down_answers_503_problem(t *testing.T) {
	srv, _, s := newRedis(t)
	h := app(session.New(s))
	tok := newSession(t, h, "x")
	srv.Kill()
	res := do(t, h, "GET", "/get", tok)
	if res.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("status %d, want 503", res.StatusCode)
	}
	if ct := res.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("Content-Type %q", ct)
	}
	var p map[string]any
	if err := json.NewDecoder(res.Body).Decode(&p); err != nil || p["status"] != float64(503) {
		t.Fatalf("problem %v (%v)", p, err)
	}
}

func TestLoadAndSave_redis_down_ContinueWithoutSession(t *testing.T) {
	srv, _, s := newRedis(t)
	h := app(session.NewManager(s, session.Config{ContinueWithoutSession: true}))
	tok := newSession(t, h, "x")
	srv.Kill()
	res := do(t, h, "GET", "/get", tok)
	if got := body(t, res); res.StatusCode != 200 || got != "" {
		t.Fatalf("status %d body %q: want the handler with an empty session", res.StatusCode, got)
	}
	res = do(t, h, "GET", "/put?v=y", tok)
	if got := body(t, res); res.StatusCode != 200 || got != "ok" || sessionCookie(res) != nil {
		t.Fatalf("status %d body %q cookie %v: want the handler, no save", res.StatusCode, got, sessionCookie(res))
	}
}

func TestLoadAndSave_custom_ErrorFunc(t *testing.T) {
	srv, _, s := newRedis(t)
	var got error
	h := app(session.NewManager(s, session.Config{ErrorFunc: func(w http.ResponseWriter, r *http.Request, err error) {
		got = err
		w.WriteHeader(http.StatusTeapot)
	}}))
	tok := newSession(t, h, "x")
	srv.Kill()
	if res := do(t, h, "GET", "/get", tok); res.StatusCode != http.StatusTeapot {
		t.Fatalf("status %d", res.StatusCode)
	}
	if !errors.Is(got, store.ErrUnavailable) {
		t.Fatalf("ErrorFunc got %v, want store.ErrUnavailable", got)
	}
}

func TestLoadAndSave_paused_redis_does_not_hang_past_request_context(t *testing.T) {
	srv, _, s := newRedis(t)
	h := app(session.NewManager(s, session.Config{Timeout: -1})) // only the request context bounds it
	tok := newSession(t, h, "x")
	srv.Pause()
	defer srv.Resume()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	req := httptest.NewRequestWithContext(ctx, "GET", "/get", nil)
	req.AddCookie(&http.Cookie{Name: "session", Value: tok})
	rec := httptest.NewRecorder()
	start := time.Now()
	h.ServeHTTP(rec, req)
	if d := time.Since(start); d > 2500*time.Millisecond { // below go-redis's 3s ReadTimeout, so a hang cannot pass
		t.Fatalf("request took %v with a 200ms context", d)
	}
	if rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("status %d, want 503", rec.Code)
	}
}

func TestLoadAndSave_paused_redis_bounded_by_Timeout(t *testing.T) {
	srv, _, s := newRedis(t)
	h := app(session.NewManager(s, session.Config{Timeout: 150 * time.Millisecond}))
	tok := newSession(t, h, "x")
	srv.Pause()
	defer srv.Resume()
	start := time.Now()
	res := do(t, h, "GET", "/get", tok)
	if d := time.Since(start); d > 2500*time.Millisecond { // below go-redis's 3s ReadTimeout, so a hang cannot pass
		t.Fatalf("request took %v with a 150ms Timeout", d)
	}
	if res.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("status %d, want 503", res.StatusCode)
	}
}

// failingCommits is a store whose Eval fails (every session write is a
// script), to fail the save that runs just before the header.
type failingCommits struct{ store.Store }

func (f failingCommits) Eval(context.Context, *store.Script, []string, ...any) (any, error) {
	return nil, store.ErrUnavailable
}

func TestLoadAndSave_failed_save_replaces_the_response(t *testing.T) {
	_, _, s := newRedis(t)
	m := session.New(failingCommits{s})
	var writeErr error
	h := m.LoadAndSave(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m.Put(r.Context(), "k", "v")
		w.Header().Set("Location", "/dashboard")
		w.WriteHeader(http.StatusSeeOther)
		_, writeErr = io.WriteString(w, "see other")
	}))
	res := do(t, h, "POST", "/", "")
	if res.StatusCode != http.StatusServiceUnavailable || res.Header.Get("Location") != "" {
		t.Fatalf("status %d Location %q: want 503 without the handler's headers", res.StatusCode, res.Header.Get("Location"))
	}
	if sessionCookie(res) != nil {
		t.Fatal("cookie set for an unsaved session")
	}
	if !errors.Is(writeErr, session.ErrNotSaved) {
		t.Fatalf("handler's Write returned %v, want ErrNotSaved", writeErr)
	}
	var p map[string]any
	if err := json.NewDecoder(res.Body).Decode(&p); err != nil || p["status"] != float64(503) {
		t.Fatalf("body is not the problem: %v %v", p, err)
	}
}

func TestLoadAndSave_redis_restarted_gives_fresh_session(t *testing.T) {
	srv, _, s := newRedis(t)
	h := app(session.New(s))
	tok := newSession(t, h, "x")
	srv.Restart() // data gone
	var res *http.Response
	for deadline := time.Now().Add(10 * time.Second); ; { // the client reconnects
		res = do(t, h, "GET", "/get", tok)
		if res.StatusCode == 200 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if got := body(t, res); res.StatusCode != 200 || got != "" {
		t.Fatalf("status %d body %q", res.StatusCode, got)
	}
}

func TestLoadAndSave_Lock_redis_down_ContinueWithoutSession(t *testing.T) {
	srv, _, s := newRedis(t)
	h := app(session.NewManager(s, session.Config{Lock: true, ContinueWithoutSession: true}))
	tok := newSession(t, h, "x")
	srv.Kill()
	res := do(t, h, "GET", "/get", tok)
	if got := body(t, res); res.StatusCode != 200 || got != "" {
		t.Fatalf("status %d body %q: want the handler with an empty session", res.StatusCode, got)
	}
}

func TestLoadAndSave_Lock_redis_down_answers_503(t *testing.T) {
	srv, _, s := newRedis(t)
	h := app(session.NewManager(s, session.Config{Lock: true}))
	tok := newSession(t, h, "x")
	srv.Kill()
	if res := do(t, h, "GET", "/get", tok); res.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("status %d, want 503", res.StatusCode)
	}
}

// scriptOnly hides the store's optional powers (Doer, Pipeliner, ...), as a
// minimal store.Store would.
type scriptOnly struct{ store.Store }

func TestManager_on_a_store_without_optional_powers(t *testing.T) {
	_, _, s := newRedis(t)
	m := session.New(scriptOnly{s})
	h := app(m)
	tok := login(t, h, "alice")
	other := login(t, h, "alice")
	do(t, h, "GET", "/put?v=x", tok)
	if got := get(t, h, tok); got != "x" {
		t.Fatalf("get %q", got)
	}
	if list, err := m.Sessions(t.Context(), "alice"); err != nil || len(list) != 2 {
		t.Fatalf("Sessions: %d, %v", len(list), err)
	}
	if all, err := m.Store().AllCtx(t.Context()); err != nil || len(all) != 2 {
		t.Fatalf("AllCtx: %d, %v", len(all), err)
	}
	if n, err := m.RevokeAll(t.Context(), "alice"); n != 2 || err != nil {
		t.Fatalf("RevokeAll = %d, %v", n, err)
	}
	if whoami(t, h, other) != "" {
		t.Fatal("revoked session works")
	}
}

func TestRevokeAll_in_flight_request_cannot_resurrect_the_session_without_Doer(t *testing.T) {
	_, c, s := newRedis(t)
	testNoResurrection(t, c, scriptOnly{s}, false)
}

func TestLoadAndSave_paused_redis_on_redigo_does_not_hang(t *testing.T) {
	srv, _, _ := newRedis(t)
	h := app(session.New(rwredigo.New(redigoPool(t, srv.Addr()))))
	tok := newSession(t, h, "x")
	srv.Pause()
	defer srv.Resume()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	req := httptest.NewRequestWithContext(ctx, "GET", "/get", nil)
	req.AddCookie(&http.Cookie{Name: "session", Value: tok})
	rec := httptest.NewRecorder()
	start := time.Now()
	h.ServeHTTP(rec, req)
	if d := time.Since(start); d > 2500*time.Millisecond { // below go-redis's 3s ReadTimeout, so a hang cannot pass
		t.Fatalf("request took %v with a 200ms context", d)
	}
	if rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("status %d, want 503", rec.Code)
	}
}
