package storetest

import (
	"crypto/rand"
	"encoding/hex"
	"testing"
	"time"

	"github.com/rediware/rediware/store"
)

// Server holds the hooks with which the failure subtests control the Redis
// server behind the store. Each may be nil; a subtest that needs a missing
// hook is skipped.
type Server struct {
	// Kill stops the server abruptly (kill -9): open connections break.
	Kill func()
	// Restart starts a killed server again on the same address. It must
	// return once the server accepts connections. Data may be lost.
	Restart func()
	// Pause makes the server stop answering while keeping connections
	// open (SIGSTOP); Resume undoes it.
	Pause, Resume func()
}

// Option configures Run.
type Option func(*config)

type config struct {
	cluster   bool
	server    Server
	advance   func(time.Duration)
	maxKeyLen int
	skips     map[string]string
}

// WithCluster tells the suite that the store runs on Redis Cluster: keys
// of multi-key calls are spread over slots where the contract allows it,
// and SCRIPT FLUSH (which a Doer sends to one node only) is not used.
func WithCluster() Option { return func(c *config) { c.cluster = true } }

// WithServer enables the failure subtests with the given hooks.
func WithServer(s Server) Option { return func(c *config) { c.server = s } }

// WithClock replaces the wait for keys to expire: advance must make the
// server's clock move forward by d (miniredis: FastForward). The default
// sleeps for d.
func WithClock(advance func(d time.Duration)) Option {
	return func(c *config) { c.advance = advance }
}

// WithMaxKeyLen sets the key length limit the store was configured with.
// Default: store.DefaultMaxKeyLen.
func WithMaxKeyLen(n int) Option { return func(c *config) { c.maxKeyLen = n } }

// Skip skips the named subtests (such as "Eval/NoScriptAfterFlush") with
// reason, for a server that genuinely lacks a feature. The reason is shown
// by go test -v.
func Skip(reason string, subtests ...string) Option {
	return func(c *config) {
		for _, n := range subtests {
			c.skips[n] = reason
		}
	}
}

// Run runs the conformance suite. newStore is called once per subtest and
// returns the store to test; it may register cleanups with t.
func Run(t *testing.T, newStore func(t *testing.T) store.Store, opts ...Option) {
	t.Helper()
	cfg := &config{advance: time.Sleep, maxKeyLen: store.DefaultMaxKeyLen, skips: map[string]string{}}
	for _, o := range opts {
		if o != nil {
			o(cfg)
		}
	}
	if cfg.advance == nil {
		cfg.advance = time.Sleep
	}
	r := &runner{cfg: cfg, newStore: newStore}
	for _, g := range []struct {
		name  string
		tests []subtest
	}{
		{"Basic", basicTests},
		{"Eval", evalTests},
		{"Binary", binaryTests},
		{"PubSub", pubsubTests},
		{"Scan", scanTests},
		{"Context", contextTests},
		{"Doer", doerTests},
		{"Pipeliner", pipelinerTests},
		{"Watcher", watcherTests},
		{"Streamer", streamerTests},
		{"Failure", failureTests},
	} {
		t.Run(g.name, func(t *testing.T) {
			for _, st := range g.tests {
				t.Run(st.name, func(t *testing.T) {
					if reason, ok := cfg.skips[g.name+"/"+st.name]; ok {
						t.Skip(reason)
					}
					if reason, ok := cfg.skips[g.name]; ok {
						t.Skip(reason)
					}
					st.fn(t, r)
				})
			}
		})
	}
}

type subtest struct {
	name string
	fn   func(t *testing.T, r *runner)
}

type runner struct {
	cfg      *config
	newStore func(t *testing.T) store.Store
}

// store returns a fresh store and a random prefix for the subtest's keys.
func (r *runner) store(t *testing.T) (store.Store, string) {
	t.Helper()
	s := r.newStore(t)
	if s == nil {
		t.Fatal("storetest: newStore returned nil")
	}
	return s, "storetest:" + randomHex(6) + ":"
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
