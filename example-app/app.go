package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/rediware/rediware/locking"
	"github.com/rediware/rediware/middleware"
	"github.com/rediware/rediware/ratelimit"
	"github.com/rediware/rediware/responsecache"
	"github.com/rediware/rediware/session"
	"github.com/rediware/rediware/store"
	"github.com/rediware/rediware/store/cache"
	"github.com/rediware/rediware/store/writebehind"
)

// appConfig is what the demo is built from.
type appConfig struct {
	Store          store.Store
	DB             *DB
	Log            *slog.Logger
	TrustedProxies []netip.Prefix
	RedisKind      string
	// ReportWork is how long POST /reports/{id} works. Default: 1s.
	ReportWork time.Duration
}

// eventsChannel carries the demo's invalidation messages to GET /events.
const eventsChannel = "demo:events"

// App is the demo's HTTP application.
type App struct {
	cfg      appConfig
	router   chi.Router
	users    *cache.Cache[User]
	http     *responsecache.Cache
	sessions *session.Manager
	limiter  *ratelimit.Limiter
	locker   *locking.Locker
	visits   *writebehind.Queue[int64]

	workers   sync.WaitGroup
	stopWork  context.CancelFunc
	closeOnce sync.Once
}

func newApp(cfg appConfig) (*App, error) {
	if cfg.ReportWork <= 0 {
		cfg.ReportWork = time.Second
	}
	a := &App{cfg: cfg}
	s := cfg.Store

	// Cache-aside for users: Redis only (no local tier), so that a write on
	// one instance is seen by the very next read on any other.
	a.users = cache.New(s, cache.Options[User]{Prefix: "demo:user:", TTL: 5 * time.Minute, NegativeTTL: 10 * time.Second})

	// The HTTP cache in front of GET /users/{id}; the tag header stays
	// visible to clients so the demo can show it.
	a.http = responsecache.New(s, responsecache.Options{KeyPrefix: "demo:rc", KeepTagHeaders: true})

	// Sessions: Secure is off in the demo only, for plain-HTTP localhost.
	a.sessions = session.NewManager(s, session.Config{InsecureCookie: true, CookieName: "demo_session"})

	var err error
	a.limiter, err = ratelimit.NewWithOptions(s, ratelimit.Options{
		Name:   "limited",
		Limits: []ratelimit.Limit{ratelimit.Per(5, 10*time.Second).WithName("limited").WithAlgorithm(ratelimit.SlidingWindowLog)},
	})
	if err != nil {
		return nil, fmt.Errorf("rate limiter: %w", err)
	}
	a.locker = locking.New(s)

	// Visits go through a write-behind queue: the absolute count is kept in
	// Redis and the newest count is applied to SQLite by a worker.
	a.visits, err = writebehind.New(s, a.applyVisits, writebehind.Options[int64]{
		Name: "demo-visits", Block: 200 * time.Millisecond, ClaimIdle: 10 * time.Second,
	})
	if err != nil {
		return nil, fmt.Errorf("write-behind queue: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	a.stopWork = cancel
	a.workers.Add(1)
	go func() {
		defer a.workers.Done()
		if err := a.visits.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
			cfg.Log.Error("write-behind worker stopped", "err", err)
		}
	}()

	ip := &middleware.ClientIP{TrustedProxies: cfg.TrustedProxies}
	r := chi.NewRouter()
	r.Get("/", a.index)
	r.Get("/healthz", a.healthz)

	r.With(a.http.Handler).Get("/users/{id}", a.getUser)
	r.Post("/users", a.createUser)
	r.Put("/users/{id}", a.updateUser)
	r.Patch("/users/{id}/visits", a.addVisit)

	r.Group(func(r chi.Router) {
		r.Use(a.sessions.LoadAndSave)
		r.Post("/login", a.login)
		r.Get("/me", a.me)
		r.Post("/logout", a.logout)
	})

	r.With(ratelimit.Middleware(a.limiter, ratelimit.MiddlewareOptions{Key: ratelimit.ByIP(ip)})).
		Get("/api/limited", a.limited)

	r.With(locking.Middleware(a.locker, 10*time.Second, "id")).Post("/reports/{id}", a.report)

	r.Get("/events", a.events)

	r.NotFound(func(w http.ResponseWriter, r *http.Request) { writeProblem(w, http.StatusNotFound, "") })
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) { writeProblem(w, http.StatusMethodNotAllowed, "") })
	a.router = r
	return a, nil
}

// Handler returns the application's handler.
func (a *App) Handler() http.Handler { return a.router }

// Close drains the write-behind queue, then stops the workers.
func (a *App) Close(ctx context.Context) error {
	var err error
	a.closeOnce.Do(func() {
		err = a.visits.Close(ctx)
		a.stopWork()
		a.workers.Wait()
		if cerr := a.http.Close(); err == nil {
			err = cerr
		}
	})
	return err
}

func (a *App) healthz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	type check struct {
		Status string `json:"status"`
		Kind   string `json:"kind,omitempty"`
		Error  string `json:"error,omitempty"`
	}
	redisCheck := check{Status: "ok", Kind: a.cfg.RedisKind}
	if p, ok := a.cfg.Store.(store.Pinger); ok {
		if err := p.Ping(ctx); err != nil {
			redisCheck = check{Status: "down", Kind: a.cfg.RedisKind, Error: "unavailable"}
		}
	}
	dbCheck := check{Status: "ok", Kind: "sqlite"}
	if err := a.cfg.DB.Ping(ctx); err != nil {
		dbCheck = check{Status: "down", Kind: "sqlite", Error: "unavailable"}
	}
	overall := "ok"
	if redisCheck.Status != "ok" || dbCheck.Status != "ok" {
		overall = "degraded"
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, map[string]any{"status": overall, "redis": redisCheck, "database": dbCheck})
}

// publish sends an invalidation message to GET /events subscribers. A
// failure is logged: the write it reports has already happened.
func (a *App) publish(ctx context.Context, event string, id int64) {
	msg, _ := json.Marshal(map[string]any{"event": event, "id": id, "tag": userTag(id), "at": time.Now().UTC()})
	if _, err := a.cfg.Store.Publish(ctx, eventsChannel, msg); err != nil {
		a.cfg.Log.Warn("publish event", "event", event, "err", err)
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeProblem(w http.ResponseWriter, status int, detail string) {
	w.Header().Set("Cache-Control", "no-store")
	middleware.WriteProblem(w, middleware.Problem{Status: status, Detail: detail})
}
