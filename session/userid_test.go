package session_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/rediware/rediware/internal/redistest"
	"github.com/rediware/rediware/session"
	"github.com/rediware/rediware/store"
	"github.com/rediware/rediware/store/goredis"
)

// loginAs logs user in through h (any bytes: the ID is query-escaped).
func loginAs(t *testing.T, h http.Handler, user string) string {
	t.Helper()
	return login(t, h, url.QueryEscape(user))
}

func TestRevokeAll_user_ids_differing_only_in_braces_do_not_share_an_index(t *testing.T) {
	_, _, s := newRedis(t)
	m := session.New(s)
	h := usersApp(m)
	// Braces cannot appear in a hash tag; a naive escaping ('{' -> '(')
	// would give these two users the same index, so that one could list
	// and revoke the other's sessions.
	for _, pair := range [][2]string{{"a{b}", "a(b)"}, {"}x", ")x"}, {"{", "("}} {
		victim := loginAs(t, h, pair[0])
		attacker := loginAs(t, h, pair[1])
		if list, err := m.Sessions(t.Context(), pair[1]); err != nil || len(list) != 1 {
			t.Fatalf("Sessions(%q) = %d entries, %v; want only its own session", pair[1], len(list), err)
		}
		if n, err := m.RevokeAll(t.Context(), pair[1]); err != nil || n != 1 {
			t.Fatalf("RevokeAll(%q) = %d, %v; want 1", pair[1], n, err)
		}
		if whoami(t, h, victim) != pair[0] {
			t.Fatalf("RevokeAll(%q) logged out user %q", pair[1], pair[0])
		}
		if whoami(t, h, attacker) != "" {
			t.Fatalf("RevokeAll(%q) left its own session alive", pair[1])
		}
	}
}

func TestLogin_user_id_with_colons_and_braces_keeps_one_cluster_slot(t *testing.T) {
	_, c, s := newRedis(t)
	m := session.New(s)
	h := usersApp(m)
	loginAs(t, h, "tenant:{7}:alice")
	keys := c.Keys(t.Context(), "*scs:user*").Val()
	if len(keys) != 1 {
		t.Fatalf("index keys %v, want one", keys)
	}
	k := keys[0]
	// The hash tag runs from the first '{' to the only '}', the key's last
	// byte: the whole key is its tag, so one user's keys share one slot.
	if !strings.HasPrefix(k, "{") || strings.Count(k, "}") != 1 || !strings.HasSuffix(k, "}") {
		t.Fatalf("index key %q does not have one well-formed hash tag", k)
	}
	if store.Slot(k) != store.Slot(k+":other") {
		t.Fatalf("index key %q: slot not taken from its tag", k)
	}
}

func TestLogin_huge_user_id_is_indexed_and_revocable(t *testing.T) {
	_, c, s := newRedis(t)
	m := session.New(s)
	h := usersApp(m)
	huge := strings.Repeat("u", 64<<10) // far beyond any sane key length
	tok := loginAs(t, h, huge)
	for _, k := range c.Keys(t.Context(), "*").Val() {
		if len(k) > 512 {
			t.Fatalf("key of %d bytes written", len(k))
		}
	}
	if list, err := m.Sessions(t.Context(), huge); err != nil || len(list) != 1 {
		t.Fatalf("Sessions = %d entries, %v; want 1", len(list), err)
	}
	if n, err := m.RevokeAll(t.Context(), huge); err != nil || n != 1 {
		t.Fatalf("RevokeAll = %d, %v; want 1", n, err)
	}
	if whoami(t, h, tok) != "" {
		t.Fatal("revoked session still works")
	}
}

func TestRevokeAll_unusual_user_ids_and_Refresh_on_cluster(t *testing.T) {
	cl := redistest.SharedCluster(t)
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: cl.Addrs(), ContextTimeoutEnabled: true})
	t.Cleanup(func() { _ = cc.Close() })
	m := session.New(goredis.New(cc))
	h := usersApp(m)
	for _, user := range []string{"a{b}", "tenant:7:alice", strings.Repeat("u", 10<<10)} {
		toks := []string{loginAs(t, h, user), loginAs(t, h, user), loginAs(t, h, user)}
		ck := sessionCookie(do(t, h, "GET", "/refresh", toks[0]))
		if ck == nil || ck.Value == "" || whoami(t, h, ck.Value) != user || whoami(t, h, toks[0]) != "" {
			t.Fatalf("user %.20q: refresh on cluster: cookie %v", user, ck)
		}
		toks[0] = ck.Value
		if list, err := m.Sessions(t.Context(), user); err != nil || len(list) != 3 {
			t.Fatalf("user %.20q: Sessions = %d, %v; want 3", user, len(list), err)
		}
		if n, err := m.RevokeAll(t.Context(), user); n != 3 || err != nil {
			t.Fatalf("user %.20q: RevokeAll = %d, %v; want 3", user, n, err)
		}
		for _, tok := range toks {
			if whoami(t, h, tok) != "" {
				t.Fatalf("user %.20q: revoked session works", user)
			}
		}
	}
}
