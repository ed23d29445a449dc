package redistest

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// The shared cluster belongs to the test binary, not to a test: it is
// started by the first SharedCluster call and killed by Main, or, without
// Main, by the parent-death signal when the binary exits (Linux).

const sharedDirPrefix = "redistest-shared-"

var shared = struct {
	once    sync.Once
	cluster *Cluster
	dir     string
	err     error

	mu    sync.Mutex     // serialises SharedCluster after the start
	users map[string]int // names of the tests using the cluster, with call counts
}{users: map[string]int{}}

// SharedCluster returns the test binary's three-master cluster, starting
// and forming it on first use. Before returning it makes sure every node is
// running and the cluster is ok and, unless another test is using the
// cluster at that moment, runs FLUSHALL and SCRIPT FLUSH on every master, so
// each test starts from an empty cluster.
//
// A test uses the cluster from its SharedCluster call until its cleanup.
// Tests that run at the same time (t.Parallel, or subtests of a test that
// called SharedCluster) therefore share the data set and must use distinct
// keys; nothing is flushed under them. A test calling SharedCluster again
// while it is the only user gets a fresh flush.
//
// Do not kill or pause the shared nodes; use StartCluster for that. (A
// killed node is restarted by the next SharedCluster call.)
//
// Like Start, it skips the test without redis-server unless
// REDIWARE_REQUIRE_REDIS=1. Call Main from TestMain to remove the cluster's
// files when the tests end.
func SharedCluster(tb testing.TB) *Cluster {
	tb.Helper()
	bin := requireRedis(tb)
	shared.once.Do(func() { shared.cluster, shared.dir, shared.err = startShared(bin) })
	if shared.err != nil {
		tb.Fatal(shared.err)
	}
	name := tb.Name()
	shared.mu.Lock()
	defer shared.mu.Unlock()
	alone := true
	for user := range shared.users {
		if user != name {
			alone = false
		}
	}
	shared.users[name]++
	tb.Cleanup(func() {
		shared.mu.Lock()
		defer shared.mu.Unlock()
		if shared.users[name]--; shared.users[name] <= 0 {
			delete(shared.users, name)
		}
	})
	// Serialised by shared.mu, so two callers never restart a node at once.
	if err := shared.cluster.reset(alone); err != nil {
		tb.Fatal(err)
	}
	return shared.cluster
}

// reset brings any stopped or paused node back, waits for the cluster to be
// ok and, with flush, empties every master.
func (c *Cluster) reset(flush bool) error {
	for _, s := range c.masters {
		s.Resume()
		if !s.Running() {
			if err := s.restart(); err != nil {
				return err
			}
		}
	}
	if err := waitClusterOK(c.masters, clusterOKTimeout); err != nil {
		return err
	}
	if !flush {
		return nil
	}
	for _, s := range c.masters {
		for _, cmd := range [][]string{{"FLUSHALL"}, {"SCRIPT", "FLUSH"}} {
			if _, err := s.do(cmd...); err != nil {
				return fmt.Errorf("redistest: %s: %s: %w", s.Addr(), strings.Join(cmd, " "), err)
			}
		}
	}
	return nil
}

func startShared(bin string) (*Cluster, string, error) {
	sweepStaleShared()
	dir, err := os.MkdirTemp("", sharedDirPrefix)
	if err != nil {
		return nil, "", err
	}
	if err := os.WriteFile(filepath.Join(dir, "pid"), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		return nil, "", err
	}
	masters := make([]*Server, len(clusterSlots))
	for i := range masters {
		nodeDir := filepath.Join(dir, "node"+strconv.Itoa(i))
		if err := os.Mkdir(nodeDir, 0o755); err != nil {
			return nil, "", err
		}
		masters[i] = &Server{bin: bin, dir: nodeDir, cluster: true}
	}
	c := &Cluster{masters: masters}
	err = launchAll(masters)
	if err == nil {
		err = formCluster(masters)
	}
	if err != nil {
		c.close()
		os.RemoveAll(dir)
		return nil, "", fmt.Errorf("redistest: starting the shared cluster: %w", err)
	}
	return c, dir, nil
}

func (c *Cluster) close() {
	for _, s := range c.masters {
		s.close()
	}
}

// sweepStaleShared removes shared-cluster directories left by test binaries
// that exited without Main (their servers died with them).
func sweepStaleShared() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), sharedDirPrefix+"*"))
	for _, d := range dirs {
		b, err := os.ReadFile(filepath.Join(d, "pid"))
		if err != nil {
			continue
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || pid <= 0 {
			continue
		}
		if processGone(pid) {
			os.RemoveAll(d)
		}
	}
}

// Main runs the tests and then kills the shared cluster and removes its
// files before exiting with the tests' exit code. Use it as the package's
// TestMain:
//
//	func TestMain(m *testing.M) { redistest.Main(m) }
//
// Servers from Start, StartN and StartCluster are cleaned up by their tests
// and do not need it.
func Main(m *testing.M) {
	code := m.Run()
	shutdownShared()
	os.Exit(code)
}

func shutdownShared() {
	if shared.cluster != nil {
		shared.cluster.close()
	}
	if shared.dir != "" {
		os.RemoveAll(shared.dir)
	}
}
