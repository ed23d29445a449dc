package session_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/rediware/rediware/session"
	"github.com/rediware/rediware/store"
)

// refreshAfter serves /slow: it loads the session, waits for between() to
// run elsewhere, then calls Refresh and changes the session. It returns the
// in-flight response and whether Refresh failed.
func refreshAfter(t *testing.T, s store.Store, cfg session.Config, tok func(h http.Handler) string, between func(m *session.Manager, h http.Handler, tok string), beforeRefresh bool) (*session.Manager, http.Handler, string, *http.Response) {
	t.Helper()
	m := session.NewManager(s, cfg)
	loaded, resume := make(chan struct{}), make(chan struct{})
	mux := http.NewServeMux()
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		if !beforeRefresh {
			if err := m.Refresh(r.Context()); err != nil {
				t.Errorf("Refresh: %v", err)
			}
		}
		close(loaded)
		<-resume
		if beforeRefresh {
			if err := m.Refresh(r.Context()); err != nil {
				t.Errorf("Refresh: %v", err)
			}
		}
		m.Put(r.Context(), "v", "written after revocation")
		io.WriteString(w, "done")
	})
	mux.Handle("/", usersApp(m))
	h := m.LoadAndSave(mux)
	token := tok(h)
	done := make(chan *http.Response)
	go func() { done <- do(t, h, "GET", "/slow", token) }()
	<-loaded
	between(m, h, token)
	close(resume)
	return m, h, token, <-done
}

// revokeAlice runs RevokeAll for alice; it must find her one session in
// the index (the key itself is already gone when a Refresh deleted it).
func revokeAlice(t *testing.T) func(*session.Manager, http.Handler, string) {
	return func(m *session.Manager, _ http.Handler, _ string) {
		list, err := m.Sessions(t.Context(), "alice")
		if err != nil {
			t.Errorf("Sessions: %v", err)
		}
		if _, err := m.RevokeAll(t.Context(), "alice"); err != nil {
			t.Errorf("RevokeAll: %v", err)
		}
		_ = list
	}
}

func assertNotResurrected(t *testing.T, c *redis.Client, m *session.Manager, h http.Handler, res *http.Response) {
	t.Helper()
	if ck := sessionCookie(res); ck != nil && ck.Value != "" {
		if whoami(t, h, ck.Value) != "" || get(t, h, ck.Value) != "" {
			t.Fatal("a request in flight during the revocation got a live renewed session")
		}
		t.Fatalf("cookie %v: want it cleared", ck)
	}
	if list, err := m.Sessions(t.Context(), "alice"); err != nil || len(list) != 0 {
		t.Fatalf("Sessions = %+v, %v; want none after RevokeAll", list, err)
	}
	if keys := c.Keys(t.Context(), "scs:session:*").Val(); len(keys) != 0 {
		t.Fatalf("session keys left after RevokeAll: %v", keys)
	}
}

func TestRevokeAll_then_Refresh_in_flight_cannot_resurrect_the_session(t *testing.T) {
	_, c, s := newRedis(t)
	m, h, _, res := refreshAfter(t, s, session.Config{}, func(h http.Handler) string { return login(t, h, "alice") }, revokeAlice(t), true)
	assertNotResurrected(t, c, m, h, res)
}

func TestLogout_elsewhere_then_Refresh_in_flight_cannot_resurrect_the_session(t *testing.T) {
	_, c, s := newRedis(t)
	_, h, tok, res := refreshAfter(t, s, session.Config{}, func(h http.Handler) string { return newSession(t, h, "x") },
		func(_ *session.Manager, h http.Handler, tok string) { do(t, h, "GET", "/logout", tok) }, true)
	if ck := sessionCookie(res); ck == nil || ck.Value != "" {
		t.Fatalf("cookie %v: want it cleared", ck)
	}
	if keys := c.Keys(t.Context(), "scs:session:*").Val(); len(keys) != 0 {
		t.Fatalf("session keys after logout: %v", keys)
	}
	_ = tok
	_ = h
}

