// Command cacheproxy is a caching reverse proxy: httputil.ReverseProxy
// wrapped in responsecache, in front of any origin. It makes the cache
// usable without code and testable by outside HTTP cache test suites.
//
//	go run ./example-app/cacheproxy -upstream http://localhost:8000 -addr 127.0.0.1:8080
//	go run ./example-app/cacheproxy -upstream http://localhost:8000 -redis redis://localhost:6379/0
//
// Without -redis an embedded miniredis holds the entries. Flags:
//
//	-upstream URL        origin to forward to (required)
//	-addr HOST:PORT      listen address (default 127.0.0.1:8080)
//	-redis URL           Redis URL (default: embedded miniredis)
//	-name NAME           cache name in Cache-Status (default rediware)
//	-heuristic           heuristic freshness from Last-Modified (default true)
//	-autopipeline        batch concurrent Redis commands into pipelines
//	                     (-autopipeline=false sets goredis.Options.NoAutoPipeline)
//	-set-cookie POLICY   bypass, strip or store (default strip)
//	-max-object BYTES    largest body stored (default 8 MiB)
//	-local-bytes BYTES   in-process tier size, 0 = off (default 64 MiB)
//	-store-timeout D     bound on each Redis call (default 500ms)
//	-purge-token TOKEN   enables POST /.well-known/purge?tag=... with "Authorization: Bearer TOKEN"
//	-pprof HOST:PORT     serves net/http/pprof there (default off)
//	-gc-percent N        garbage collector target percentage (default 400,
//	                     unless GOGC is set; 0 keeps Go's setting, -1 turns
//	                     the collector off)
//	-memory-limit BYTES  soft memory limit for the Go runtime (default 0: none
//	                     unless GOMEMLIMIT is set); with it, a high -gc-percent
//	                     cannot grow the heap past the limit
//	-read-header-timeout D  bound on reading a request's header (default 10s; 0: none)
//	-idle-timeout D      how long an idle keep-alive connection is kept
//	                     (default 2m; 0: no bound)
//	-procs N             GOMAXPROCS (default 0: the Go default, all CPUs). On a
//	                     machine shared with a load generator or Redis, 1 or
//	                     2 fewer than the CPUs avoids the cost of idle threads
//	                     spinning for work
//
// The proxy forwards request headers as a reverse proxy does: it drops the
// hop-by-hop ones, replaces any X-Forwarded-For, -Host and -Proto the
// client sent with its own, and sends the upstream's host as Host. It
// caches nothing of its own beyond what responsecache does, whose key uses
// the client's Host (other forwarded fields a client sends put its request
// under a key of its own).
package main

import (
	"context"
	"crypto/subtle"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/http/pprof"
	"net/url"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/alicebob/miniredis/v2"

	"github.com/rediware/rediware/responsecache"
	"github.com/rediware/rediware/store"
	"github.com/rediware/rediware/store/goredis"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "cacheproxy:", err)
		os.Exit(1)
	}
}

type config struct {
	upstream, addr, redisURL, name, setCookie, purgeToken, pprofAddr string
	heuristic, autoPipeline                                          bool
	maxObject, localBytes, memoryLimit                               int64
	gcPercent, procs                                                 int
	storeTimeout, readHeaderTimeout, idleTimeout                     time.Duration
}

// defaultGCPercent is the collector target when GOGC is not set. A hit
// allocates little that outlives it, and the default of 100 would collect
// about four times as often for the same short-lived garbage; the live heap
// is bounded by -local-bytes, and -memory-limit caps the total.
const defaultGCPercent = 400

func parseFlags(args []string) (config, error) {
	var cfg config
	fs := flag.NewFlagSet("cacheproxy", flag.ContinueOnError)
	fs.StringVar(&cfg.upstream, "upstream", "", "origin URL (required)")
	fs.StringVar(&cfg.addr, "addr", "127.0.0.1:8080", "listen address")
	fs.StringVar(&cfg.redisURL, "redis", "", "Redis URL (default: embedded miniredis)")
	fs.StringVar(&cfg.name, "name", "rediware", "cache name in Cache-Status")
	fs.BoolVar(&cfg.heuristic, "heuristic", true, "heuristic freshness from Last-Modified")
	fs.BoolVar(&cfg.autoPipeline, "autopipeline", true, "batch concurrent Redis commands into pipelines (a lone command is sent at once; every call keeps its -store-timeout)")
	fs.StringVar(&cfg.setCookie, "set-cookie", "strip", "responses with Set-Cookie: bypass, strip or store")
	fs.Int64Var(&cfg.maxObject, "max-object", 8<<20, "largest body stored, in bytes")
	fs.Int64Var(&cfg.localBytes, "local-bytes", 64<<20, "in-process tier size in bytes, kept coherent by pub/sub (0: off)")
	fs.DurationVar(&cfg.storeTimeout, "store-timeout", 500*time.Millisecond, "bound on each Redis call; past it the request goes to the origin")
	fs.StringVar(&cfg.purgeToken, "purge-token", "", "bearer token enabling POST /.well-known/purge")
	fs.StringVar(&cfg.pprofAddr, "pprof", "", "serve net/http/pprof on this address (default: off)")
	gc := defaultGCPercent
	if os.Getenv("GOGC") != "" {
		gc = 0 // keep the environment's setting
	}
	fs.IntVar(&cfg.gcPercent, "gc-percent", gc, "garbage collector target percentage; 0 keeps Go's setting, -1 = off (default 400 unless GOGC is set)")
	fs.Int64Var(&cfg.memoryLimit, "memory-limit", 0, "soft memory limit of the Go runtime in bytes (0: none, or GOMEMLIMIT)")
	fs.IntVar(&cfg.procs, "procs", 0, "GOMAXPROCS (0: the Go default)")
	fs.DurationVar(&cfg.readHeaderTimeout, "read-header-timeout", 10*time.Second, "bound on reading a request's header, against slow clients (0: none)")
	fs.DurationVar(&cfg.idleTimeout, "idle-timeout", 2*time.Minute, "how long an idle keep-alive connection is kept (0: no bound)")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if cfg.upstream == "" {
		return cfg, errors.New("-upstream is required")
	}
	if cfg.procs < 0 || cfg.memoryLimit < 0 || cfg.gcPercent < -1 {
		return cfg, errors.New("-procs and -memory-limit must be >= 0, -gc-percent >= -1")
	}
	return cfg, nil
}

