package session_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rediware/rediware/internal/redistest"
	"github.com/rediware/rediware/session"
	"github.com/rediware/rediware/store"
	"github.com/rediware/rediware/store/goredis"
	rwredigo "github.com/rediware/rediware/store/redigo"
)

// usersApp adds /sessions (JSON list), /revoke?id=, /revoke-all and
// /revoke-others to app.
func usersApp(m *session.Manager) http.Handler {
	base := app(m)
	mux := http.NewServeMux()
	mux.Handle("/", base)
	mux.Handle("/sessions", m.LoadAndSave(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		list, err := m.Sessions(r.Context(), m.UserID(r.Context()))
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		json.NewEncoder(w).Encode(list)
	})))
	mux.Handle("/revoke-others", m.LoadAndSave(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, err := m.RevokeOthers(r.Context())
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		json.NewEncoder(w).Encode(n)
	})))
	return mux
}

func listSessions(t *testing.T, h http.Handler, tok string) []session.SessionInfo {
	t.Helper()
	res := do(t, h, "GET", "/sessions", tok)
	var list []session.SessionInfo
	if err := json.NewDecoder(res.Body).Decode(&list); err != nil {
		t.Fatalf("status %d: %v", res.StatusCode, err)
	}
	return list
}

func whoami(t *testing.T, h http.Handler, tok string) string {
	t.Helper()
	return body(t, do(t, h, "GET", "/whoami", tok))
}

func TestSessions_lists_a_users_sessions_and_marks_current(t *testing.T) {
	_, _, s := newRedis(t)
	m := session.New(s)
	h := usersApp(m)
	a1, a2, a3 := login(t, h, "alice"), login(t, h, "alice"), login(t, h, "alice")
	login(t, h, "bob")
	list := listSessions(t, h, a2)
	if len(list) != 3 {
		t.Fatalf("%d sessions, want 3: %+v", len(list), list)
	}
	current := 0
	for _, si := range list {
		if si.Current {
			current++
		}
		if si.ID == "" || si.ID == a1 || si.ID == a2 || si.ID == a3 {
			t.Fatalf("ID %q must be set and not the token", si.ID)
		}
		if !si.Expiry.After(time.Now()) || si.Values["userID"] != "alice" {
			t.Fatalf("info %+v", si)
		}
	}
	if current != 1 {
		t.Fatalf("%d sessions marked current, want 1", current)
	}
}

func TestRevoke_ends_one_session_of_that_user_only(t *testing.T) {
	_, _, s := newRedis(t)
	m := session.New(s)
	h := usersApp(m)
	a1, a2 := login(t, h, "alice"), login(t, h, "alice")
	b1 := login(t, h, "bob")
	var target string
	for _, si := range listSessions(t, h, a1) {
		if !si.Current {
			target = si.ID // a2
		}
	}
	if ok, err := m.Revoke(t.Context(), "bob", target); ok || err != nil {
		t.Fatalf("bob revoked alice's session: %v %v", ok, err)
	}
	if ok, err := m.Revoke(t.Context(), "alice", target); !ok || err != nil {
		t.Fatalf("Revoke = %v, %v", ok, err)
	}
	if whoami(t, h, a2) != "" || whoami(t, h, a1) != "alice" || whoami(t, h, b1) != "bob" {
		t.Fatal("want only a2 logged out")
	}
	if n := len(listSessions(t, h, a1)); n != 1 {
		t.Fatalf("%d sessions left, want 1", n)
	}
}

func TestRevokeAll_logs_out_everywhere(t *testing.T) {
	_, c, s := newRedis(t)
	m := session.New(s)
	h := usersApp(m)
	toks := []string{login(t, h, "alice"), login(t, h, "alice"), login(t, h, "alice")}
	b1 := login(t, h, "bob")
	n, err := m.RevokeAll(t.Context(), "alice")
	if err != nil || n != 3 {
		t.Fatalf("RevokeAll = %d, %v; want 3", n, err)
	}
	for _, tok := range toks {
		if whoami(t, h, tok) != "" {
			t.Fatal("a revoked session still works")
		}
	}
	if whoami(t, h, b1) != "bob" {
		t.Fatal("bob was logged out too")
	}
	if exists(t, c, "{scs:user:alice}") {
		t.Fatal("alice's index survived RevokeAll")
	}
}

func TestRevokeOthers_keeps_the_current_session(t *testing.T) {
	_, _, s := newRedis(t)
	h := usersApp(session.New(s))
	a1, a2, a3 := login(t, h, "alice"), login(t, h, "alice"), login(t, h, "alice")
	var n int
	json.NewDecoder(do(t, h, "GET", "/revoke-others", a2).Body).Decode(&n)
	if n != 2 {
		t.Fatalf("revoked %d, want 2", n)
	}
	if whoami(t, h, a1) != "" || whoami(t, h, a3) != "" || whoami(t, h, a2) != "alice" {
		t.Fatal("want only the current session left")
	}
}

