package storetest

import (
	"errors"
	"reflect"
	"testing"

	"github.com/rediware/rediware/store"
)

var evalTests = []subtest{
	{"Replies", testEvalReplies},
	{"KeysAndArgs", testEvalKeysAndArgs},
	{"ErrorReply", testEvalErrorReply},
	{"ErrorInArray", testEvalErrorInArray},
	{"NoScriptFirstRun", testEvalNoScriptFirstRun},
	{"NoScriptAfterFlush", testEvalNoScriptAfterFlush},
}

func testEvalReplies(t *testing.T, r *runner) {
	s, _ := r.store(t)
	for _, tc := range []struct {
		name, src string
		want      any
	}{
		{"integer", "return 42", int64(42)},
		{"negative integer", "return -7", int64(-7)},
		{"float truncated", "return 3.9", int64(3)},
		{"bulk string", "return 'héllo'", "héllo"},
		{"empty string", "return ''", ""},
		{"status", "return redis.status_reply('FINE')", "FINE"},
		{"nil", "return nil", nil},
		{"false", "return false", nil},
		{"true", "return true", int64(1)},
		{"empty array", "return {}", []any{}},
		{"array", "return {1, 'two', 3}", []any{int64(1), "two", int64(3)}},
		{"nested arrays", "return {1, {2, {'three', {}}}, 'four'}",
			[]any{int64(1), []any{int64(2), []any{"three", []any{}}}, "four"}},
		{"false in array", "return {1, false, 3}", []any{int64(1), nil, int64(3)}},
		{"status in array", "return {redis.status_reply('OK'), 'x'}", []any{"OK", "x"}},
	} {
		got, err := s.Eval(t.Context(), store.NewScript(tc.src), nil)
		if err != nil {
			t.Errorf("%s: Eval(%s): %v", tc.name, tc.src, err)
			continue
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: Eval(%s) = %#v, want %#v", tc.name, tc.src, got, tc.want)
		}
	}
}

func testEvalKeysAndArgs(t *testing.T, r *runner) {
	s, p := r.store(t)
	ks := store.Keyspace{Prefix: p}
	k1, k2 := ks.Key("id", "a"), ks.Key("id", "b") // one slot on Cluster
	sc := store.NewScript(`
redis.call('SET', KEYS[1], ARGV[1])
redis.call('SET', KEYS[2], ARGV[2])
return {#KEYS, #ARGV, redis.call('GET', KEYS[1]), redis.call('GET', KEYS[2]), ARGV[3], ARGV[4], ARGV[5]}`)
	got, err := s.Eval(t.Context(), sc, []string{k1, k2}, "one", []byte("two"), 3, int64(-4), 2.5)
	if err != nil {
		t.Fatal(err)
	}
	want := []any{int64(2), int64(5), "one", "two", "3", "-4", "2.5"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Eval = %#v, want %#v", got, want)
	}
	if v, _ := mustGet(t, s, k2); string(v) != "two" {
		t.Fatalf("GET after the script = %q, want two", v)
	}
}

func testEvalErrorReply(t *testing.T, r *runner) {
	s, p := r.store(t)
	_, err := s.Eval(t.Context(), store.NewScript(`return redis.error_reply('MYERR something broke')`), nil)
	var re *store.RedisError
	if !errors.As(err, &re) || re.Prefix() != "MYERR" || !store.IsRedisError(err, "MYERR") {
		t.Fatalf("Eval of error_reply: %#v, want *store.RedisError MYERR", err)
	}
	if errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("a Redis error reply is not ErrUnavailable: %v", err)
	}
	// A failing redis.call inside the script.
	mustSet(t, s, p+"str", []byte("abc"), 0)
	_, err = s.Eval(t.Context(), store.NewScript(`return redis.call('INCR', KEYS[1])`), []string{p + "str"})
	if !errors.As(err, &re) {
		t.Fatalf("Eval with a failing redis.call: %#v, want *store.RedisError", err)
	}
}

func testEvalErrorInArray(t *testing.T, r *runner) {
	s, _ := r.store(t)
	got, err := s.Eval(t.Context(), store.NewScript(`return {1, redis.error_reply('INNER oops')}`), nil)
	if err != nil {
		t.Fatalf("Eval: %v", err)
	}
	a, err := store.Slice(got, 2)
	if err != nil {
		t.Fatal(err)
	}
	re, ok := a[1].(*store.RedisError)
	if a[0] != int64(1) || !ok || re.Prefix() != "INNER" {
		t.Fatalf("Eval = %#v, want [1, *store.RedisError INNER]", got)
	}
}

// incrScript returns a script that no server has seen before, which INCRs
// KEYS[1] once.
func incrScript() *store.Script {
	return store.NewScript("-- storetest " + randomHex(8) + "\nreturn redis.call('INCR', KEYS[1])")
}

func testEvalNoScriptFirstRun(t *testing.T, r *runner) {
	s, p := r.store(t)
	sc := incrScript()
	for want := int64(1); want <= 3; want++ {
		got, err := s.Eval(t.Context(), sc, []string{p + "n"})
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Fatalf("Eval #%d = %#v, want %d (the script ran once per call)", want, got, want)
		}
	}
}

func testEvalNoScriptAfterFlush(t *testing.T, r *runner) {
	s, p := r.store(t)
	d, ok := s.(store.Doer)
	if !ok {
		t.Skip("store is not a store.Doer: cannot send SCRIPT FLUSH")
	}
	if r.cfg.cluster {
		t.Skip("on Cluster a Doer sends SCRIPT FLUSH to one node only")
	}
	sc := incrScript()
	key := []string{p + "n"}
	if got, err := s.Eval(t.Context(), sc, key); err != nil || got != int64(1) {
		t.Fatalf("first Eval = %#v, %v", got, err)
	}
	if _, err := d.Do(t.Context(), "SCRIPT", "FLUSH"); err != nil {
		t.Fatalf("SCRIPT FLUSH: %v", err)
	}
	if got, err := s.Eval(t.Context(), sc, key); err != nil || got != int64(2) {
		t.Fatalf("Eval after SCRIPT FLUSH = %#v, %v; want 2 (loaded again, run once)", got, err)
	}
	v, _ := mustGet(t, s, key[0])
	if string(v) != "2" {
		t.Fatalf("counter = %q, want 2", v)
	}
}