// tuneRuntime applies the runtime flags; zero values keep Go's defaults
// (and the GOGC, GOMEMLIMIT and GOMAXPROCS environment variables).
func tuneRuntime(cfg config) {
	if cfg.gcPercent != 0 {
		debug.SetGCPercent(cfg.gcPercent)
	}
	if cfg.memoryLimit > 0 {
		debug.SetMemoryLimit(cfg.memoryLimit)
	}
	if cfg.procs > 0 {
		runtime.GOMAXPROCS(cfg.procs)
	}
}

func run() error {
	cfg, err := parseFlags(os.Args[1:])
	if err != nil {
		return err
	}
	tuneRuntime(cfg)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	h, closeFn, err := newProxy(cfg)
	if err != nil {
		return err
	}
	defer closeFn()
	if cfg.pprofAddr != "" {
		go func() {
			mux := http.NewServeMux()
			mux.HandleFunc("/debug/pprof/", pprof.Index)
			mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
			slog.Info("pprof", "err", http.ListenAndServe(cfg.pprofAddr, mux))
		}()
	}
	srv := &http.Server{
		Addr:              cfg.addr,
		Handler:           h,
		ReadHeaderTimeout: cfg.readHeaderTimeout, // slow clients cannot hold connections open
		IdleTimeout:       cfg.idleTimeout,       // keep-alive connections are reused, not kept forever
		MaxHeaderBytes:    64 << 10,
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	slog.Info("cacheproxy listening", "addr", cfg.addr, "upstream", cfg.upstream)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(sctx)
}

// newProxy builds the caching proxy handler for cfg.
func newProxy(cfg config) (http.Handler, func(), error) {
	up, err := url.Parse(cfg.upstream)
	if err != nil || (up.Scheme != "http" && up.Scheme != "https") || up.Host == "" {
		return nil, nil, fmt.Errorf("bad -upstream %q: want http(s)://host[:port]", cfg.upstream)
	}
	var policy responsecache.SetCookiePolicy
	switch cfg.setCookie {
	case "bypass":
		policy = responsecache.SetCookieBypass
	case "strip":
		policy = responsecache.SetCookieStrip
	case "store":
		policy = responsecache.SetCookieStore
	default:
		return nil, nil, fmt.Errorf("bad -set-cookie %q: want bypass, strip or store", cfg.setCookie)
	}

	var closers []func()
	redisURL := cfg.redisURL
	if redisURL == "" {
		mr := miniredis.NewMiniRedis()
		mr.ClockTTL(true) // expire entries with the wall clock, as Redis does
		if err := mr.Start(); err != nil {
			return nil, nil, fmt.Errorf("embedded miniredis: %w", err)
		}
		closers = append(closers, mr.Close)
		redisURL = "redis://" + mr.Addr()
	}
	s, err := goredis.Open(redisURL, goredis.Options{NoAutoPipeline: !cfg.autoPipeline})
	if err != nil {
		for _, c := range closers {
			c()
		}
		return nil, nil, err
	}
	closers = append(closers, func() { _ = s.Close() })

	cache := responsecache.New(s, responsecache.Options{
		Name:          cfg.name,
		Heuristic:     cfg.heuristic,
		SetCookie:     policy,
		MaxObjectSize: cfg.maxObject,
		LocalBytes:    cfg.localBytes,
		StoreTimeout:  cfg.storeTimeout,
		ErrorFunc: func(r *http.Request, err error) {
			if errors.Is(err, store.ErrCircuitOpen) {
				return // expected while Redis is down; the breaker's opening was logged
			}
			slog.Warn("cache store error", "err", err)
		},
	})
	closers = append(closers, func() { _ = cache.Close() })

	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(up)
			pr.SetXForwarded()
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			// Let the cache serve a stale entry where RFC 9111 allows.
			responsecache.OriginUnreachable(r)
			w.WriteHeader(http.StatusBadGateway)
		},
	}
	var h http.Handler = cache.Handler(rp)
	if cfg.purgeToken != "" {
		want := []byte("Bearer " + cfg.purgeToken)
		purge := cache.PurgeHandler(func(r *http.Request) bool {
			return subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), want) == 1
		})
		proxied := h
		h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/.well-known/purge" {
				purge.ServeHTTP(w, r)
				return
			}
			proxied.ServeHTTP(w, r)
		})
	}
	closeAll := func() {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
	}
	return h, closeAll, nil
}
