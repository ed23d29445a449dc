package redistest_test

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rediware/rediware/internal/redistest"
)

func TestMain(m *testing.M) { redistest.Main(m) }

func client(t *testing.T, s *redistest.Server) *redis.Client {
	t.Helper()
	opt, err := redis.ParseURL(s.URL())
	if err != nil {
		t.Fatalf("ParseURL(%q): %v", s.URL(), err)
	}
	opt.MaxRetries = -1
	// Generous: CI machines run many test binaries at once.
	opt.DialTimeout = 5 * time.Second
	opt.ReadTimeout = 5 * time.Second
	c := redis.NewClient(opt)
	t.Cleanup(func() { c.Close() })
	return c
}

func dialFails(t *testing.T, addr string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err == nil {
		c.Close()
		t.Fatalf("dial %s succeeded, want connection refused", addr)
	}
}

func TestStart_answers_PING(t *testing.T) {
	s := redistest.Start(t)
	if !strings.HasPrefix(s.Addr(), "127.0.0.1:") {
		t.Errorf("Addr() = %q, want 127.0.0.1:port", s.Addr())
	}
	if want := "redis://" + s.Addr() + "/0"; s.URL() != want {
		t.Errorf("URL() = %q, want %q", s.URL(), want)
	}
	if !s.Running() {
		t.Error("Running() = false after Start")
	}
	if err := client(t, s).Ping(t.Context()).Err(); err != nil {
		t.Fatalf("PING: %v", err)
	}
}

func TestStart_applies_WithArgs(t *testing.T) {
	s := redistest.Start(t, redistest.WithArgs("--maxmemory-policy", "allkeys-lru"))
	got, err := client(t, s).ConfigGet(t.Context(), "maxmemory-policy").Result()
	if err != nil {
		t.Fatal(err)
	}
	if got["maxmemory-policy"] != "allkeys-lru" {
		t.Errorf("maxmemory-policy = %q, want allkeys-lru", got["maxmemory-policy"])
	}
}

func TestStart_WithPassword_requires_auth(t *testing.T) {
	s := redistest.Start(t, redistest.WithPassword("s3cret"))
	if s.Password() != "s3cret" {
		t.Errorf("Password() = %q", s.Password())
	}
	noAuth := redis.NewClient(&redis.Options{Addr: s.Addr(), MaxRetries: -1})
	defer noAuth.Close()
	if err := noAuth.Ping(t.Context()).Err(); err == nil || !strings.Contains(err.Error(), "NOAUTH") {
		t.Errorf("PING without password: err = %v, want NOAUTH", err)
	}
	if err := client(t, s).Ping(t.Context()).Err(); err != nil {
		t.Errorf("PING with URL %q: %v", s.URL(), err)
	}
}

func TestStart_password_via_WithArgs_still_starts(t *testing.T) {
	s := redistest.Start(t, redistest.WithArgs("--requirepass", "x"))
	c := redis.NewClient(&redis.Options{Addr: s.Addr(), Password: "x", MaxRetries: -1})
	defer c.Close()
	if err := c.Ping(t.Context()).Err(); err != nil {
		t.Fatal(err)
	}
}

func TestStart_bad_config_fails_with_log(t *testing.T) {
	// A start failure must fail the test, with redis-server's own message.
	// Run it on a fake TB so this test itself can observe the failure.
	ft := &fatalTB{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		redistest.Start(ft, redistest.WithArgs("--no-such-directive", "1"))
	}()
	<-done
	if !strings.Contains(ft.msg, "no-such-directive") && !strings.Contains(ft.msg, "Bad directive") {
		t.Errorf("failure message lacks redis-server's error:\n%s", ft.msg)
	}
}

// fatalTB records Fatal instead of failing the real test.
type fatalTB struct {
	testing.TB
	mu  sync.Mutex
	msg string
}

func (f *fatalTB) Fatal(args ...any) {
	f.mu.Lock()
	for _, a := range args {
		if err, ok := a.(error); ok {
			f.msg += err.Error()
		}
	}
	f.mu.Unlock()
	runtime.Goexit()
}

func TestServer_Kill_refuses_connections(t *testing.T) {
	s := redistest.Start(t)
	s.Kill()
	if s.Running() {
		t.Error("Running() = true after Kill")
	}
	dialFails(t, s.Addr())
	s.Kill() // repeated: no-op
}

