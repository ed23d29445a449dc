package redistest

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

const (
	readyTimeout = 10 * time.Second // start until PING answers
	stopTimeout  = 10 * time.Second // SIGTERM until exit, then SIGKILL
	adminTimeout = 5 * time.Second  // one admin command
	logFile      = "redis.log"      // redis-server's --logfile, in Dir()
	outFile      = "redis.out"      // its stdout and stderr (config errors land here)
)

// Server is one redis-server process listening on a free loopback port, with
// its working directory (logs, cluster nodes.conf) in a temporary directory.
//
// All methods are safe for concurrent use, including concurrently with the
// test's cleanup; lifecycle methods (Stop, Kill, Restart, Pause, Resume) are
// serialised. After the owning test's cleanup has run they are no-ops.
type Server struct {
	owner    testing.TB // nil for the shared cluster's nodes
	bin      string
	dir      string
	port     int  // fixed once the first start succeeded
	cluster  bool // --cluster-enabled
	sentinel bool // runs sentinel.conf in Dir with --sentinel
	cfg      config

	mu        sync.Mutex // serialises lifecycle changes
	proc      atomic.Pointer[process]
	paused    bool
	closed    bool
	replicaOf int // if not 0, started with --replicaof 127.0.0.1 replicaOf
}

// process is one run of redis-server.
type process struct {
	cmd  *exec.Cmd
	done chan struct{} // closed once the process has exited and been reaped
	err  error         // cmd.Wait's result, valid after done is closed
}

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// kill sends SIGKILL and waits until the process has been reaped.
func (p *process) kill() {
	if !p.exited() {
		_ = p.cmd.Process.Kill()
	}
	<-p.done
}

// Start starts a standalone redis-server for the test and kills it in
// tb.Cleanup. It returns once the server answers PING.
//
// If no redis-server binary is found Start skips the test with a clear
// message, or fails it when REDIWARE_REQUIRE_REDIS=1. If the server does not
// start, Start fails the test with the tail of the server's log.
func Start(tb testing.TB, opts ...Option) *Server {
	tb.Helper()
	bin := requireRedis(tb)
	s := newOwnedServer(tb, bin, buildConfig(opts), false)
	if err := s.launch(true); err != nil {
		tb.Fatal(err)
	}
	return s
}

// StartN starts n independent standalone servers concurrently (e.g. for
// Redlock across N masters). Each behaves as if started by Start.
func StartN(tb testing.TB, n int, opts ...Option) []*Server {
	tb.Helper()
	bin := requireRedis(tb)
	cfg := buildConfig(opts)
	servers := make([]*Server, n)
	for i := range servers {
		servers[i] = newOwnedServer(tb, bin, cfg, false)
	}
	if err := launchAll(servers); err != nil {
		tb.Fatal(err)
	}
	return servers
}

// newOwnedServer makes a not yet started server whose process and directory
// belong to tb.
func newOwnedServer(tb testing.TB, bin string, cfg config, cluster bool) *Server {
	s := &Server{owner: tb, bin: bin, dir: tb.TempDir(), cfg: cfg, cluster: cluster}
	// Registered after TempDir, so it runs before the directory is removed.
	tb.Cleanup(func() {
		s.close()
		if tb.Failed() {
			if tail := s.logTail(); tail != "" {
				tb.Logf("redistest: log of redis-server %s:\n%s", s.Addr(), tail)
			}
		}
	})
	return s
}

// launchAll starts servers concurrently on new ports.
func launchAll(servers []*Server) error {
	errs := make([]error, len(servers))
	var wg sync.WaitGroup
	for i, s := range servers {
		wg.Go(func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			errs[i] = s.launch(true)
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// Addr returns the server's address, "127.0.0.1:port".
func (s *Server) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }

// Port returns the server's TCP port. It stays the same across Restart.
func (s *Server) Port() int { return s.port }

// URL returns a redis:// URL for database 0, e.g. "redis://127.0.0.1:port/0",
// or "redis://:password@127.0.0.1:port/0" when started WithPassword; it
// parses with go-redis's redis.ParseURL.
func (s *Server) URL() string {
	u := url.URL{Scheme: "redis", Host: s.Addr(), Path: "/0"}
	if s.cfg.password != "" {
		u.User = url.UserPassword("", s.cfg.password)
	}
	return u.String()
}

// Password returns the password set WithPassword, or "".
func (s *Server) Password() string { return s.cfg.password }

// Dir returns the server's working directory. It holds redis.log (the
// server's log, level warning), redis.out (its stdout and stderr) and, for
// cluster nodes, nodes.conf, for a sentinel, sentinel.conf. It is removed
// after the test.
func (s *Server) Dir() string { return s.dir }

// Running reports whether the server process is alive, which includes being
// paused by Pause.
func (s *Server) Running() bool {
	p := s.proc.Load()
	return p != nil && !p.exited()
}

// Stop shuts the server down gracefully (SIGTERM, which Redis handles like
// SHUTDOWN; with no persistence configured nothing is saved) and waits for
// it to exit, killing it if it takes more than 10 s. A paused server is
// resumed first. Stop on a stopped server does nothing.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.proc.Load()
	if p == nil || p.exited() {
		return
	}
	if s.paused {
		_ = p.cmd.Process.Signal(sigCont)
		s.paused = false
	}
	if err := p.cmd.Process.Signal(sigTerm); err == nil {
		select {
		case <-p.done:
			return
		case <-time.After(stopTimeout):
		}
	}
	p.kill()
}

// Kill kills the server with SIGKILL, as a crash would, and waits for it to
// exit. All data is lost. Kill on a stopped server does nothing.
func (s *Server) Kill() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.killLocked()
}