func TestRefresh_then_Sessions_and_RevokeOthers_in_one_request_keep_the_session(t *testing.T) {
	_, _, s := newRedis(t)
	m := session.New(s)
	mux := http.NewServeMux()
	mux.HandleFunc("/step-up", func(w http.ResponseWriter, r *http.Request) {
		if err := m.Refresh(r.Context()); err != nil {
			t.Errorf("Refresh: %v", err)
		}
		list, err := m.Sessions(r.Context(), "alice")
		if err != nil || len(list) != 1 {
			t.Errorf("Sessions = %+v, %v; want the other device only", list, err)
		}
		if n, err := m.RevokeOthers(r.Context()); n != 1 || err != nil {
			t.Errorf("RevokeOthers = %d, %v; want 1", n, err)
		}
	})
	mux.Handle("/", usersApp(m))
	h := m.LoadAndSave(mux)
	other := login(t, h, "alice")
	tok := login(t, h, "alice")
	ck := sessionCookie(do(t, h, "GET", "/step-up", tok))
	if ck == nil || ck.Value == "" || ck.Value == tok {
		t.Fatalf("cookie %v, want a renewed token", ck)
	}
	if whoami(t, h, ck.Value) != "alice" || whoami(t, h, tok) != "" || whoami(t, h, other) != "" {
		t.Fatal("want only the renewed session alive")
	}
	if list, err := m.Sessions(t.Context(), "alice"); err != nil || len(list) != 1 {
		t.Fatalf("Sessions = %+v, %v; want the renewed one", list, err)
	}
}

// crossSlotStore answers every script over two keys as Redis Cluster does
// when they live in different slots, so the session and its index entry
// are saved in two calls.
type crossSlotStore struct{ store.Store }

func (c crossSlotStore) Eval(ctx context.Context, sc *store.Script, keys []string, args ...any) (any, error) {
	if len(keys) > 1 {
		return nil, &store.RedisError{Msg: "CROSSSLOT Keys in request don't hash to the same slot"}
	}
	return c.Store.Eval(ctx, sc, keys, args...)
}
func TestRefresh_then_RevokeAll_in_flight_cannot_resurrect_the_session(t *testing.T) {
	_, c, s := newRedis(t)
	m, h, _, res := refreshAfter(t, s, session.Config{}, func(h http.Handler) string { return login(t, h, "alice") }, revokeAlice(t), false)
	assertNotResurrected(t, c, m, h, res)
}

func TestRefresh_then_RevokeAll_in_flight_cannot_resurrect_the_session_on_cluster_path(t *testing.T) {
	_, c, s := newRedis(t)
	// crossSlot forces the two-call save that Redis Cluster uses.
	m, h, _, res := refreshAfter(t, crossSlotStore{s}, session.Config{}, func(h http.Handler) string { return login(t, h, "alice") }, revokeAlice(t), false)
	assertNotResurrected(t, c, m, h, res)
}

func TestRefresh_old_token_is_dead_while_the_renewing_request_runs(t *testing.T) {
	_, _, s := newRedis(t)
	var oldWorked string
	_, h, _, res := refreshAfter(t, s, session.Config{}, func(h http.Handler) string { return login(t, h, "alice") },
		func(_ *session.Manager, h http.Handler, tok string) { oldWorked = whoami(t, h, tok) }, false)
	if oldWorked != "" {
		t.Fatalf("old token still logged in as %q while the refresh ran", oldWorked)
	}
	ck := sessionCookie(res)
	if ck == nil || ck.Value == "" || whoami(t, h, ck.Value) != "alice" {
		t.Fatalf("cookie %v: want a live renewed session", ck)
	}
}

func TestSessions_listing_during_an_in_flight_Refresh_does_not_end_it(t *testing.T) {
	_, _, s := newRedis(t)
	var listed []session.SessionInfo
	m, h, _, res := refreshAfter(t, s, session.Config{}, func(h http.Handler) string { return login(t, h, "alice") },
		func(m *session.Manager, _ http.Handler, _ string) {
			var err error
			if listed, err = m.Sessions(t.Context(), "alice"); err != nil {
				t.Errorf("Sessions: %v", err)
			}
		}, false)
	if len(listed) != 0 {
		t.Fatalf("Sessions listed %+v: the renewing session is listed once saved, under its new token", listed)
	}
	ck := sessionCookie(res)
	if ck == nil || ck.Value == "" || whoami(t, h, ck.Value) != "alice" {
		t.Fatalf("cookie %v: a listing from another request ended the renewal", ck)
	}
	if list, err := m.Sessions(t.Context(), "alice"); err != nil || len(list) != 1 {
		t.Fatalf("Sessions = %+v, %v; want the renewed session", list, err)
	}
}

// revokeBetweenCalls is crossSlotStore that runs hook once, just after the
// first index update of a two-call save (before the session's SET).
type revokeBetweenCalls struct {
	crossSlotStore
	hook func()
}

