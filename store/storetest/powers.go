package storetest

import (
	"errors"
	"reflect"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/rediware/rediware/store"
)

var doerTests = []subtest{
	{"Replies", testDoReplies},
	{"ErrorReply", testDoErrorReply},
	{"NoCommand", testDoNoCommand},
	{"RefusesConnectionState", testDoRefusesConnectionState},
}

var pipelinerTests = []subtest{
	{"Results", testPipelineResults},
	{"Empty", testPipelineEmpty},
}

var watcherTests = []subtest{
	{"Commit", testWatchCommit},
	{"Conflict", testWatchConflict},
	{"ContendedIncrements", testWatchContended},
	{"FnError", testWatchFnError},
}

var streamerTests = []subtest{
	{"GroupReadAck", testStreamGroupReadAck},
	{"AutoClaim", testStreamAutoClaim},
	{"ReadBlocks", testStreamReadBlocks},
}

// power returns s as the optional power P, or skips the test when s does
// not have it.
func power[P any](t *testing.T, s store.Store) P {
	t.Helper()
	p, ok := s.(P)
	if !ok {
		t.Skipf("store is not a %s", reflect.TypeFor[P]())
	}
	return p
}

func testDoReplies(t *testing.T, r *runner) {
	s, p := r.store(t)
	d := power[store.Doer](t, s)
	ctx := t.Context()
	h := store.Keyspace{Prefix: p}.Key("h")
	for _, tc := range []struct {
		args []any
		want any
	}{
		{[]any{"SET", p + "k", "v"}, "OK"},
		{[]any{"GET", p + "k"}, "v"},
		{[]any{"GET", p + "missing"}, nil},
		{[]any{"INCRBY", p + "n", 5}, int64(5)},
		{[]any{"RPUSH", p + "l", "a", []byte("b"), 3}, int64(3)},
		{[]any{"LRANGE", p + "l", 0, -1}, []any{"a", "b", "3"}},
		{[]any{"LRANGE", p + "missing", 0, -1}, []any{}},
		{[]any{"HSET", h, "f", "x"}, int64(1)},
		{[]any{"HMGET", h, "f", "nope"}, []any{"x", nil}},
		{[]any{"SET", p + "f", 1.5}, "OK"},
		{[]any{"GET", p + "f"}, "1.5"},
		{[]any{"SET", p + "b", true}, "OK"},
		{[]any{"GET", p + "b"}, "1"},
	} {
		got, err := d.Do(ctx, tc.args...)
		if err != nil {
			t.Fatalf("Do%v: %v", tc.args, err)
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Fatalf("Do%v = %#v, want %#v", tc.args, got, tc.want)
		}
	}
}

func testDoErrorReply(t *testing.T, r *runner) {
	s, p := r.store(t)
	d := power[store.Doer](t, s)
	mustSet(t, s, p+"k", []byte("abc"), 0)
	_, err := d.Do(t.Context(), "INCR", p+"k")
	var re *store.RedisError
	if !errors.As(err, &re) || errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("INCR of a string: %v, want *store.RedisError", err)
	}
	_, err = d.Do(t.Context(), "NOSUCHCOMMAND", p+"k")
	if !errors.As(err, &re) {
		t.Fatalf("unknown command: %v, want *store.RedisError", err)
	}
}

func testDoNoCommand(t *testing.T, r *runner) {
	s, _ := r.store(t)
	d := power[store.Doer](t, s)
	if _, err := d.Do(t.Context()); err == nil {
		t.Fatal("Do() without a command succeeded")
	}
}

// A pooled connection left inside MULTI (or subscribed, or on another
// database) would answer the next user's commands wrongly: Do must refuse
// such commands, and the store must keep working afterwards.
func testDoRefusesConnectionState(t *testing.T, r *runner) {
	s, p := r.store(t)
	d := power[store.Doer](t, s)
	for _, cmd := range []string{"MULTI", "watch", "SUBSCRIBE", "SELECT"} {
		args := []any{cmd}
		if cmd != "MULTI" {
			args = append(args, p+"x")
		}
		if _, err := d.Do(t.Context(), args...); err == nil {
			t.Errorf("Do(%s) was accepted", cmd)
		}
	}
	for i := 0; i < 4; i++ { // every pooled connection still answers normally
		mustSet(t, s, p+"k", []byte("v"), 0)
		if v, found := mustGet(t, s, p+"k"); !found || string(v) != "v" {
			t.Fatalf("Get after refused commands = %q, %v", v, found)
		}
	}
}

