package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/netip"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/rediware/rediware/middleware"
	"github.com/rediware/rediware/store"
)

// appConfig is what the demo is built from.
type appConfig struct {
	Store          store.Store
	DB             *DB
	Log            *slog.Logger
	TrustedProxies []netip.Prefix
	RedisKind      string
}

// App is the demo's HTTP application.
type App struct {
	cfg    appConfig
	router chi.Router
}

func newApp(cfg appConfig) (*App, error) {
	a := &App{cfg: cfg}
	r := chi.NewRouter()
	r.Get("/", a.index)
	r.Get("/healthz", a.healthz)
	a.router = r
	return a, nil
}

// Handler returns the application's handler.
func (a *App) Handler() http.Handler { return a.router }

// Close stops the application's background work.
func (a *App) Close(ctx context.Context) error { return nil }

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
	status := http.StatusOK
	overall := "ok"
	if redisCheck.Status != "ok" || dbCheck.Status != "ok" {
		overall = "degraded"
	}
	writeJSON(w, status, map[string]any{"status": overall, "redis": redisCheck, "database": dbCheck})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeProblem(w http.ResponseWriter, status int, detail string) {
	middleware.WriteProblem(w, middleware.Problem{Status: status, Detail: detail})
}
