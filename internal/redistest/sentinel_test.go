package redistest_test

import (
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rediware/rediware/internal/redistest"
)

func failoverClient(t *testing.T, s *redistest.Sentinel, password string) *redis.Client {
	t.Helper()
	c := redis.NewFailoverClient(&redis.FailoverOptions{
		MasterName:    s.MasterName(),
		SentinelAddrs: s.SentinelAddrs(),
		Password:      password,
	})
	t.Cleanup(func() { c.Close() })
	return c
}

func role(t *testing.T, s *redistest.Server) string {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: s.Addr(), Password: s.Password(), MaxRetries: -1})
	defer c.Close()
	info, err := c.Info(t.Context(), "replication").Result()
	if err != nil {
		t.Fatalf("%s: INFO: %v", s.Addr(), err)
	}
	for line := range strings.SplitSeq(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "role:"); ok {
			return v
		}
	}
	return ""
}

func TestStartSentinel_FailoverClient_writes_to_master(t *testing.T) {
	s := redistest.StartSentinel(t)
	if role(t, s.Master()) != "master" || role(t, s.Replica()) != "slave" {
		t.Fatalf("roles: master %s, replica %s", role(t, s.Master()), role(t, s.Replica()))
	}
	c := failoverClient(t, s, "")
	if err := c.Set(t.Context(), "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if got, err := client(t, s.Master()).Get(t.Context(), "k").Result(); err != nil || got != "v" {
		t.Errorf("GET k on Master() = %q, %v", got, err)
	}
}

func TestSentinel_Failover_promotes_replica(t *testing.T) {
	t.Parallel()
	s := redistest.StartSentinel(t, redistest.WithPassword("pw"))
	oldMaster, oldReplica := s.Master(), s.Replica()
	c := failoverClient(t, s, "pw")
	if err := c.Set(t.Context(), "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if err := c.Do(t.Context(), "WAIT", 1, 2000).Err(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	s.Failover()
	t.Logf("Failover took %v", time.Since(start).Round(time.Millisecond))
	if s.Master() != oldReplica || s.Replica() != oldMaster {
		t.Fatalf("after Failover Master() = %s, want %s", s.Master().Addr(), oldReplica.Addr())
	}
	if r := role(t, oldReplica); r != "master" {
		t.Errorf("former replica has role %s, want master", r)
	}
	if r := role(t, oldMaster); r != "slave" {
		t.Errorf("former master has role %s, want slave", r)
	}
	// The failover client follows the switch; retry while it notices.
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := c.Set(t.Context(), "k2", "v2", 0).Err()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("SET after failover: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got, err := client(t, oldReplica).Get(t.Context(), "k").Result(); err != nil || got != "v" {
		t.Errorf("GET k on the new master = %q, %v; want the replicated value", got, err)
	}
}

func TestSentinel_killed_master_fails_over_by_itself(t *testing.T) {
	t.Parallel()
	s := redistest.StartSentinel(t)
	oldMaster, oldReplica := s.Master(), s.Replica()
	oldMaster.Kill()
	start := time.Now()
	s.WaitMaster(t, oldReplica)
	t.Logf("automatic failover took %v", time.Since(start).Round(time.Millisecond))
	oldMaster.Restart() // comes back as a replica of the new master
	deadline := time.Now().Add(10 * time.Second)
	for role(t, oldMaster) != "slave" {
		if time.Now().After(deadline) {
			t.Fatal("restarted former master is not a replica")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if s.Master() != oldReplica {
		t.Errorf("Master() = %s, want %s", s.Master().Addr(), oldReplica.Addr())
	}
}
