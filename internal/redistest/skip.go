package redistest

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"testing"
)

// Environment variables read by the harness.
const (
	// EnvRequire, when set to a true value ("1", "true"), turns a missing
	// redis-server from a skipped test into a failed one. CI sets it.
	EnvRequire = "REDIWARE_REQUIRE_REDIS"
	// EnvServer overrides the redis-server binary (a path or a name looked up
	// in PATH), e.g. to run the suite against another Redis version.
	EnvServer = "REDIWARE_REDIS_SERVER"
)

// lookRedis finds the redis-server binary.
func lookRedis() (string, error) {
	name := "redis-server"
	if v := os.Getenv(EnvServer); v != "" {
		name = v
	}
	return exec.LookPath(name)
}

// Available reports whether a redis-server binary can be found (in PATH, or
// at $REDIWARE_REDIS_SERVER), for benchmarks and examples that decide for
// themselves what to do without one.
func Available() bool {
	_, err := lookRedis()
	return err == nil
}

// verdict is what a test does about the redis-server lookup.
type verdict int

const (
	verdictRun verdict = iota
	verdictSkip
	verdictFail
)

// decide turns the result of looking up redis-server and the value of
// $REDIWARE_REQUIRE_REDIS into a verdict and, unless verdictRun, a message
// for t.Skip or t.Fatal.
func decide(lookErr error, require string) (verdict, string) {
	if lookErr == nil {
		return verdictRun, ""
	}
	req, _ := strconv.ParseBool(require)
	if req {
		return verdictFail, fmt.Sprintf("redistest: redis-server not found (%v) and %s=%s: install Redis or unset %s",
			lookErr, EnvRequire, require, EnvRequire)
	}
	return verdictSkip, fmt.Sprintf("redistest: skipping, redis-server not found (%v); install Redis 7 or set %s=1 to make this a failure",
		lookErr, EnvRequire)
}

// requireRedis returns the redis-server path, or skips or fails tb.
func requireRedis(tb testing.TB) string {
	tb.Helper()
	path, err := lookRedis()
	switch v, msg := decide(err, os.Getenv(EnvRequire)); v {
	case verdictFail:
		tb.Fatal(msg)
	case verdictSkip:
		tb.Skip(msg)
	}
	return path
}