func TestRevokeAll_in_flight_request_cannot_resurrect_the_session(t *testing.T) {
	_, c, s := newRedis(t)
	testNoResurrection(t, c, s, false)
}

func TestRevokeAll_in_flight_read_due_for_a_touch_cannot_resurrect_the_session(t *testing.T) {
	_, c, s := newRedis(t)
	testNoResurrection(t, c, s, true)
}

// testNoResurrection revokes a session while a request that loaded it is
// still running, then lets that request change it or, with touch, only
// read it when it is due for a touch (touch.lua finds the key gone).
func testNoResurrection(t *testing.T, c *redis.Client, s store.Store, touch bool) {
	cfg := session.Config{}
	if touch {
		cfg = session.Config{IdleTimeout: time.Hour, TouchInterval: time.Millisecond}
	}
	m := session.NewManager(s, cfg)
	loaded, revoked := make(chan struct{}), make(chan struct{})
	mux := http.NewServeMux()
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		close(loaded)
		<-revoked
		if !touch {
			m.Put(r.Context(), "v", "written after revocation")
		}
		io.WriteString(w, "done")
	})
	mux.Handle("/", app(m))
	h := m.LoadAndSave(mux)
	tok := login(t, h, "alice")
	if touch {
		time.Sleep(5 * time.Millisecond) // the next read is due for a touch
	}

	done := make(chan *http.Response)
	go func() { done <- do(t, h, "GET", "/slow", tok) }()
	<-loaded
	if n, err := m.RevokeAll(t.Context(), "alice"); n != 1 || err != nil {
		t.Fatalf("RevokeAll = %d, %v", n, err)
	}
	close(revoked)
	res := <-done
	if ck := sessionCookie(res); ck == nil || ck.Value != "" {
		t.Fatalf("cookie %v: want it cleared", ck)
	}
	if exists(t, c, "scs:session:"+tok) {
		t.Fatal("the in-flight request wrote the revoked session back")
	}
	if whoami(t, h, tok) != "" {
		t.Fatal("revoked session works again")
	}
}

func TestLogout_removes_the_session_from_the_index(t *testing.T) {
	_, _, s := newRedis(t)
	m := session.New(s)
	h := usersApp(m)
	a1, a2 := login(t, h, "alice"), login(t, h, "alice")
	do(t, h, "GET", "/logout", a1)
	list, err := m.Sessions(t.Context(), "alice")
	if err != nil || len(list) != 1 {
		t.Fatalf("Sessions = %d, %v; want 1 after logout", len(list), err)
	}
	_ = a2
}

func TestSessions_prunes_sessions_past_their_deadline(t *testing.T) {
	_, c, s := newRedis(t)
	// Lifetime is long enough that the second session outlives the checks
	// below even on a loaded machine.
	const life = 2 * time.Second
	m := session.NewManager(s, session.Config{Lifetime: life})
	h := usersApp(m)
	first := time.Now()
	login(t, h, "alice")
	time.Sleep(time.Until(first.Add(life + 200*time.Millisecond)))
	login(t, h, "alice") // this save prunes the entry whose deadline passed
	if n := c.ZCard(t.Context(), "{scs:user:alice}").Val(); n != 1 {
		t.Fatalf("index holds %d entries, want 1 after pruning", n)
	}
	if pttl := c.PTTL(t.Context(), "{scs:user:alice}").Val(); pttl <= 0 || pttl > life {
		t.Fatalf("index PTTL %v, want the latest deadline", pttl)
	}
}

func TestSessions_prunes_idle_expired_sessions(t *testing.T) {
	_, c, s := newRedis(t)
	const idle = time.Second
	m := session.NewManager(s, session.Config{IdleTimeout: idle})
	h := usersApp(m)
	login(t, h, "alice")
	time.Sleep(idle + 200*time.Millisecond)
	second := time.Now()
	login(t, h, "alice")
	list, err := m.Sessions(t.Context(), "alice")
	if err != nil || len(list) != 1 || !list[0].Expiry.Before(second.Add(idle+time.Second)) {
		t.Fatalf("Sessions = %+v, %v; want the live one, expiring with its idle timeout", list, err)
	}
	if n := c.ZCard(t.Context(), "{scs:user:alice}").Val(); n != 1 {
		t.Fatalf("index holds %d entries after listing, want 1", n)
	}
	time.Sleep(time.Until(second.Add(idle + 200*time.Millisecond)))
	if list, err := m.Sessions(t.Context(), "alice"); err != nil || len(list) != 0 {
		t.Fatalf("Sessions = %+v, %v; want none", list, err)
	}
	if exists(t, c, "{scs:user:alice}") {
		t.Fatal("empty index left behind")
	}
}