func testPipelineResults(t *testing.T, r *runner) {
	s, p := r.store(t)
	pl := power[store.Pipeliner](t, s)
	ks := store.Keyspace{Prefix: p}
	k, str := ks.Key("id", "n"), ks.Key("id", "s")
	mustSet(t, s, str, []byte("abc"), 0)
	res, err := pl.Pipeline(t.Context(),
		[]any{"SET", k, 10},
		[]any{"INCR", k},
		[]any{"INCR", str}, // fails: not an integer
		[]any{"GET", k},
		[]any{"GET", ks.Key("id", "missing")},
		[]any{"MGET", k, str},
	)
	if err != nil {
		t.Fatalf("Pipeline: %v (a command's Redis error belongs in its Result)", err)
	}
	if len(res) != 6 {
		t.Fatalf("Pipeline returned %d results, want 6", len(res))
	}
	var re *store.RedisError
	for i, want := range []store.Result{
		{Value: "OK"}, {Value: int64(11)}, {}, {Value: "11"}, {Value: nil}, {Value: []any{"11", "abc"}},
	} {
		got := res[i]
		if i == 2 {
			if !errors.As(got.Err, &re) || got.Value != nil {
				t.Errorf("result %d = %#v, want a *store.RedisError", i, got)
			}
			continue
		}
		if got.Err != nil || !reflect.DeepEqual(got.Value, want.Value) {
			t.Errorf("result %d = %#v, want %#v", i, got, want)
		}
	}
}

func testPipelineEmpty(t *testing.T, r *runner) {
	s, _ := r.store(t)
	pl := power[store.Pipeliner](t, s)
	res, err := pl.Pipeline(t.Context())
	if err != nil || len(res) != 0 {
		t.Fatalf("empty Pipeline = %v, %v", res, err)
	}
}

func testWatchCommit(t *testing.T, r *runner) {
	s, p := r.store(t)
	w := power[store.Watcher](t, s)
	ctx := t.Context()
	ks := store.Keyspace{Prefix: p}
	a, b := ks.Key("acct", "a"), ks.Key("acct", "b")
	mustSet(t, s, a, []byte("7"), 0)
	var res []store.Result
	err := w.Watch(ctx, func(tx store.Tx) error {
		v, err := tx.Do(ctx, "GET", a)
		if err != nil {
			return err
		}
		if v != "7" {
			t.Errorf("GET inside Watch = %#v, want \"7\"", v)
		}
		res, err = tx.Exec(ctx, []any{"DECRBY", a, 2}, []any{"INCRBY", b, 2}, []any{"GET", b})
		return err
	}, a, b)
	if err != nil {
		t.Fatalf("Watch: %v", err)
	}
	want := []store.Result{{Value: int64(5)}, {Value: int64(2)}, {Value: "2"}}
	if !reflect.DeepEqual(res, want) {
		t.Fatalf("Exec = %#v, want %#v", res, want)
	}
}

func testWatchConflict(t *testing.T, r *runner) {
	s, p := r.store(t)
	w := power[store.Watcher](t, s)
	ctx := t.Context()
	k := p + "k"
	mustSet(t, s, k, []byte("1"), 0)
	err := w.Watch(ctx, func(tx store.Tx) error {
		if _, err := tx.Do(ctx, "GET", k); err != nil {
			return err
		}
		// Another client changes the watched key.
		mustSet(t, s, k, []byte("changed"), 0)
		res, err := tx.Exec(ctx, []any{"SET", k, "mine"})
		if err == nil {
			t.Errorf("Exec after a conflicting write = %#v, want ErrTxConflict", res)
		}
		return err
	}, k)
	if !errors.Is(err, store.ErrTxConflict) {
		t.Fatalf("Watch = %v, want ErrTxConflict", err)
	}
	if v, _ := mustGet(t, s, k); string(v) != "changed" {
		t.Fatalf("value = %q, want the other client's write", v)
	}
}

