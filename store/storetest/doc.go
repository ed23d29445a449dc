// Package storetest is a conformance suite for store.Store
// implementations, in the spirit of testing/fstest: any backend, in this
// repository or outside it, can check that it behaves as the store
// contract says and as the other backends do.
//
// Usage, in a backend's tests:
//
//	func TestConformance(t *testing.T) {
//		srv := redistest.Start(t) // or any Redis
//		storetest.Run(t, func(t *testing.T) store.Store {
//			c := redis.NewClient(&redis.Options{Addr: srv.Addr()})
//			t.Cleanup(func() { c.Close() })
//			return goredis.New(c)
//		}, storetest.WithServer(storetest.Server{
//			Kill: srv.Kill, Restart: srv.Restart, Pause: srv.Pause, Resume: srv.Resume,
//		}))
//	}
//
// Run calls newStore once per subtest. Subtests use keys and channels under
// a random prefix, so the stores may share one server, and the server may
// hold other data. The optional powers (store.Doer, store.Pipeliner,
// store.Watcher, store.Streamer, store.Pinger) are tested when the store
// has them. The failure subtests (a killed, restarted or paused server)
// run only when WithServer supplies the hooks they need.
package storetest
