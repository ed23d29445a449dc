package session_test

import (
	"strconv"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/rediware/rediware/session"
)

// commandCalls returns the number of calls of each command since the last
// CONFIG RESETSTAT, from INFO commandstats.
func commandCalls(t *testing.T, c *redis.Client) map[string]int {
	t.Helper()
	info, err := c.Info(t.Context(), "commandstats").Result()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, line := range strings.Split(info, "\n") {
		name, rest, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok || !strings.HasPrefix(name, "cmdstat_") {
			continue
		}
		calls := strings.TrimPrefix(strings.Split(rest, ",")[0], "calls=")
		n, _ := strconv.Atoi(calls)
		out[strings.TrimPrefix(name, "cmdstat_")] = n
	}
	return out
}

func TestLoadAndSave_unmodified_request_costs_one_GET_and_no_write(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  session.Config
		path string
	}{
		{"anonymous", session.Config{}, "/put?v=x"},
		{"logged in", session.Config{}, "/login?u=u1"},
		{"no idle timeout", session.Config{IdleTimeout: -1}, "/put?v=x"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, c, s := newRedis(t)
			h := app(session.NewManager(s, tc.cfg))
			ck := sessionCookie(do(t, h, "GET", tc.path, ""))
			if err := c.ConfigResetStat(t.Context()).Err(); err != nil {
				t.Fatal(err)
			}
			for range 10 {
				res := do(t, h, "GET", "/whoami", ck.Value)
				if res.StatusCode != 200 || sessionCookie(res) != nil {
					t.Fatalf("status %d, cookie %v", res.StatusCode, sessionCookie(res))
				}
			}
			calls := commandCalls(t, c)
			delete(calls, "config|resetstat")
			if calls["get"] != 10 || len(calls) != 1 {
				t.Fatalf("10 unmodified requests ran %v; want exactly get=10", calls)
			}
		})
	}
}

func TestLoadAndSave_request_without_cookie_costs_nothing(t *testing.T) {
	_, c, s := newRedis(t)
	h := app(session.New(s))
	c.ConfigResetStat(t.Context())
	do(t, h, "GET", "/get", "")
	calls := commandCalls(t, c)
	delete(calls, "config|resetstat")
	if len(calls) != 0 {
		t.Fatalf("ran %v", calls)
	}
}

func TestLogin_save_is_one_script_on_a_single_node(t *testing.T) {
	_, c, s := newRedis(t)
	h := app(session.New(s))
	login(t, h, "bob") // loads the script (EVALSHA, NOSCRIPT, EVAL)
	c.ConfigResetStat(t.Context())
	login(t, h, "alice")
	calls := commandCalls(t, c)
	// commandstats also counts the commands the script runs (set, zadd, ...):
	// the round trip is the one script, session and index together.
	if calls["evalsha"]+calls["eval"] != 1 || calls["get"] != 0 {
		t.Fatalf("ran %v; want one script", calls)
	}
}

func TestLoadAndSave_save_of_indexed_session_is_one_SET(t *testing.T) {
	_, c, s := newRedis(t)
	h := app(session.New(s))
	tok := login(t, h, "alice")
	c.ConfigResetStat(t.Context())
	do(t, h, "GET", "/put?v=x", tok)
	calls := commandCalls(t, c)
	delete(calls, "config|resetstat")
	if calls["get"] != 1 || calls["set"] != 1 || len(calls) != 2 {
		t.Fatalf("ran %v; want get=1 set=1 (the index entry is already right)", calls)
	}
	if got := get(t, h, tok); got != "x" {
		t.Fatalf("get %q", got)
	}
}

func TestLoadAndSave_malformed_cookie_never_reaches_redis(t *testing.T) {
	_, c, s := newRedis(t)
	h := app(session.NewManager(s, session.Config{Lock: true}))
	c.ConfigResetStat(t.Context())
	for _, bad := range []string{"x", strings.Repeat("A", 8<<10), "*", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="} {
		if res := do(t, h, "GET", "/get", bad); res.StatusCode != 200 {
			t.Fatalf("status %d", res.StatusCode)
		}
	}
	calls := commandCalls(t, c)
	delete(calls, "config|resetstat")
	if len(calls) != 0 {
		t.Fatalf("malformed cookies ran %v", calls)
	}
}

func TestRefresh_of_logged_in_session_costs_GET_renewal_and_one_save_script(t *testing.T) {
	_, c, s := newRedis(t)
	h := app(session.New(s))
	tok := login(t, h, "alice")
	tok = sessionCookie(do(t, h, "GET", "/refresh", tok)).Value // loads the scripts
	c.ConfigResetStat(t.Context())
	res := do(t, h, "GET", "/refresh", tok)
	calls := commandCalls(t, c)
	// commandstats also counts the commands the scripts run: the round
	// trips are the GET and the scripts.
	if calls["get"] != 1 || calls["evalsha"]+calls["eval"] != 2 {
		t.Fatalf("ran %v; want get=1 and two scripts (the renewal, then the save with the index)", calls)
	}
	ck := sessionCookie(res)
	if res.StatusCode != 200 || ck == nil || ck.Value == "" || ck.Value == tok {
		t.Fatalf("status %d, cookie %v", res.StatusCode, ck)
	}
	if whoami(t, h, ck.Value) != "alice" || whoami(t, h, tok) != "" {
		t.Fatal("the renewed token must be alice's and the old one dead")
	}
}