func TestSessions_on_cluster(t *testing.T) {
	cl := redistest.SharedCluster(t)
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: cl.Addrs(), ContextTimeoutEnabled: true})
	t.Cleanup(func() { _ = cc.Close() })
	m := session.New(goredis.New(cc))
	h := usersApp(m)
	var toks []string
	slots := map[int]bool{}
	for range 8 {
		tok := login(t, h, "alice")
		toks = append(toks, tok)
		slots[store.Slot("scs:session:"+tok)] = true
	}
	bob := login(t, h, "bob")
	if len(slots) < 2 {
		t.Fatalf("sessions all in one slot; the test needs them spread")
	}
	do(t, h, "GET", "/put?v=changed", toks[0]) // a save of an indexed session (SET XX)
	if got := get(t, h, toks[0]); got != "changed" {
		t.Fatalf("get %q after a save on cluster", got)
	}
	if list := listSessions(t, h, toks[3]); len(list) != 8 {
		t.Fatalf("%d sessions listed, want 8", len(list))
	}
	all, err := m.Store().AllCtx(t.Context())
	if err != nil || len(all) != 9 {
		t.Fatalf("AllCtx on cluster: %d, %v", len(all), err)
	}
	if n, err := m.RevokeAll(t.Context(), "alice"); n != 8 || err != nil {
		t.Fatalf("RevokeAll = %d, %v", n, err)
	}
	for _, tok := range toks {
		if whoami(t, h, tok) != "" {
			t.Fatal("revoked session works")
		}
	}
	if whoami(t, h, bob) != "bob" {
		t.Fatal("bob logged out")
	}
}

func TestManager_on_redigo_backend(t *testing.T) {
	srv, c, _ := newRedis(t)
	m := session.NewManager(rwredigo.New(redigoPool(t, srv.Addr())), session.Config{Lock: true})
	h := usersApp(m)
	a1, a2 := login(t, h, "alice"), login(t, h, "alice")
	if whoami(t, h, a1) != "alice" {
		t.Fatal("login failed")
	}
	if n := len(listSessions(t, h, a1)); n != 2 {
		t.Fatalf("%d sessions", n)
	}
	if n, err := m.RevokeAll(t.Context(), "alice"); n != 2 || err != nil {
		t.Fatalf("RevokeAll = %d, %v", n, err)
	}
	if whoami(t, h, a2) != "" || c.DBSize(t.Context()).Val() != 0 {
		t.Fatal("want everything gone")
	}
}

func TestManager_HashTokens_keeps_tokens_out_of_redis(t *testing.T) {
	_, c, s := newRedis(t)
	m := session.NewManager(s, session.Config{HashTokens: true, Lock: true})
	h := usersApp(m)
	tok := login(t, h, "alice")
	if whoami(t, h, tok) != "alice" {
		t.Fatal("login failed")
	}
	keys := c.Keys(t.Context(), "*").Val()
	for _, k := range keys {
		if strings.Contains(k, tok) {
			t.Fatalf("key %q holds the token", k)
		}
		if c.Type(t.Context(), k).Val() == "zset" {
			for _, mem := range c.ZRange(t.Context(), k, 0, -1).Val() {
				if strings.Contains(mem, tok) {
					t.Fatalf("index %q holds the token", k)
				}
			}
		}
	}
	if n, err := m.RevokeAll(t.Context(), "alice"); n != 1 || err != nil {
		t.Fatalf("RevokeAll = %d, %v", n, err)
	}
	if whoami(t, h, tok) != "" {
		t.Fatal("revoked session works")
	}
}

func TestRefresh_moves_the_index_entry_to_the_new_token(t *testing.T) {
	_, _, s := newRedis(t)
	m := session.New(s)
	h := usersApp(m)
	old := login(t, h, "alice")
	ck := sessionCookie(do(t, h, "GET", "/refresh", old))
	if ck == nil || ck.Value == old {
		t.Fatalf("cookie %v", ck)
	}
	list := listSessions(t, h, ck.Value)
	if len(list) != 1 || !list[0].Current {
		t.Fatalf("Sessions = %+v; want only the refreshed session, current", list)
	}
	if n, err := m.RevokeAll(t.Context(), "alice"); n != 1 || err != nil {
		t.Fatalf("RevokeAll = %d, %v", n, err)
	}
	if whoami(t, h, ck.Value) != "" {
		t.Fatal("refreshed session survived RevokeAll")
	}
}

func TestRefresh_takes_the_old_token_out_of_the_index_at_once(t *testing.T) {
	_, c, s := newRedis(t)
	h := usersApp(session.New(s))
	old := login(t, h, "alice")
	ck := sessionCookie(do(t, h, "GET", "/refresh", old))
	if ck == nil || ck.Value == old {
		t.Fatalf("cookie %v", ck)
	}
	// Read the index itself: listing would prune a stale entry and hide it.
	members, err := c.ZRange(t.Context(), "{scs:user:alice}", 0, -1).Result()
	if err != nil || len(members) != 1 || members[0] != ck.Value {
		t.Fatalf("index = %v, %v; want only the new token %s", members, err, ck.Value)
	}
}
