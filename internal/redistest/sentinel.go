package redistest

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	sentinelMasterName = "mymaster"
	failoverTimeout    = 20 * time.Second
)

// Sentinel is a Redis Sentinel setup: a master, one replica of it, and one
// sentinel monitoring them with quorum 1, down-after-milliseconds 1000 and
// failover-timeout 5000. All belong to the test that started them.
//
// With quorum 1 the sentinel fails over on its own once the master has not
// answered for a second (killed, or paused by Pause); use WaitMaster to
// wait for that, or Failover to switch roles on demand.
type Sentinel struct {
	sentinel *Server
	mu       sync.Mutex // serialises Failover and WaitMaster
	nodes    [2]*Server
	master   int // index in nodes of the last known master
}

// StartSentinel starts a master, a replica and a sentinel, and returns once
// the replica is in sync and the sentinel knows both. opts apply to the
// master and the replica; WithPassword also gives the replica masterauth and
// the sentinel auth-pass. It takes about 0.1 s.
func StartSentinel(tb testing.TB, opts ...Option) *Sentinel {
	tb.Helper()
	bin := requireRedis(tb)
	cfg := buildConfig(opts)
	master := newOwnedServer(tb, bin, cfg, false)
	replica := newOwnedServer(tb, bin, cfg, false)
	sent := newOwnedServer(tb, bin, config{}, false)
	sent.sentinel = true
	// In this order: the sentinel discovers replicas from the master's
	// INFO, which it asks for at once and then only every 10 s.
	if err := master.launch(true); err != nil {
		tb.Fatal(err)
	}
	replica.replicaOf = master.port
	if err := replica.launch(true); err != nil {
		tb.Fatal(err)
	}
	if err := waitReplicaOf(replica, master); err != nil {
		tb.Fatal(err)
	}
	conf := fmt.Sprintf("sentinel monitor %[1]s 127.0.0.1 %[2]d 1\n"+
		"sentinel down-after-milliseconds %[1]s 1000\n"+
		"sentinel failover-timeout %[1]s 5000\n", sentinelMasterName, master.port)
	if cfg.password != "" {
		conf += fmt.Sprintf("sentinel auth-pass %s %s\n", sentinelMasterName, cfg.password)
	}
	if err := os.WriteFile(sent.path("sentinel.conf"), []byte(conf), 0o644); err != nil {
		tb.Fatal(err)
	}
	if err := sent.launch(true); err != nil {
		tb.Fatal(err)
	}
	s := &Sentinel{sentinel: sent, nodes: [2]*Server{master, replica}}
	if err := s.waitKnows(); err != nil {
		tb.Fatal(err)
	}
	return s
}

// MasterName returns the name the sentinel monitors the master under, for
// redis.FailoverOptions.MasterName.
func (s *Sentinel) MasterName() string { return sentinelMasterName }

// SentinelAddrs returns the sentinels' addresses, for
// redis.FailoverOptions.SentinelAddrs.
func (s *Sentinel) SentinelAddrs() []string { return []string{s.sentinel.Addr()} }

// Sentinels returns the sentinel processes, to stop or kill them.
func (s *Sentinel) Sentinels() []*Server { return []*Server{s.sentinel} }

// Master returns the server the sentinel currently reports as master (after
// a failover, the former replica), or the last known master if the sentinel
// does not answer.
func (s *Sentinel) Master() *Server {
	s.mu.Lock()
	defer s.mu.Unlock()
	if i, err := s.reportedMaster(); err == nil {
		s.master = i
	}
	return s.nodes[s.master]
}

// Replica returns the server that is not Master.
func (s *Sentinel) Replica() *Server {
	m := s.Master()
	if m == s.nodes[0] {
		return s.nodes[1]
	}
	return s.nodes[0]
}

// Failover makes the sentinel fail over (SENTINEL FAILOVER) and waits until
// the replica is promoted and the sentinel reports it as master. The former
// master, if running, is then made a replica of the new one at once (the
// sentinel would do it only after about 8 s), so on return Master and
// Replica have swapped and the replica is in sync. Both servers must be
// running. It takes about 1 s and fails the test after 20 s.
func (s *Sentinel) Failover() {
	if err := s.failover(); err != nil {
		s.sentinel.fail(err)
	}
}

