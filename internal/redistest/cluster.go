package redistest

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"
)

// clusterSlots are the slot ranges of the three masters.
var clusterSlots = [3][2]int{{0, 5460}, {5461, 10922}, {10923, 16383}}

const clusterOKTimeout = 20 * time.Second

// Cluster is a Redis Cluster of three masters on loopback, without replicas,
// each master owning a third of the hash slots. Nodes run with
// --cluster-node-timeout 2000 (override it WithArgs for StartCluster).
type Cluster struct {
	masters []*Server
}

// Addrs returns the masters' addresses, e.g. for redis.ClusterOptions.Addrs.
func (c *Cluster) Addrs() []string {
	addrs := make([]string, len(c.masters))
	for i, s := range c.masters {
		addrs[i] = s.Addr()
	}
	return addrs
}

// Masters returns the master nodes. The first owns slots 0-5460, the second
// 5461-10922, the third 10923-16383. Each can be Killed, Paused and
// Restarted like a standalone Server; a restarted node reloads nodes.conf
// and rejoins the cluster (see WaitOK).
func (c *Cluster) Masters() []*Server { return c.masters }

// WaitOK waits until every master is running and reports cluster_state:ok,
// knows all three masters and sees them connected, and fails the test after
// 20 s. Call it after restarting a node: Redis keeps a restarted master out
// of service for 2 s, and a master that was marked FAIL (down for longer
// than the node timeout) is only cleared 2 node timeouts after the failure.
func (c *Cluster) WaitOK(tb testing.TB) {
	tb.Helper()
	if err := waitClusterOK(c.masters, clusterOKTimeout); err != nil {
		tb.Fatal(err)
	}
}

// StartCluster starts a private three-master cluster for the test, owned and
// killed by it like servers from Start, for tests that kill, pause or
// restart nodes. Forming a cluster takes a little over 2 s, nearly all of it
// Redis's own delay before a new master serves; tests that only read and
// write should use SharedCluster.
//
// opts apply to every node, after the cluster settings.
func StartCluster(tb testing.TB, opts ...Option) *Cluster {
	tb.Helper()
	bin := requireRedis(tb)
	cfg := buildConfig(opts)
	masters := make([]*Server, len(clusterSlots))
	for i := range masters {
		masters[i] = newOwnedServer(tb, bin, cfg, true)
	}
	if err := launchAll(masters); err != nil {
		tb.Fatal(err)
	}
	if err := formCluster(masters); err != nil {
		tb.Fatal(err)
	}
	return &Cluster{masters: masters}
}

// formCluster turns three fresh cluster-enabled servers into a cluster: each
// gets a distinct config epoch and its slot range, they meet each other
// directly, and then it waits for every node to report the cluster healthy.
func formCluster(masters []*Server) error {
	for i, s := range masters {
		if _, err := s.do("CLUSTER", "SET-CONFIG-EPOCH", strconv.Itoa(i+1)); err != nil {
			return fmt.Errorf("redistest: %s: CLUSTER SET-CONFIG-EPOCH: %w", s.Addr(), err)
		}
		r := clusterSlots[i]
		if _, err := s.do("CLUSTER", "ADDSLOTSRANGE", strconv.Itoa(r[0]), strconv.Itoa(r[1])); err != nil {
			return fmt.Errorf("redistest: %s: CLUSTER ADDSLOTSRANGE: %w", s.Addr(), err)
		}
	}
	for i, s := range masters {
		for _, peer := range masters[i+1:] {
			if _, err := s.do("CLUSTER", "MEET", "127.0.0.1", strconv.Itoa(peer.Port())); err != nil {
				return fmt.Errorf("redistest: %s: CLUSTER MEET %s: %w", s.Addr(), peer.Addr(), err)
			}
		}
	}
	return waitClusterOK(masters, clusterOKTimeout)
}

// waitClusterOK polls until clusterHealth reports no problem.
func waitClusterOK(masters []*Server, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		err := clusterHealth(masters)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("redistest: cluster %v not ok after %v: %w", (&Cluster{masters}).Addrs(), timeout, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// clusterHealth returns nil if every node is running, says
// cluster_state:ok, knows exactly len(masters) masters, and sees every one
// of them connected and not failing.
func clusterHealth(masters []*Server) error {
	want := len(masters)
	for _, s := range masters {
		if !s.Running() {
			return fmt.Errorf("%s is not running", s.Addr())
		}
		info, err := commandString(s.Addr(), s.cfg.password, time.Second, "CLUSTER", "INFO")
		if err != nil {
			return fmt.Errorf("%s: CLUSTER INFO: %w", s.Addr(), err)
		}
		fields := infoFields(info)
		if fields["cluster_state"] != "ok" || fields["cluster_known_nodes"] != strconv.Itoa(want) ||
			fields["cluster_size"] != strconv.Itoa(want) {
			return fmt.Errorf("%s: cluster_state:%s cluster_known_nodes:%s cluster_size:%s", s.Addr(),
				fields["cluster_state"], fields["cluster_known_nodes"], fields["cluster_size"])
		}
		nodes, err := commandString(s.Addr(), s.cfg.password, time.Second, "CLUSTER", "NODES")
		if err != nil {
			return fmt.Errorf("%s: CLUSTER NODES: %w", s.Addr(), err)
		}
		if err := checkNodes(nodes, want); err != nil {
			return fmt.Errorf("%s: %w", s.Addr(), err)
		}
	}
	return nil
}

// infoFields parses "key:value" lines of an INFO-style reply.
func infoFields(info string) map[string]string {
	m := map[string]string{}
	for line := range strings.SplitSeq(info, "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), ":"); ok {
			m[k] = v
		}
	}
	return m
}

// checkNodes checks a CLUSTER NODES reply: want masters, all connected, none
// failing, in handshake or without address.
func checkNodes(nodes string, want int) error {
	masters := 0
	for line := range strings.SplitSeq(strings.TrimSpace(nodes), "\n") {
		// <id> <ip:port@cport> <flags> <master> <ping-sent> <pong-recv> <config-epoch> <link-state> <slot>...
		f := strings.Fields(line)
		if len(f) < 8 {
			return fmt.Errorf("malformed CLUSTER NODES line %q", line)
		}
		for flag := range strings.SplitSeq(f[2], ",") {
			switch flag {
			case "fail", "fail?", "handshake", "noaddr":
				return fmt.Errorf("node %s is %s", f[1], flag)
			case "master":
				masters++
			}
		}
		if f[7] != "connected" {
			return fmt.Errorf("node %s link is %s", f[1], f[7])
		}
	}
	if masters != want {
		return fmt.Errorf("sees %d masters, want %d", masters, want)
	}
	return nil
}