func testWatchContended(t *testing.T, r *runner) {
	s, p := r.store(t)
	w := power[store.Watcher](t, s)
	ctx := t.Context()
	k := p + "counter"
	const workers, each = 4, 25
	var wg sync.WaitGroup
	var conflicts sync.Map
	errs := make(chan error, workers)
	for g := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				for attempt := 0; ; attempt++ {
					if attempt > 1000 {
						errs <- errors.New("1000 conflicts in a row")
						return
					}
					err := w.Watch(ctx, func(tx store.Tx) error {
						v, err := tx.Do(ctx, "GET", k)
						if err != nil {
							return err
						}
						n, _ := strconv.Atoi(toString(v))
						_, err = tx.Exec(ctx, []any{"SET", k, n + 1})
						return err
					}, k)
					if errors.Is(err, store.ErrTxConflict) {
						conflicts.Store(g, true)
						continue
					}
					if err != nil {
						errs <- err
						return
					}
					break
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	v, _ := mustGet(t, s, k)
	if string(v) != strconv.Itoa(workers*each) {
		t.Fatalf("counter = %s after %d increments with retries: an update was lost", v, workers*each)
	}
}

func toString(v any) string {
	s, _, _ := store.String(v)
	return s
}

func testWatchFnError(t *testing.T, r *runner) {
	s, p := r.store(t)
	w := power[store.Watcher](t, s)
	mine := errors.New("mine")
	err := w.Watch(t.Context(), func(tx store.Tx) error { return mine }, p+"k")
	if !errors.Is(err, mine) {
		t.Fatalf("Watch = %v, want fn's error", err)
	}
	// The connection went back to the pool without a lingering WATCH.
	mustSet(t, s, p+"k", []byte("v"), 0)
	if v, _ := mustGet(t, s, p+"k"); string(v) != "v" {
		t.Fatalf("value = %q", v)
	}
}

func ids(ms []store.StreamMessage) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.ID
	}
	return out
}

