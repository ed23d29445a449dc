package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/rediware/rediware/locking"
	"github.com/rediware/rediware/middleware"
	"github.com/rediware/rediware/store"
)

// POST /login {"name": "..."}: renews the session token (against session
// fixation) and records the user.
func (a *App) login(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Name string `json:"name"`
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4<<10))
	if err := dec.Decode(&in); err != nil {
		writeProblem(w, http.StatusBadRequest, `the body must be a JSON object {"name": "..."}`)
		return
	}
	if _, err := dec.Token(); err != io.EOF {
		writeProblem(w, http.StatusBadRequest, "the body must hold one JSON object")
		return
	}
	in.Name = strings.TrimSpace(in.Name)
	if in.Name == "" || utf8.RuneCountInString(in.Name) > 100 {
		writeProblem(w, http.StatusUnprocessableEntity, "name must be 1 to 100 characters")
		return
	}
	ctx := r.Context()
	if err := a.sessions.Login(ctx, in.Name); err != nil {
		a.cfg.Log.Error("login", "err", err)
		writeProblem(w, http.StatusServiceUnavailable, "")
		return
	}
	a.sessions.Put(ctx, "name", in.Name)
	a.sessions.Put(ctx, "login_at", time.Now().UTC().Format(time.RFC3339))
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, map[string]string{"name": in.Name, "status": "logged in"})
}

// GET /me: 200 with the name, or 401.
func (a *App) me(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	name := a.sessions.GetString(r.Context(), "name")
	if name == "" {
		writeProblem(w, http.StatusUnauthorized, "not logged in")
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"name": name, "login_at": a.sessions.GetString(r.Context(), "login_at")})
}

// POST /logout: destroys the session.
func (a *App) logout(w http.ResponseWriter, r *http.Request) {
	if err := a.sessions.Logout(r.Context()); err != nil {
		a.cfg.Log.Error("logout", "err", err)
		writeProblem(w, http.StatusServiceUnavailable, "")
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, map[string]string{"status": "logged out"})
}

// GET /api/limited: 5 requests per 10 seconds per client IP.
func (a *App) limited(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok", "limit": "5 requests per 10 seconds per client IP"})
}

// POST /reports/{id}: about a second of work under a per-route lock; a
// concurrent request for the same id gets 409 from the lock middleware.
func (a *App) report(w http.ResponseWriter, r *http.Request) {
	id := middleware.URLParam(r, "id")
	var fence int64
	if l := locking.FromContext(r.Context()); l != nil {
		fence = l.Fence()
	}
	select {
	case <-time.After(a.cfg.ReportWork):
	case <-r.Context().Done():
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, map[string]any{"report": id, "status": "done", "fence": fence})
}

// GET /events: server-sent events carrying the invalidation messages
// published on eventsChannel, until the client goes away.
func (a *App) events(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	ctx := r.Context()
	sub, err := a.cfg.Store.Subscribe(ctx, []string{eventsChannel}, nil)
	if err != nil {
		a.cfg.Log.Warn("events subscribe", "err", err)
		writeProblem(w, http.StatusServiceUnavailable, "")
		return
	}
	defer sub.Close()
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	fmt.Fprintf(w, ": subscribed to %s\n\n", eventsChannel)
	if err := rc.Flush(); err != nil {
		return
	}
	keepalive := time.NewTicker(15 * time.Second)
	defer keepalive.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-keepalive.C:
			fmt.Fprint(w, ": keepalive\n\n")
		case m, ok := <-sub.Messages():
			if !ok {
				return
			}
			if m.Kind == store.Reconnected {
				fmt.Fprint(w, "event: reconnected\ndata: {}\n\n")
			} else {
				fmt.Fprintf(w, "event: invalidation\ndata: %s\n\n", strings.ReplaceAll(string(m.Payload), "\n", " "))
			}
		}
		if err := rc.Flush(); err != nil {
			return
		}
	}
}
