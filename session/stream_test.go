package session_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/rediware/rediware/session"
)

func TestLoadAndSave_server_sent_events_get_cookie_before_first_byte(t *testing.T) {
	_, _, s := newRedis(t)
	m := session.New(s)
	gotFirst := make(chan struct{})
	handlerDone := make(chan struct{})
	mux := http.NewServeMux()
	mux.HandleFunc("/events", func(w http.ResponseWriter, r *http.Request) {
		defer close(handlerDone)
		m.Put(r.Context(), "stream", "open")
		w.Header().Set("Content-Type", "text/event-stream")
		f, ok := w.(http.Flusher)
		if !ok {
			t.Error("the middleware's writer is not an http.Flusher")
			return
		}
		fmt.Fprint(w, "data: 1\n\n")
		f.Flush()
		select { // the client must see event 1 while the handler still runs
		case <-gotFirst:
		case <-time.After(5 * time.Second):
			t.Error("client never received the first event: the response is buffered")
			return
		}
		m.Put(r.Context(), "late", "saved") // after the first byte
		fmt.Fprint(w, "data: 2\n\n")
		if err := http.NewResponseController(w).Flush(); err != nil {
			t.Errorf("ResponseController.Flush: %v", err)
		}
	})
	mux.HandleFunc("/late", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, m.GetString(r.Context(), "stream")+" "+m.GetString(r.Context(), "late"))
	})
	ts := httptest.NewServer(m.LoadAndSave(mux))
	defer ts.Close()

	res, err := http.Get(ts.URL + "/events")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	ck := sessionCookie(res)
	if ck == nil || ck.Value == "" {
		t.Fatal("no session cookie in the streamed response's header")
	}
	br := bufio.NewReader(res.Body)
	line, err := br.ReadString('\n')
	if err != nil || line != "data: 1\n" {
		t.Fatalf("first line %q, %v", line, err)
	}
	close(gotFirst)
	rest, _ := io.ReadAll(br)
	if !strings.Contains(string(rest), "data: 2") {
		t.Fatalf("rest %q", rest)
	}
	<-handlerDone

	req, _ := http.NewRequest("GET", ts.URL+"/late", nil)
	req.AddCookie(ck)
	res2, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if got := body(t, res2); got != "open saved" {
		t.Fatalf("session after the stream = %q, want the change made after the first byte saved too", got)
	}
}

func TestLoadAndSave_new_session_after_first_byte_is_not_saved(t *testing.T) {
	_, c, s := newRedis(t)
	m := session.New(s)
	h := m.LoadAndSave(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello")
		m.Put(r.Context(), "k", "v") // no cookie can carry this new session any more
	}))
	res := do(t, h, "GET", "/", "")
	if res.StatusCode != 200 || sessionCookie(res) != nil {
		t.Fatalf("status %d cookie %v", res.StatusCode, sessionCookie(res))
	}
	if n := c.DBSize(t.Context()).Val(); n != 0 {
		t.Fatalf("%d keys written for a session nobody can use", n)
	}
}

func TestLoadAndSave_saves_once_when_nothing_changes_after_first_byte(t *testing.T) {
	_, c, s := newRedis(t)
	h := app(session.New(s))
	tok := newSession(t, h, "a")
	c.ConfigResetStat(t.Context())
	do(t, h, "GET", "/put?v=b", tok) // Put, then write the body
	calls := commandCalls(t, c)
	if calls["set"]+calls["evalsha"]+calls["eval"] != 1 {
		t.Fatalf("commands %v: want one save", calls)
	}
	if get(t, h, tok) != "b" {
		t.Fatal("not saved")
	}
}

func TestLoadAndSave_ServeContent_through_ReadFrom_sets_cookie(t *testing.T) {
	_, _, s := newRedis(t)
	m := session.New(s)
	h := m.LoadAndSave(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := w.(io.ReaderFrom); !ok {
			t.Error("writer is not an io.ReaderFrom")
		}
		m.Put(r.Context(), "seen", "file")
		http.ServeContent(w, r, "a.txt", time.Time{}, strings.NewReader("file body"))
	}))
	ts := httptest.NewServer(h)
	defer ts.Close()
	res, err := http.Get(ts.URL)
	if err != nil {
		t.Fatal(err)
	}
	if got := body(t, res); got != "file body" || sessionCookie(res) == nil {
		t.Fatalf("body %q cookie %v", got, sessionCookie(res))
	}
}

func TestLogin_and_Refresh_after_the_first_byte_fail_and_keep_the_session(t *testing.T) {
	for _, op := range []string{"login", "refresh"} {
		t.Run(op, func(t *testing.T) {
			_, _, s := newRedis(t)
			m := session.New(s)
			var opErr error
			late := m.LoadAndSave(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				io.WriteString(w, "response started")
				if op == "login" {
					opErr = m.Login(r.Context(), "bob")
				} else {
					opErr = m.Refresh(r.Context())
				}
			}))
			h := app(m)
			tok := login(t, h, "alice")
			res := do(t, late, "GET", "/", tok)
			if res.StatusCode != 200 {
				t.Fatalf("status %d", res.StatusCode)
			}
			if !errors.Is(opErr, session.ErrResponseStarted) {
				t.Fatalf("%s after the first byte returned %v, want ErrResponseStarted: its new token cannot reach the client", op, opErr)
			}
			if got := whoami(t, h, tok); got != "alice" {
				t.Fatalf("session after the failed %s is %q, want alice's, still alive", op, got)
			}
		})
	}
}