func (s *Server) killLocked() {
	if p := s.proc.Load(); p != nil {
		p.kill()
	}
	s.paused = false
}

// Restart starts the server again on the same port and with the same
// directory after Stop or Kill, and waits until it answers PING. A running
// server is killed first. The data set starts empty (no persistence), but a
// cluster node reloads nodes.conf and so rejoins its cluster; use
// Cluster.WaitOK to wait for that.
//
// Restart fails the test if the server does not come back (like t.Fatal it
// must then be called from the test goroutine). After the test's cleanup it
// does nothing.
func (s *Server) Restart() {
	if err := s.restart(); err != nil {
		s.fail(err)
	}
}

func (s *Server) restart() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.killLocked()
	return s.launch(false)
}

// Pause suspends the server with SIGSTOP: connections stay open but nothing
// is answered, as with a hung or badly overloaded Redis. It returns once the
// process is stopped. Pause on a paused or stopped server does nothing.
func (s *Server) Pause() {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.proc.Load()
	if s.paused || p == nil || p.exited() {
		return
	}
	if err := signalStopped(p); err != nil {
		s.fail(fmt.Errorf("redistest: pause redis-server %s: %w", s.Addr(), err))
		return
	}
	s.paused = true
}

// Resume continues a server suspended by Pause (SIGCONT). Resume on a server
// that is not paused does nothing.
func (s *Server) Resume() {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.proc.Load()
	if !s.paused || p == nil || p.exited() {
		s.paused = false
		return
	}
	if err := p.cmd.Process.Signal(sigCont); err != nil {
		s.fail(fmt.Errorf("redistest: resume redis-server %s: %w", s.Addr(), err))
		return
	}
	s.paused = false
}

// signalStopped sends SIGSTOP and, where /proc exists, waits until the
// process is seen stopped, so a request sent after Pause returns is never
// served.
func signalStopped(p *process) error {
	if sigStop == nil {
		return errors.New("not supported on this platform")
	}
	if err := p.cmd.Process.Signal(sigStop); err != nil {
		return err
	}
	stat := fmt.Sprintf("/proc/%d/stat", p.cmd.Process.Pid)
	// Delivery is normally immediate; the bound is generous for a machine
	// loaded by parallel test binaries.
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		b, err := os.ReadFile(stat)
		if err != nil {
			return nil // no /proc: trust the signal
		}
		// Format: pid (comm) state ...; comm may contain spaces or parens.
		if i := strings.LastIndexByte(string(b), ')'); i >= 0 && i+2 < len(b) && (b[i+2] == 'T' || b[i+2] == 't') {
			return nil
		}
		time.Sleep(time.Millisecond)
	}
	return errors.New("process did not stop within 10s")
}

// close kills the process for good; later lifecycle calls do nothing.
func (s *Server) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	s.closed = true
	s.killLocked()
	if s.port != 0 {
		releasePort(s.port, s.cluster)
	}
}

// fail reports a lifecycle failure to the owning test, or panics for the
// shared cluster's nodes, which have no owner.
func (s *Server) fail(err error) {
	if s.owner != nil {
		s.owner.Helper()
		s.owner.Fatal(err)
	}
	panic(err)
}

