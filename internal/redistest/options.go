package redistest

// Option configures the redis-server processes started by Start, StartN,
// StartCluster and (master and replica only) StartSentinel.
type Option func(*config)

type config struct {
	args     []string
	password string
}

// WithArgs appends redis-server command-line configuration, e.g.
// WithArgs("--maxmemory", "10mb", "--maxmemory-policy", "allkeys-lru").
// The arguments come after the harness's own, so they override them (Redis
// keeps the last value of a directive). Options accumulate.
func WithArgs(args ...string) Option {
	return func(c *config) { c.args = append(c.args, args...) }
}

// WithPassword starts the server with --requirepass p. Unlike passing
// --requirepass through WithArgs, the harness then knows the password:
// Server.Password and Server.URL report it and the harness authenticates its
// own admin commands (readiness checks, SharedCluster's FLUSHALL).
func WithPassword(p string) Option {
	return func(c *config) { c.password = p }
}

func buildConfig(opts []Option) config {
	var c config
	for _, o := range opts {
		if o != nil {
			o(&c)
		}
	}
	return c
}