func (r *revokeBetweenCalls) Eval(ctx context.Context, sc *store.Script, keys []string, args ...any) (any, error) {
	v, err := r.crossSlotStore.Eval(ctx, sc, keys, args...)
	if len(keys) == 1 && strings.HasPrefix(keys[0], "{scs:user:") && len(args) >= 3 && r.hook != nil {
		h := r.hook
		r.hook = nil
		h()
	}
	return v, err
}

func TestRevokeAll_between_the_two_calls_of_a_cluster_save_leaves_no_session_outside_the_index(t *testing.T) {
	for _, step := range []string{"login", "refresh"} {
		t.Run(step, func(t *testing.T) {
			_, c, s := newRedis(t)
			rs := &revokeBetweenCalls{crossSlotStore: crossSlotStore{s}}
			m := session.New(rs)
			h := app(m)
			tok := login(t, h, "alice")
			rs.hook = func() {
				if _, err := m.RevokeAll(context.Background(), "alice"); err != nil {
					t.Errorf("RevokeAll: %v", err)
				}
			}
			target := "/login?u=alice"
			if step == "refresh" {
				target = "/refresh"
			}
			res := do(t, h, "GET", target, tok)
			if rs.hook != nil {
				t.Fatal("the save did not go through the two-call path")
			}
			// Whatever the outcome, every live session of alice must be in
			// her index, so that "log out everywhere" reaches it.
			if _, err := m.RevokeAll(t.Context(), "alice"); err != nil {
				t.Fatal(err)
			}
			if keys := c.Keys(t.Context(), "scs:session:*").Val(); len(keys) != 0 {
				t.Fatalf("session alive outside alice's index after RevokeAll: %v", keys)
			}
			_ = res
		})
	}
}

func TestRefresh_then_RevokeAll_in_flight_cannot_resurrect_the_session_with_HashTokens(t *testing.T) {
	_, c, s := newRedis(t)
	m, h, _, res := refreshAfter(t, s, session.Config{HashTokens: true}, func(h http.Handler) string { return login(t, h, "alice") }, revokeAlice(t), false)
	assertNotResurrected(t, c, m, h, res)
}

func TestRefresh_with_HashTokens_keeps_the_session_under_the_new_hash(t *testing.T) {
	_, c, s := newRedis(t)
	m, h, old, res := refreshAfter(t, s, session.Config{HashTokens: true}, func(h http.Handler) string { return login(t, h, "alice") },
		func(*session.Manager, http.Handler, string) {}, false)
	ck := sessionCookie(res)
	if ck == nil || ck.Value == "" || whoami(t, h, ck.Value) != "alice" || whoami(t, h, old) != "" {
		t.Fatalf("cookie %v: want the renewed token alive and the old one dead", ck)
	}
	if keys := c.Keys(t.Context(), "scs:session:*").Val(); len(keys) != 1 || keys[0] != m.Store().Key(ck.Value) || strings.Contains(keys[0], ck.Value) {
		t.Fatalf("keys %v, want only the hash of the new token", keys)
	}
	if list, err := m.Sessions(t.Context(), "alice"); err != nil || len(list) != 1 {
		t.Fatalf("Sessions = %+v, %v", list, err)
	}
}

func TestRefresh_then_revocation_then_Login_in_one_request_logs_in(t *testing.T) {
	_, _, s := newRedis(t)
	m := session.New(s)
	loaded, resume := make(chan struct{}), make(chan struct{})
	mux := http.NewServeMux()
	mux.HandleFunc("/reauth", func(w http.ResponseWriter, r *http.Request) {
		if err := m.Refresh(r.Context()); err != nil {
			t.Errorf("Refresh: %v", err)
		}
		close(loaded)
		<-resume
		if err := m.Login(r.Context(), "alice"); err != nil { // credentials checked again
			t.Errorf("Login: %v", err)
		}
	})
	mux.Handle("/", usersApp(m))
	h := m.LoadAndSave(mux)
	tok := login(t, h, "alice")
	done := make(chan *http.Response)
	go func() { done <- do(t, h, "GET", "/reauth", tok) }()
	<-loaded
	if _, err := m.RevokeAll(t.Context(), "alice"); err != nil {
		t.Fatal(err)
	}
	close(resume)
	ck := sessionCookie(<-done)
	if ck == nil || ck.Value == "" || whoami(t, h, ck.Value) != "alice" {
		t.Fatalf("cookie %v: a Login after the revocation must give a live session", ck)
	}
}
