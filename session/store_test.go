package session_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"testing"
	"time"

	"github.com/alexedwards/scs/redisstore"
	"github.com/alexedwards/scs/v2"
	redigo "github.com/gomodule/redigo/redis"

	"github.com/rediware/rediware/session"
	rwredigo "github.com/rediware/rediware/store/redigo"
)

func redigoPool(t *testing.T, addr string) *redigo.Pool {
	t.Helper()
	p := &redigo.Pool{MaxIdle: 4, Dial: func() (redigo.Conn, error) { return redigo.Dial("tcp", addr) }}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

// scsCommit writes a session with values through an scs manager over st and
// returns its token and expiry.
func scsCommit(t *testing.T, sm *scs.SessionManager, vals map[string]any) (string, time.Time) {
	t.Helper()
	ctx, err := sm.Load(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range vals {
		sm.Put(ctx, k, v)
	}
	tok, exp, err := sm.Commit(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return tok, exp
}

func TestRedisStore_reads_sessions_written_by_scs_redisstore(t *testing.T) {
	srv, c, s := newRedis(t)
	theirs := scs.New()
	theirs.Store = redisstore.New(redigoPool(t, srv.Addr()))
	tok, exp := scsCommit(t, theirs, map[string]any{"v": "from-redisstore"})

	ours := session.NewStore(s)
	b, found, err := ours.FindCtx(t.Context(), tok)
	if err != nil || !found {
		t.Fatalf("FindCtx: found %v, err %v", found, err)
	}
	raw, _ := c.Get(t.Context(), "scs:session:"+tok).Bytes()
	if !bytes.Equal(b, raw) {
		t.Fatal("FindCtx did not return the stored bytes")
	}
	// And through the middleware: switching the store logs nobody out.
	h := app(session.New(s))
	if got := get(t, h, tok); got != "from-redisstore" {
		t.Fatalf("get = %q", got)
	}
	_ = exp
}

func TestRedisStore_writes_what_scs_redisstore_reads(t *testing.T) {
	srv, _, s := newRedis(t)
	h := app(session.New(s))
	tok := newSession(t, h, "from-rediware")

	theirs := scs.New()
	theirs.Store = redisstore.New(redigoPool(t, srv.Addr()))
	ctx, err := theirs.Load(context.Background(), tok)
	if err != nil {
		t.Fatal(err)
	}
	if got := theirs.GetString(ctx, "v"); got != "from-rediware" {
		t.Fatalf("scs/redisstore read %q", got)
	}
}

func TestRedisStore_key_value_and_expiry_match_scs_redisstore(t *testing.T) {
	srv, c, s := newRedis(t)
	theirs := redisstore.New(redigoPool(t, srv.Addr()))
	ours := session.NewStore(s)
	val := []byte("\x00codec bytes\xff")
	exp := time.Now().Add(time.Hour).Add(123 * time.Millisecond)

	if err := theirs.Commit("theirs-token", val, exp); err != nil {
		t.Fatal(err)
	}
	if err := ours.CommitCtx(t.Context(), "ours-token", val, exp); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"scs:session:theirs-token", "scs:session:ours-token"} {
		got, err := c.Get(t.Context(), key).Bytes()
		if err != nil || !bytes.Equal(got, val) {
			t.Fatalf("%s = %q (%v), want %q", key, got, err, val)
		}
		at, err := c.Do(t.Context(), "PEXPIRETIME", key).Int64()
		if err != nil || at != exp.UnixMilli() {
			t.Fatalf("%s expires at %d (%v), want %d", key, at, err, exp.UnixMilli())
		}
	}
}

func TestRedisStore_works_on_redigo_backend(t *testing.T) {
	srv, _, _ := newRedis(t)
	rs := session.NewStore(rwredigo.New(redigoPool(t, srv.Addr())))
	exp := time.Now().Add(time.Minute)
	if err := rs.Commit("tok", []byte("data"), exp); err != nil {
		t.Fatal(err)
	}
	b, found, err := rs.Find("tok")
	if err != nil || !found || string(b) != "data" {
		t.Fatalf("Find = %q, %v, %v", b, found, err)
	}
	all, err := rs.All()
	if err != nil || len(all) != 1 || string(all["tok"]) != "data" {
		t.Fatalf("All = %v, %v", all, err)
	}
	if err := rs.Delete("tok"); err != nil {
		t.Fatal(err)
	}
	if _, found, _ := rs.Find("tok"); found {
		t.Fatal("found after Delete")
	}
}

func TestRedisStore_methods_without_context_do_not_panic(t *testing.T) {
	_, _, s := newRedis(t)
	rs := session.NewStore(s)
	if err := rs.Commit("t", []byte("x"), time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if _, found, err := rs.Find("t"); err != nil || !found {
		t.Fatalf("Find: %v %v", found, err)
	}
	if _, err := rs.All(); err != nil {
		t.Fatal(err)
	}
	if err := rs.Delete("t"); err != nil {
		t.Fatal(err)
	}
}

func TestRedisStore_commit_with_past_expiry_deletes_the_key(t *testing.T) {
	_, c, s := newRedis(t)
	rs := session.NewStore(s)
	if err := rs.CommitCtx(t.Context(), "t", []byte("x"), time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := rs.CommitCtx(t.Context(), "t", []byte("y"), time.Now().Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	if exists(t, c, "scs:session:t") {
		t.Fatal("key still exists after a commit with a past expiry")
	}
	if err := rs.CommitCtx(t.Context(), "u", []byte("y"), time.Time{}); err != nil {
		t.Fatal(err)
	}
	if exists(t, c, "scs:session:u") {
		t.Fatal("a zero expiry wrote a key")
	}
}

func TestRedisStore_malformed_tokens_are_not_found(t *testing.T) {
	_, _, s := newRedis(t)
	rs := session.NewStore(s)
	for _, tok := range []string{"", string(make([]byte, 8<<10)), "no such token"} {
		b, found, err := rs.FindCtx(t.Context(), tok)
		if b != nil || found || err != nil {
			t.Fatalf("FindCtx(%d bytes) = %v, %v, %v; want nil, false, nil", len(tok), b, found, err)
		}
		if err := rs.DeleteCtx(t.Context(), tok); err != nil {
			t.Fatalf("DeleteCtx(%d bytes) = %v", len(tok), err)
		}
	}
}

func TestRedisStore_All_uses_SCAN_not_KEYS(t *testing.T) {
	_, c, s := newRedis(t)
	rs := session.NewStore(s)
	for i := range 250 {
		tok := "tok" + string(rune('a'+i%26)) + hex.EncodeToString([]byte{byte(i)})
		if err := rs.CommitCtx(t.Context(), tok, []byte(tok), time.Now().Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	c.Set(t.Context(), "other:key", "x", 0)
	if err := c.ConfigResetStat(t.Context()).Err(); err != nil {
		t.Fatal(err)
	}
	all, err := rs.AllCtx(t.Context())
	if err != nil || len(all) != 250 {
		t.Fatalf("AllCtx: %d sessions, %v", len(all), err)
	}
	for tok, b := range all {
		if string(b) != tok {
			t.Fatalf("session %q = %q", tok, b)
		}
	}
	stats := c.Info(t.Context(), "commandstats").Val()
	if !bytes.Contains([]byte(stats), []byte("cmdstat_scan:")) || bytes.Contains([]byte(stats), []byte("cmdstat_keys:")) {
		t.Fatalf("want SCAN and no KEYS:\n%s", stats)
	}
}

func TestRedisStore_HashTokens_stores_under_sha256(t *testing.T) {
	_, c, s := newRedis(t)
	rs := session.NewStoreWithOptions(s, session.StoreOptions{HashTokens: true})
	if err := rs.CommitCtx(t.Context(), "secret-token", []byte("x"), time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	h := sha256.Sum256([]byte("secret-token"))
	if !exists(t, c, "scs:session:"+hex.EncodeToString(h[:])) || exists(t, c, "scs:session:secret-token") {
		t.Fatal("want the key under the token's SHA-256 only")
	}
	if b, found, err := rs.FindCtx(t.Context(), "secret-token"); err != nil || !found || string(b) != "x" {
		t.Fatalf("FindCtx = %q %v %v", b, found, err)
	}
}

func TestManager_indexes_a_logged_in_session_written_by_scs_at_its_first_save(t *testing.T) {
	srv, _, s := newRedis(t)
	theirs := scs.New()
	theirs.Store = redisstore.New(redigoPool(t, srv.Addr()))
	tok, _ := scsCommit(t, theirs, map[string]any{"userID": "carol"})

	m := session.New(s)
	h := app(m)
	if list, _ := m.Sessions(t.Context(), "carol"); len(list) != 0 {
		t.Fatalf("indexed before any save: %v", list)
	}
	do(t, h, "GET", "/put?v=x", tok)
	list, err := m.Sessions(t.Context(), "carol")
	if err != nil || len(list) != 1 {
		t.Fatalf("Sessions = %v, %v; want the migrated session", list, err)
	}
	if n, _ := m.RevokeAll(t.Context(), "carol"); n != 1 || get(t, h, tok) != "" {
		t.Fatal("migrated session not revoked")
	}
}
