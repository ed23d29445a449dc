package redistest

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// The shared cluster belongs to the test binary, not to a test: it is
// started by the first SharedCluster call and killed by Main, or, without
// Main, by the parent-death signal when the binary exits (Linux).

const sharedDirPrefix = "redistest-shared-"

var shared struct {
	once    sync.Once
	cluster *Cluster
	dir     string
	err     error

	mu      sync.Mutex
	cond    *sync.Cond
	holders []string // names of the tests holding the cluster, outermost first
}

func init() { shared.cond = sync.NewCond(&shared.mu) }

// SharedCluster returns the test binary's three-master cluster, starting
// and forming it on first use. Before returning it makes sure every node is
// running and the cluster is ok, then runs FLUSHALL and SCRIPT FLUSH on
// every master, so each test starts from an empty cluster.
//
// Because of that flush, tests using SharedCluster are serialised: a call
// blocks while another test (other than an ancestor of this one) holds the
// cluster, and a test holds it until its cleanup. A test's own subtests may
// use it too; calling SharedCluster again from the same test flushes again.
//
// Do not kill or pause the shared nodes; use StartCluster for that. (A
// killed shared node is restarted by the next SharedCluster call.)
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
	acquireShared(tb)
	if err := shared.cluster.reset(); err != nil {
		tb.Fatal(err)
	}
	return shared.cluster
}

// acquireShared blocks until the top of the holder chain is tb or one of its
// ancestors, and pushes tb until its cleanup.
func acquireShared(tb testing.TB) {
	name := tb.Name()
	shared.mu.Lock()
	defer shared.mu.Unlock()
	for {
		top := ""
		if n := len(shared.holders); n > 0 {
			top = shared.holders[n-1]
		}
		if top == name {
			return // already held by this test
		}
		if top == "" || strings.HasPrefix(name, top+"/") {
			break
		}
		shared.cond.Wait()
	}
	shared.holders = append(shared.holders, name)
	tb.Cleanup(func() {
		shared.mu.Lock()
		defer shared.mu.Unlock()
		if i := slices.Index(shared.holders, name); i >= 0 {
			shared.holders = slices.Delete(shared.holders, i, i+1)
		}
		shared.cond.Broadcast()
	})
}

// reset brings any stopped or paused node back, waits for the cluster to be
// ok, and empties every master.
func (c *Cluster) reset() error {
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