func testStreamGroupReadAck(t *testing.T, r *runner) {
	s, p := r.store(t)
	st := power[store.Streamer](t, s)
	ctx := t.Context()
	stream := p + "jobs"
	for range 2 { // an existing group is not an error
		if err := st.XGroupCreate(ctx, stream, "workers", "0"); err != nil {
			t.Fatalf("XGroupCreate: %v", err)
		}
	}
	var added []string
	for i := range 3 {
		id, err := st.XAdd(ctx, stream, 0, map[string]string{"n": strconv.Itoa(i), "bin": "\x00\xff"})
		if err != nil {
			t.Fatal(err)
		}
		added = append(added, id)
	}
	ms, err := st.XReadGroup(ctx, stream, "workers", "c1", 2, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(ids(ms), added[:2]) {
		t.Fatalf("XReadGroup ids = %v, want %v", ids(ms), added[:2])
	}
	if ms[1].Fields["n"] != "1" || ms[1].Fields["bin"] != "\x00\xff" || len(ms[1].Fields) != 2 {
		t.Fatalf("fields = %q", ms[1].Fields)
	}
	n, err := st.XAck(ctx, stream, "workers", added[0], added[0])
	if err != nil || n != 1 {
		t.Fatalf("XAck = %d, %v; want 1", n, err)
	}
	if n, err := st.XAck(ctx, stream, "workers"); err != nil || n != 0 {
		t.Fatalf("XAck of nothing = %d, %v", n, err)
	}
	ms, err = st.XReadGroup(ctx, stream, "workers", "c1", 10, 0)
	if err != nil || !reflect.DeepEqual(ids(ms), added[2:]) {
		t.Fatalf("second XReadGroup = %v, %v; want %v", ids(ms), err, added[2:])
	}
	ms, err = st.XReadGroup(ctx, stream, "workers", "c1", 10, 0)
	if err != nil || ms != nil {
		t.Fatalf("XReadGroup with nothing new = %v, %v; want nil, nil", ms, err)
	}
	// Trimming: maxLen keeps the stream near that length.
	for range 200 {
		if _, err := st.XAdd(ctx, p+"capped", 10, map[string]string{"f": "v"}); err != nil {
			t.Fatal(err)
		}
	}
	if d, ok := s.(store.Doer); ok {
		v, err := d.Do(ctx, "XLEN", p+"capped")
		if n, _ := store.Int64(v); err != nil || n >= 200 {
			t.Fatalf("XLEN after 200 XAdd with maxLen 10 = %v, %v; want trimmed", v, err)
		}
	}
}

func testStreamAutoClaim(t *testing.T, r *runner) {
	s, p := r.store(t)
	st := power[store.Streamer](t, s)
	ctx := t.Context()
	stream := p + "jobs"
	if err := st.XGroupCreate(ctx, stream, "g", "$"); err != nil {
		t.Fatal(err)
	}
	var added []string
	for i := range 3 {
		id, err := st.XAdd(ctx, stream, 0, map[string]string{"n": strconv.Itoa(i)})
		if err != nil {
			t.Fatal(err)
		}
		added = append(added, id)
	}
	if ms, err := st.XReadGroup(ctx, stream, "g", "dead", 10, 0); err != nil || len(ms) != 3 {
		t.Fatalf("XReadGroup = %v, %v", ids(ms), err)
	}
	if _, err := st.XAck(ctx, stream, "g", added[1]); err != nil {
		t.Fatal(err)
	}
	// Not idle long enough yet.
	next, ms, err := st.XAutoClaim(ctx, stream, "g", "alive", time.Hour, "0-0", 10)
	if err != nil || len(ms) != 0 {
		t.Fatalf("XAutoClaim(minIdle 1h) = %q, %v, %v; want nothing", next, ids(ms), err)
	}
	r.cfg.advance(20 * time.Millisecond)
	var claimed []store.StreamMessage
	start := ""
	for {
		next, ms, err = st.XAutoClaim(ctx, stream, "g", "alive", 10*time.Millisecond, start, 1)
		if err != nil {
			t.Fatal(err)
		}
		claimed = append(claimed, ms...)
		if next == "0-0" {
			break
		}
		if len(claimed) > 10 {
			t.Fatalf("XAutoClaim does not end: next %q", next)
		}
		start = next
	}
	got := ids(claimed)
	sort.Strings(got)
	if !reflect.DeepEqual(got, []string{added[0], added[2]}) {
		t.Fatalf("claimed %v, want the unacknowledged %v", got, []string{added[0], added[2]})
	}
	if claimed[0].Fields["n"] == "" {
		t.Fatalf("claimed message without fields: %+v", claimed[0])
	}
}

func testStreamReadBlocks(t *testing.T, r *runner) {
	s, p := r.store(t)
	st := power[store.Streamer](t, s)
	ctx := t.Context()
	stream := p + "jobs"
	if err := st.XGroupCreate(ctx, stream, "g", "$"); err != nil {
		t.Fatal(err)
	}
	ms, err := st.XReadGroup(ctx, stream, "g", "c", 1, 50*time.Millisecond)
	if err != nil || ms != nil {
		t.Fatalf("blocking XReadGroup on an empty stream = %v, %v; want nil, nil", ms, err)
	}
	done := make(chan []store.StreamMessage, 1)
	go func() {
		ms, err := st.XReadGroup(ctx, stream, "g", "c", 1, 5*time.Second)
		if err != nil {
			t.Error(err)
		}
		done <- ms
	}()
	time.Sleep(50 * time.Millisecond)
	id, err := st.XAdd(ctx, stream, 0, map[string]string{"f": "v"})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case ms := <-done:
		if len(ms) != 1 || ms[0].ID != id {
			t.Fatalf("blocked XReadGroup returned %v, want %s", ids(ms), id)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("blocked XReadGroup did not return after XAdd")
	}
}