func TestServer_Stop_shuts_down_gracefully(t *testing.T) {
	s := redistest.Start(t)
	s.Stop()
	if s.Running() {
		t.Error("Running() = true after Stop")
	}
	dialFails(t, s.Addr())
	log, err := os.ReadFile(filepath.Join(s.Dir(), "redis.log"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(log), "ready to exit") {
		t.Errorf("redis.log has no graceful shutdown message:\n%s", log)
	}
	s.Stop() // repeated: no-op
}

func TestServer_Restart_after_Kill_same_port_empty_data(t *testing.T) {
	s := redistest.Start(t)
	c := client(t, s)
	if err := c.Set(t.Context(), "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	addr := s.Addr()
	s.Kill()
	s.Restart()
	if s.Addr() != addr {
		t.Errorf("Addr() after Restart = %s, want %s", s.Addr(), addr)
	}
	if !s.Running() {
		t.Error("Running() = false after Restart")
	}
	if err := c.Ping(t.Context()).Err(); err != nil {
		t.Fatalf("PING after Restart: %v", err)
	}
	if err := c.Get(t.Context(), "k").Err(); !errors.Is(err, redis.Nil) {
		t.Errorf("GET k after Restart: err = %v, want redis.Nil (data gone)", err)
	}
}

func TestServer_Restart_after_Stop(t *testing.T) {
	s := redistest.Start(t)
	s.Stop()
	s.Restart()
	if err := client(t, s).Ping(t.Context()).Err(); err != nil {
		t.Fatalf("PING after Stop+Restart: %v", err)
	}
}

func TestServer_Restart_while_running_replaces_process(t *testing.T) {
	s := redistest.Start(t)
	c := client(t, s)
	if err := c.Set(t.Context(), "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	s.Restart()
	if n, err := c.Exists(t.Context(), "k").Result(); err != nil || n != 0 {
		t.Errorf("EXISTS k after Restart = %d, %v; want 0, nil", n, err)
	}
}

func TestServer_Pause_hangs_until_Resume(t *testing.T) {
	s := redistest.Start(t)
	c := client(t, s)
	if err := c.Ping(t.Context()).Err(); err != nil {
		t.Fatal(err)
	}
	s.Pause()
	if !s.Running() {
		t.Error("Running() = false while paused")
	}
	short := redis.NewClient(&redis.Options{Addr: s.Addr(), MaxRetries: -1, ReadTimeout: 200 * time.Millisecond})
	defer short.Close()
	err := short.Ping(t.Context()).Err()
	var ne net.Error
	if err == nil || !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("PING while paused: err = %v, want a timeout", err)
	}
	s.Resume()
	if err := c.Ping(t.Context()).Err(); err != nil {
		t.Fatalf("PING after Resume: %v", err)
	}
}

func TestServer_Stop_while_paused(t *testing.T) {
	s := redistest.Start(t)
	s.Pause()
	s.Stop()
	if s.Running() {
		t.Error("Running() = true after Stop")
	}
	s.Resume() // not paused any more: no-op
}

func TestServer_Kill_while_paused_then_Restart(t *testing.T) {
	s := redistest.Start(t)
	s.Pause()
	s.Kill()
	s.Restart()
	if err := client(t, s).Ping(t.Context()).Err(); err != nil {
		t.Fatalf("PING: %v", err)
	}
}

func TestServer_lifecycle_concurrent_with_cleanup(t *testing.T) {
	var s *redistest.Server
	var wg sync.WaitGroup
	t.Run("owner", func(t *testing.T) {
		s = redistest.Start(t)
		for i := range 4 {
			wg.Go(func() {
				// Keeps going after the owner's cleanup, where every call
				// must become a no-op.
				for j := range 20 {
					switch (i + j) % 4 {
					case 0:
						s.Kill()
					case 1:
						s.Restart()
					case 2:
						s.Stop()
					case 3:
						s.Pause()
						s.Resume()
					}
					_ = s.Running()
				}
			})
		}
		time.Sleep(50 * time.Millisecond)
	})
	wg.Wait()
	if s == nil {
		t.Skip("owner subtest skipped")
	}
	if s.Running() {
		t.Error("Running() = true after the owner's cleanup")
	}
	dialFails(t, s.Addr())
}

func TestStartN_gives_independent_servers(t *testing.T) {
	servers := redistest.StartN(t, 3)
	if len(servers) != 3 {
		t.Fatalf("len = %d, want 3", len(servers))
	}
	seen := map[string]bool{}
	for _, s := range servers {
		if seen[s.Addr()] {
			t.Errorf("duplicate address %s", s.Addr())
		}
		seen[s.Addr()] = true
	}
	if err := client(t, servers[0]).Set(t.Context(), "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	for _, s := range servers[1:] {
		if n, err := client(t, s).Exists(t.Context(), "k").Result(); err != nil || n != 0 {
			t.Errorf("%s: EXISTS k = %d, %v; want 0", s.Addr(), n, err)
		}
	}
}

func TestStart_skips_without_redis_server(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	t.Setenv(redistest.EnvServer, "")
	t.Setenv(redistest.EnvRequire, "")
	if redistest.Available() {
		t.Fatal("Available() = true with an empty PATH")
	}
	ran := false
	t.Run("inner", func(t *testing.T) {
		redistest.Start(t)
		ran = true
	})
	if ran {
		t.Error("Start returned without redis-server; want t.Skip")
	}
}

func TestDecide(t *testing.T) {
	notFound := errors.New(`exec: "redis-server": executable file not found in $PATH`)
	tests := []struct {
		name    string
		lookErr error
		require string
		want    int
	}{
		{"found", nil, "", int(redistest.VerdictRun)},
		{"found, required", nil, "1", int(redistest.VerdictRun)},
		{"missing", notFound, "", int(redistest.VerdictSkip)},
		{"missing, require=0", notFound, "0", int(redistest.VerdictSkip)},
		{"missing, require=junk", notFound, "yes please", int(redistest.VerdictSkip)},
		{"missing, require=1", notFound, "1", int(redistest.VerdictFail)},
		{"missing, require=true", notFound, "true", int(redistest.VerdictFail)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, msg := redistest.Decide(tt.lookErr, tt.require)
			if int(v) != tt.want {
				t.Errorf("verdict = %d, want %d", v, tt.want)
			}
			if v != redistest.VerdictRun && (!strings.Contains(msg, "redis-server") || !strings.Contains(msg, redistest.EnvRequire)) {
				t.Errorf("message %q should name redis-server and %s", msg, redistest.EnvRequire)
			}
		})
	}
}
