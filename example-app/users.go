package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/mail"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-chi/chi/v5"

	"github.com/rediware/rediware/store"
	"github.com/rediware/rediware/store/cache"
	"github.com/rediware/rediware/store/writebehind"
)

const maxBody = 64 << 10

func userKey(id int64) string { return strconv.FormatInt(id, 10) }
func userTag(id int64) string { return "user:" + strconv.FormatInt(id, 10) }

// parseID reads the {id} URL parameter; ok is false (and the response
// written) when it is not a positive integer.
func parseID(w http.ResponseWriter, r *http.Request) (int64, bool) {
	id, err := strconv.ParseInt(chi.URLParam(r, "id"), 10, 64)
	if err != nil || id <= 0 {
		writeProblem(w, http.StatusBadRequest, "the user id must be a positive integer")
		return 0, false
	}
	return id, true
}

// userOf loads the user the request's {id} names, or answers 400, 404 or
// 500 and reports false.
func (a *App) userOf(w http.ResponseWriter, r *http.Request) (int64, User, bool) {
	id, ok := parseID(w, r)
	if !ok {
		return 0, User{}, false
	}
	u, err := a.loadUser(r.Context(), id)
	if errors.Is(err, cache.ErrNotFound) {
		writeProblem(w, http.StatusNotFound, "no user with this id")
		return 0, User{}, false
	}
	if err != nil {
		a.cfg.Log.Error("load user", "id", id, "err", err)
		writeProblem(w, http.StatusInternalServerError, "")
		return 0, User{}, false
	}
	return id, u, true
}

// loadUser reads a user through the cache-aside cache.
func (a *App) loadUser(ctx context.Context, id int64) (User, error) {
	return a.users.GetOrLoad(ctx, userKey(id), func(ctx context.Context) (User, error) {
		u, err := a.cfg.DB.User(ctx, id)
		if errors.Is(err, errNoUser) {
			return User{}, cache.ErrNotFound
		}
		return u, err
	}, 0, userTag(id))
}

// GET /users/{id}: cache-aside (store/cache) behind the HTTP cache
// (responsecache), with an ETag and the tag user:{id}.
func (a *App) getUser(w http.ResponseWriter, r *http.Request) {
	id, u, ok := a.userOf(w, r)
	if !ok {
		return
	}
	body, _ := json.Marshal(u)
	body = append(body, '\n')
	sum := sha256.Sum256(body)
	etag := `"` + hex.EncodeToString(sum[:12]) + `"`
	h := w.Header()
	h.Set("Cache-Control", "public, max-age=60")
	h.Set("Surrogate-Key", userTag(id))
	h.Set("ETag", etag)
	h.Set("Content-Type", "application/json")
	if etagMatch(r.Header.Get("If-None-Match"), etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	_, _ = w.Write(body)
}

// etagMatch is the weak comparison of RFC 9110 section 13.1.2.
func etagMatch(header, etag string) bool {
	if header == "" {
		return false
	}
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimSpace(t)
		if t == "*" || strings.TrimPrefix(t, "W/") == etag {
			return true
		}
	}
	return false
}

type userInput struct {
	Name  string `json:"name"`
	Email string `json:"email"`
}

// decodeUser reads and validates a user body. It writes 400 for a body that
// is not the JSON object expected, 413 for one too large, and 422 for
// values that are not acceptable.
func decodeUser(w http.ResponseWriter, r *http.Request) (userInput, bool) {
	var in userInput
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeProblem(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("the body must be at most %d bytes", maxBody))
			return in, false
		}
		writeProblem(w, http.StatusBadRequest, "the body must be a JSON object with name and email")
		return in, false
	}
	if _, err := dec.Token(); err != io.EOF {
		writeProblem(w, http.StatusBadRequest, "the body must hold one JSON object")
		return in, false
	}
	in.Name, in.Email = strings.TrimSpace(in.Name), strings.TrimSpace(in.Email)
	switch {
	case in.Name == "" || utf8.RuneCountInString(in.Name) > 100:
		writeProblem(w, http.StatusUnprocessableEntity, "name must be 1 to 100 characters")
		return in, false
	case !validEmail(in.Email):
		writeProblem(w, http.StatusUnprocessableEntity, "email must be a valid address")
		return in, false
	}
	return in, true
}

func validEmail(s string) bool {
	if len(s) > 254 {
		return false
	}
	addr, err := mail.ParseAddress(s)
	return err == nil && addr.Address == s && strings.Contains(s, "@")
}

