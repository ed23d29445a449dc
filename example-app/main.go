// Command example-app is rediware's demo: a chi service that wires every
// rediware package together over one Redis and one SQLite database.
//
//	go run ./example-app                      # embedded miniredis, SQLite in a temp dir, :8080
//	go run ./example-app -redis redis://localhost:6379/0 -addr :8081
//
// Flags (and environment variables):
//
//	-addr ADDR               listen address (ADDR; default :8080)
//	-redis URL               Redis URL (REDIS_URL; default: an embedded miniredis)
//	-db PATH                 SQLite file (default: rediware-demo/demo.db in the temp dir)
//	-trusted-proxies CIDRS   peers whose X-Forwarded-For is trusted (default: none)
//
// Open http://localhost:8080/ for a page that links every route.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/alicebob/miniredis/v2"

	"github.com/rediware/rediware/middleware"
	"github.com/rediware/rediware/store/goredis"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stderr, nil); err != nil {
		fmt.Fprintln(os.Stderr, "example-app:", err)
		os.Exit(1)
	}
}

// config is what the flags and environment say.
type config struct {
	Addr           string
	RedisURL       string
	DBPath         string
	TrustedProxies string
}

// failFast adds go-redis options that make a call to a Redis that is down
// fail in milliseconds rather than after five dials and three retries,
// unless the URL already says otherwise. Only single-node URLs take them.
func failFast(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") {
		return raw
	}
	q := u.Query()
	for k, v := range map[string]string{"dialer_retries": "1", "max_retries": "1", "dial_timeout": "1s"} {
		if !q.Has(k) {
			q.Set(k, v)
		}
	}
	u.RawQuery = q.Encode()
	return u.String()
}

func parseConfig(args []string, getenv func(string) string, stderr io.Writer) (config, error) {
	fs := flag.NewFlagSet("example-app", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c config
	addr := getenv("ADDR")
	if addr == "" {
		addr = ":8080"
	}
	fs.StringVar(&c.Addr, "addr", addr, "listen address (env ADDR)")
	fs.StringVar(&c.RedisURL, "redis", getenv("REDIS_URL"), "Redis URL (env REDIS_URL); empty starts an embedded miniredis")
	fs.StringVar(&c.DBPath, "db", filepath.Join(os.TempDir(), "rediware-demo", "demo.db"), "SQLite database file")
	fs.StringVar(&c.TrustedProxies, "trusted-proxies", "", "comma-separated CIDRs of proxies whose X-Forwarded-For is trusted (default none)")
	if err := fs.Parse(args); err != nil {
		return config{}, err
	}
	if fs.NArg() > 0 {
		return config{}, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	return c, nil
}

// run starts the demo and blocks until ctx is cancelled, then shuts down
// gracefully. ready, if not nil, is called with the listening address.
func run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer, ready func(addr string)) error {
	cfg, err := parseConfig(args, getenv, stderr)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))

	trusted, err := middleware.ParseTrustedProxies(cfg.TrustedProxies)
	if err != nil {
		return fmt.Errorf("-trusted-proxies: %w", err)
	}

	redisURL, redisKind := cfg.RedisURL, "redis"
	if redisURL == "" {
		mr := miniredis.NewMiniRedis()
		if err := mr.Start(); err != nil {
			return fmt.Errorf("start embedded miniredis: %w", err)
		}
		defer mr.Close()
		redisURL, redisKind = "redis://"+mr.Addr()+"/0", "embedded miniredis"
	}
	st, err := goredis.Open(failFast(redisURL), goredis.Options{})
	if err != nil {
		return err
	}
	defer st.Close()

	if err := os.MkdirAll(filepath.Dir(cfg.DBPath), 0o755); err != nil {
		return fmt.Errorf("database directory: %w", err)
	}
	db, err := openDB(ctx, cfg.DBPath)
	if err != nil {
		return err
	}
	defer db.Close()

	app, err := newApp(appConfig{Store: st, DB: db, Log: log, TrustedProxies: trusted, RedisKind: redisKind})
	if err != nil {
		return err
	}

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           app.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	log.Info("rediware demo listening",
		"addr", ln.Addr().String(), "redis", redisKind, "database", cfg.DBPath,
		"trusted_proxies", cfg.TrustedProxies)
	log.Warn("demo only: session cookies are sent without the Secure flag so that plain-HTTP localhost works")
	if ready != nil {
		ready(ln.Addr().String())
	}

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down: draining requests and the write-behind queue")
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Error("http shutdown", "err", err)
	}
	if err := app.Close(sctx); err != nil {
		log.Error("app shutdown", "err", err)
	}
	log.Info("stopped")
	return nil
}
