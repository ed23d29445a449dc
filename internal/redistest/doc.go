// Package redistest starts real redis-server processes for tests: standalone
// servers, several independent servers (for Redlock), three-master Redis
// Clusters and a Sentinel setup, each process on a free loopback port with
// its files in a temporary directory.
//
// A server's port stays reserved until the test's cleanup, across test
// binaries too (an flock on $TMPDIR/rediware-redistest-ports/<port> on
// Unix), so that while a test has a server killed, no server of another
// package running in parallel can take its port and answer its clients.
//
// Servers started for a test are killed in its cleanup; on Linux every
// redis-server also gets a parent-death signal, so none outlives a crashed
// or timed-out test binary. A server can be stopped gracefully, killed,
// paused (SIGSTOP, a hung Redis) and restarted on the same port, to test
// behaviour while Redis is down, slow or restarted.
//
// If no redis-server binary is found in PATH (or at $REDIWARE_REDIS_SERVER),
// tests that ask for one are skipped with a message saying so; with
// REDIWARE_REQUIRE_REDIS=1, as in CI, they fail instead.
//
// Usage:
//
//	func TestMain(m *testing.M) { redistest.Main(m) } // removes the shared cluster
//
//	func TestLimiter_Redis_restart(t *testing.T) {
//		srv := redistest.Start(t) // or Start(t, redistest.WithPassword("pw"))
//		opt, _ := redis.ParseURL(srv.URL())
//		rdb := redis.NewClient(opt)
//		defer rdb.Close()
//
//		// ... use rdb ...
//		srv.Kill()    // Redis crashed: connections are refused
//		srv.Restart() // same port, empty data set
//		srv.Pause()   // Redis hung: requests time out
//		srv.Resume()
//	}
//
//	func TestRedlock(t *testing.T) {
//		servers := redistest.StartN(t, 5)
//		// ...
//	}
//
//	func TestStore_Cluster(t *testing.T) {
//		c := redistest.SharedCluster(t) // formed once per binary, flushed for this test
//		rdb := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs()})
//		defer rdb.Close()
//		// ...
//	}
//
//	func TestStore_Cluster_node_down(t *testing.T) {
//		c := redistest.StartCluster(t) // private: this test may kill nodes
//		c.Masters()[0].Kill()
//		// ...
//		c.Masters()[0].Restart()
//		c.WaitOK(t)
//	}
//
//	func TestStore_Sentinel_failover(t *testing.T) {
//		s := redistest.StartSentinel(t) // master, replica, one sentinel
//		rdb := redis.NewFailoverClient(&redis.FailoverOptions{
//			MasterName: s.MasterName(), SentinelAddrs: s.SentinelAddrs()})
//		defer rdb.Close()
//		// ...
//		s.Failover() // the replica is now Master(), the old master Replica()
//	}
//
// Timings on the development machine (2 cores): Start about 10 ms, Kill plus
// Restart about 10 ms; forming a cluster about 2.1 s, almost all of it Redis's
// fixed 2 s delay before a newly started master serves, which also applies to
// a restarted cluster node; StartSentinel about 0.15 s and Failover about
// 1.5 s.
package redistest