// args returns the redis-server command line, without the binary.
// Callers hold s.mu or own s exclusively.
func (s *Server) args() []string {
	var a []string
	if s.sentinel {
		a = append(a, "sentinel.conf", "--sentinel")
	}
	a = append(a,
		"--port", strconv.Itoa(s.port),
		"--bind", "127.0.0.1",
		"--dir", ".", // cmd.Dir is the server's directory; no quoting issues with odd paths
		"--save", "",
		"--appendonly", "no",
		"--protected-mode", "no",
		"--daemonize", "no",
		"--loglevel", "warning",
		"--logfile", logFile,
		"--enable-debug-command", "yes", // DEBUG SLEEP etc. for failure tests
		"--repl-diskless-sync-delay", "0", // replicas sync at once, not after 5 s
	)
	if s.cluster {
		a = append(a,
			"--cluster-enabled", "yes",
			"--cluster-config-file", "nodes.conf",
			"--cluster-node-timeout", "2000",
		)
	}
	if s.replicaOf != 0 {
		a = append(a, "--replicaof", "127.0.0.1", strconv.Itoa(s.replicaOf))
	}
	if s.cfg.password != "" {
		a = append(a, "--requirepass", s.cfg.password, "--masterauth", s.cfg.password)
	}
	return append(a, s.cfg.args...)
}

// launch starts the process and waits until it answers PING. With newPort
// it picks a fresh port and retries on another one if the port was taken in
// the meantime; otherwise it reuses s.port, retrying briefly. Callers hold
// s.mu or own s exclusively.
func (s *Server) launch(newPort bool) error {
	const attempts = 5
	var err error
	for range attempts {
		if newPort {
			if s.port != 0 {
				releasePort(s.port, s.cluster)
				s.port = 0
			}
			p, perr := reservePort(s.cluster)
			if perr != nil {
				return perr
			}
			s.port = p
		}
		logOff, outOff := fileSize(s.path(logFile)), fileSize(s.path(outFile))
		var p *process
		p, err = s.spawn()
		if err != nil {
			return fmt.Errorf("redistest: start %s: %w", s.bin, err)
		}
		s.proc.Store(p)
		start := time.Now()
		if err = waitReady(p, s.Addr(), s.cfg.password); err == nil {
			return nil
		}
		p.kill()
		newOutput := readFrom(s.path(logFile), logOff) + readFrom(s.path(outFile), outOff)
		err = fmt.Errorf("redistest: redis-server %s (dir %s) not ready after %v: %w\n--- redis log tail ---\n%s",
			s.Addr(), s.dir, time.Since(start).Round(time.Millisecond), err, lastLines(newOutput, 20))
		if !strings.Contains(newOutput, "already in use") {
			return err
		}
		if !newPort {
			time.Sleep(200 * time.Millisecond)
		}
	}
	return err
}

func (s *Server) spawn() (*process, error) {
	out, err := os.OpenFile(s.path(outFile), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer out.Close() // the child has its own copy
	cmd := exec.Command(s.bin, s.args()...)
	cmd.Dir = s.dir
	cmd.Stdout, cmd.Stderr = out, out
	if err := startCmd(cmd); err != nil {
		return nil, err
	}
	p := &process{cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// waitReady polls with PING until the server answers, it exits, or
// readyTimeout passes.
func waitReady(p *process, addr, password string) error {
	deadline := time.Now().Add(readyTimeout)
	interval := time.Millisecond
	var last error
	for {
		if p.exited() {
			return fmt.Errorf("exited early (%v)", p.err)
		}
		if last = ping(addr, password); last == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return last
		}
		time.Sleep(interval)
		interval = min(2*interval, 20*time.Millisecond)
	}
}

// ping succeeds once addr answers PING. A NOAUTH answer counts: the server
// is up but was given a password through WithArgs.
func ping(addr, password string) error {
	v, err := command(addr, password, 500*time.Millisecond, "PING")
	var re respError
	if errors.As(err, &re) && strings.HasPrefix(string(re), "NOAUTH") {
		return nil
	}
	if err != nil {
		return err
	}
	if v != "PONG" {
		return fmt.Errorf("PING answered %v", v)
	}
	return nil
}

// do runs one admin command on the server.
func (s *Server) do(args ...string) (any, error) {
	return command(s.Addr(), s.cfg.password, adminTimeout, args...)
}

func (s *Server) path(name string) string { return filepath.Join(s.dir, name) }

// logTail returns the last lines of the server's log and output.
func (s *Server) logTail() string {
	return lastLines(readFrom(s.path(outFile), 0)+readFrom(s.path(logFile), 0), 30)
}

func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// readFrom returns at most the last 16 KiB of path after offset off.
func readFrom(path string, off int64) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	if size := fileSize(path); size-off > 16<<10 {
		off = size - 16<<10
	}
	if _, err := f.Seek(off, io.SeekStart); err != nil {
		return ""
	}
	b, _ := io.ReadAll(f)
	return string(b)
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