func (s *Sentinel) failover() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if i, err := s.reportedMaster(); err == nil {
		s.master = i
	}
	old, cand := s.nodes[s.master], s.nodes[1-s.master]
	deadline := time.Now().Add(failoverTimeout)
	for {
		_, err := s.sentinel.do("SENTINEL", "FAILOVER", sentinelMasterName)
		if err == nil {
			break
		}
		// NOGOODSLAVE: the sentinel has no fresh info on the replica yet;
		// INPROG: a failover is already running. Both pass.
		if !isRESPError(err) || time.Now().After(deadline) ||
			!(strings.Contains(err.Error(), "NOGOODSLAVE") || strings.Contains(err.Error(), "INPROG")) {
			return fmt.Errorf("redistest: SENTINEL FAILOVER: %w", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := s.waitPromotedLocked(cand, deadline); err != nil {
		return err
	}
	if old.Running() {
		if _, err := old.do("REPLICAOF", "127.0.0.1", strconv.Itoa(cand.port)); err != nil {
			return fmt.Errorf("redistest: %s: REPLICAOF: %w", old.Addr(), err)
		}
		if err := waitReplicaOf(old, cand); err != nil {
			return err
		}
	}
	return nil
}

// WaitMaster waits until the sentinel reports srv (one of Master and
// Replica) as master and srv has taken the role, e.g. after the master was
// killed and the sentinel failed over by itself (about 2 s), and fails the
// test after 20 s. A later Restart of the other server then starts it as a
// replica of srv.
func (s *Sentinel) WaitMaster(tb testing.TB, srv *Server) {
	tb.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if srv != s.nodes[0] && srv != s.nodes[1] {
		tb.Fatal("redistest: WaitMaster: server is not part of this Sentinel setup")
	}
	if err := s.waitPromotedLocked(srv, time.Now().Add(failoverTimeout)); err != nil {
		tb.Fatal(err)
	}
}

// waitPromotedLocked waits until the sentinel reports srv as master and srv
// says role:master, then records the new roles, also for later Restarts.
func (s *Sentinel) waitPromotedLocked(srv *Server, deadline time.Time) error {
	idx := 0
	if srv == s.nodes[1] {
		idx = 1
	}
	for {
		i, err := s.reportedMaster()
		if err == nil && i == idx {
			var fields map[string]string
			if fields, err = serverInfo(srv, "replication"); err == nil && fields["role"] != "master" {
				err = fmt.Errorf("%s has role %s", srv.Addr(), fields["role"])
			}
		} else if err == nil {
			err = fmt.Errorf("sentinel still reports %s as master", s.nodes[i].Addr())
		}
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("redistest: %s not promoted to master: %w", srv.Addr(), err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.master = idx
	other := s.nodes[1-idx]
	srv.setReplicaOf(0)
	other.setReplicaOf(srv.port)
	return nil
}

// reportedMaster returns the index in s.nodes of the server the sentinel
// reports as master.
func (s *Sentinel) reportedMaster() (int, error) {
	v, err := command(s.sentinel.Addr(), "", time.Second, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", sentinelMasterName)
	if err != nil {
		return 0, err
	}
	addr, ok := v.([]any)
	if !ok || len(addr) != 2 {
		return 0, fmt.Errorf("GET-MASTER-ADDR-BY-NAME answered %v", v)
	}
	for i, n := range s.nodes {
		if addr[1] == strconv.Itoa(n.port) {
			return i, nil
		}
	}
	return 0, fmt.Errorf("sentinel reports unknown master %v", addr)
}

// waitKnows waits until the sentinel reports the master and knows the
// replica with a working link.
func (s *Sentinel) waitKnows() error {
	replica := s.nodes[1]
	deadline := time.Now().Add(readyTimeout)
	for {
		err := s.knowsReplica(replica)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("redistest: sentinel %s not ready: %w", s.sentinel.Addr(), err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (s *Sentinel) knowsReplica(replica *Server) error {
	if i, err := s.reportedMaster(); err != nil || i != 0 {
		return fmt.Errorf("master not reported (%d, %v)", i, err)
	}
	v, err := command(s.sentinel.Addr(), "", time.Second, "SENTINEL", "REPLICAS", sentinelMasterName)
	if err != nil {
		return err
	}
	list, _ := v.([]any)
	for _, r := range list {
		kv, _ := r.([]any)
		f := map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			k, _ := kv[i].(string)
			val, _ := kv[i+1].(string)
			f[k] = val
		}
		if f["port"] == strconv.Itoa(replica.port) && f["flags"] == "slave" && f["master-link-status"] == "ok" {
			return nil
		}
	}
	return errors.New("sentinel does not know the replica yet")
}

// waitReplicaOf waits until replica reports an up link to master.
func waitReplicaOf(replica, master *Server) error {
	deadline := time.Now().Add(readyTimeout)
	for {
		f, err := serverInfo(replica, "replication")
		if err == nil && (f["role"] != "slave" || f["master_port"] != strconv.Itoa(master.port) || f["master_link_status"] != "up") {
			err = fmt.Errorf("role:%s master_port:%s master_link_status:%s", f["role"], f["master_port"], f["master_link_status"])
		}
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("redistest: %s not replicating %s: %w", replica.Addr(), master.Addr(), err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// serverInfo returns the fields of INFO section.
func serverInfo(s *Server, section string) (map[string]string, error) {
	info, err := commandString(s.Addr(), s.cfg.password, time.Second, "INFO", section)
	if err != nil {
		return nil, err
	}
	return infoFields(info), nil
}

func (s *Server) setReplicaOf(port int) {
	s.mu.Lock()
	s.replicaOf = port
	s.mu.Unlock()
}