// POST /users
func (a *App) createUser(w http.ResponseWriter, r *http.Request) {
	in, ok := decodeUser(w, r)
	if !ok {
		return
	}
	u, err := a.cfg.DB.CreateUser(r.Context(), in.Name, in.Email)
	if err != nil {
		a.cfg.Log.Error("create user", "err", err)
		writeProblem(w, http.StatusInternalServerError, "")
		return
	}
	// A 404 for this id may have been cached negatively.
	if err := a.users.Delete(r.Context(), userKey(u.ID)); err != nil {
		a.cfg.Log.Warn("cache delete after create", "id", u.ID, "err", err)
	}
	w.Header().Set("Location", "/users/"+userKey(u.ID))
	writeJSON(w, http.StatusCreated, u)
}

// PUT /users/{id}: write-through (database, then cache), then purge of the
// tag user:{id} from the HTTP cache, so the next GET on any instance shows
// the new data.
func (a *App) updateUser(w http.ResponseWriter, r *http.Request) {
	id, ok := parseID(w, r)
	if !ok {
		return
	}
	in, ok := decodeUser(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	var updated User
	err := a.users.WriteThrough(ctx, userKey(id), User{ID: id}, func(ctx context.Context, _ User) error {
		var err error
		updated, err = a.cfg.DB.UpdateUser(ctx, id, in.Name, in.Email)
		return err
	}, 0, userTag(id))
	switch {
	case errors.Is(err, errNoUser):
		writeProblem(w, http.StatusNotFound, "no user with this id")
		return
	case errors.Is(err, cache.ErrCacheNotUpdated):
		// The database has the new row; the cache entry was removed or
		// could not be written. Reads will load from the database.
		a.cfg.Log.Warn("write-through: cache not updated", "id", id, "err", err)
	case err != nil:
		a.cfg.Log.Error("update user", "id", id, "err", err)
		writeProblem(w, http.StatusInternalServerError, "")
		return
	}
	a.afterUserChange(ctx, id, "user.updated")
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, updated)
}

// afterUserChange makes every instance see a changed user: the cache-aside
// entry is replaced by the next read, the HTTP cache entries tagged
// user:{id} are purged, and /events subscribers are told.
func (a *App) afterUserChange(ctx context.Context, id int64, event string) {
	if err := a.users.Delete(ctx, userKey(id)); err != nil {
		a.cfg.Log.Warn("cache delete", "id", id, "err", err)
	}
	if err := a.http.PurgeTag(ctx, userTag(id)); err != nil {
		a.cfg.Log.Warn("purge tag", "tag", userTag(id), "err", err)
	}
	a.publish(ctx, event, id)
}

// PATCH /users/{id}/visits: a write-behind increment. The count is kept in
// Redis (seeded from the database) and queued; a worker applies the newest
// count to the database, and the response is 202 at once.
func (a *App) addVisit(w http.ResponseWriter, r *http.Request) {
	id, u, ok := a.userOf(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	v, err := a.cfg.Store.Eval(ctx, incrVisits, []string{"demo:visits:" + userKey(id)}, u.Visits, int64(24*time.Hour/time.Millisecond))
	count, cerr := store.Int64(v)
	if err != nil || cerr != nil {
		a.cfg.Log.Error("count visit", "id", id, "err", errors.Join(err, cerr))
		writeProblem(w, http.StatusServiceUnavailable, "the visit could not be recorded, try again")
		return
	}
	writeID, err := a.visits.Write(ctx, userKey(id), count)
	if err != nil {
		a.cfg.Log.Error("queue visit", "id", id, "err", err)
		writeProblem(w, http.StatusServiceUnavailable, "the visit could not be recorded, try again")
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusAccepted, map[string]any{"id": id, "visits": count, "write": writeID, "status": "queued"})
}

// incrVisits seeds the counter from the database's count the first time,
// then increments it.
var incrVisits = store.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('SET', KEYS[1], ARGV[1])
end
local n = redis.call('INCR', KEYS[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return n`)

// applyVisits is the write-behind worker's database write: it keeps the
// newest count, so a redelivered or out-of-order write changes nothing.
func (a *App) applyVisits(ctx context.Context, op writebehind.Op[int64]) error {
	id, err := strconv.ParseInt(op.Key, 10, 64)
	if err != nil {
		return fmt.Errorf("bad key %q: %w", op.Key, err)
	}
	if err := a.cfg.DB.SetVisitsAtLeast(ctx, id, op.Value); err != nil {
		if errors.Is(err, errNoUser) {
			return nil // nothing to apply to; do not retry
		}
		return err
	}
	a.afterUserChange(ctx, id, "user.visits")
	return nil
}
