package session

import (
	"context"
	"errors"
	"io"
	"net/http"
	"reflect"
	"strings"
	"time"

	"github.com/alexedwards/scs/v2"

	"github.com/rediware/rediware/middleware"
	"github.com/rediware/rediware/store"
)

// LoadAndSave is the session middleware. It loads the session named by the
// request's cookie (one Redis GET), hands it to next in the request
// context, and saves it just before the response header is sent, whether the
// handler calls WriteHeader, Write or Flush first, so the Set-Cookie header
// always goes out with the header and streaming responses (server-sent
// events) work. It does not buffer the body.
//
// A request that does not change its session costs one GET and no write
// (unless TouchInterval has passed, see Config.IdleTimeout).
//
// A missing, malformed, oversized, tampered, unknown, expired or destroyed
// token gives a fresh empty session. With several cookies of the session's
// name, the first well-formed one is used.
//
// Every response gets Vary: Cookie; one that sets or clears the cookie, or
// answers a request carrying a session, also gets Cache-Control: private
// (unless it already says private or no-store), so that no shared cache
// stores it. LoadAndSave inside the same Manager's LoadAndSave passes
// through; two Managers (two cookies) nest, each with its own session. If
// Redis is unavailable the error
// function answers (503 by default), or with ContinueWithoutSession the
// request goes on with an empty session that is never saved. If the save
// before the header fails, the error function's response replaces the
// handler's and the handler's writes fail with ErrNotSaved.
//
// A change made after the response has started is saved at the end of the
// request if the client already holds the session's token; a new session
// or a renewed token created then cannot reach the client and is not saved
// (logged instead); Manager.Login and Manager.Refresh then return
// ErrResponseStarted.
func (m *Manager) LoadAndSave(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if m.store.state(r.Context()) != nil {
			// Already inside this Manager's LoadAndSave (the middleware
			// applied twice, as with a router and a sub-router; another
			// Manager's does not count): the outer one loads, locks
			// and saves. A second pass would wait for its own lock and save
			// the session twice, the second time without the guard that
			// keeps a revoked session from coming back.
			next.ServeHTTP(w, r)
			return
		}
		w.Header().Add("Vary", "Cookie")

		token := m.cookieToken(r)
		st := &reqState{}
		base := context.WithValue(r.Context(), stateKey{m.store}, st)

		var err error
		if m.cfg.Lock && token != "" {
			var unlock func()
			unlock, err = m.lock(base, token)
			if err == nil {
				defer unlock()
			} else if !errors.Is(err, store.ErrUnavailable) || !m.cfg.ContinueWithoutSession {
				m.errorFunc(w, r, err)
				return
			}
		}

		var ctx context.Context
		if err == nil {
			ctx, err = m.load(base, st, token)
		}
		noSave := false
		if err != nil {
			if !m.cfg.ContinueWithoutSession {
				m.errorFunc(w, r, err)
				return
			}
			m.logger.WarnContext(r.Context(), "session: continuing without a session", "err", err)
			*st = reqState{}
			ctx, _ = m.SessionManager.Load(base, "") // a fresh session cannot fail to load
			noSave = true
		}
		r = r.WithContext(ctx)

		gw := &gateWriter{ResponseWriter: w}
		ww := middleware.WrapWriter(gw)
		sv := &saver{m: m, r: r, st: st, gw: gw, noSave: noSave}
		ww.Before(sv.beforeHeader)

		next.ServeHTTP(ww, r)

		if !ww.HeaderWritten() {
			// Nothing written: the header goes out now, with the cookie.
			ww.WriteHeader(http.StatusOK)
			return
		}
		sv.afterResponse()
	})
}

// load loads the session of token, enforcing the absolute deadline and the
// idle timeout on the data itself. Bad data is a fresh session; only store
// failures are errors.
func (m *Manager) load(base context.Context, st *reqState, token string) (context.Context, error) {
	if token == "" {
		return m.SessionManager.Load(base, "")
	}
	ctx, err := m.SessionManager.Load(base, token)
	if err != nil {
		if !st.found {
			return nil, err // the store failed
		}
		// The stored bytes do not decode: this request gets a fresh session.
		// The key is left alone: during a rolling deploy an older instance
		// may not know a type that a newer one registered with gob, and must
		// not log those users out.
		m.logger.WarnContext(base, "session: undecodable session data", "err", err)
		*st = reqState{}
		return m.SessionManager.Load(base, "")
	}
	if m.SessionManager.Token(ctx) == "" {
		return ctx, nil // not found: fresh session
	}
	now := time.Now()
	expired := !m.Deadline(ctx).After(now)
	if !expired && m.idle > 0 {
		if t, ok := m.Get(ctx, TouchedKey).(int64); ok && now.Sub(time.UnixMilli(t)) >= m.idle {
			expired = true
		}
	}
	if expired {
		m.dropExpired(base, token)
		*st = reqState{}
		return m.SessionManager.Load(base, "")
	}
	st.existing = token
	st.prevUser = m.GetString(ctx, m.userKey)
	st.indexedAs = m.GetString(ctx, IndexedKey)
	return ctx, nil
}

// dropExpired deletes the key of a session found expired or corrupt, best
// effort: it expires in Redis anyway.
func (m *Manager) dropExpired(ctx context.Context, token string) {
	ctx, cancel := m.store.bound(ctx)
	defer cancel()
	_, _ = m.s.Delete(ctx, m.store.Key(token))
}

// commit saves the session, applying the idle expiry, and returns its token
// and the expiry written.
func (m *Manager) commit(ctx context.Context, st *reqState) (string, time.Time, error) {
	if st.gone && !st.login && m.SessionManager.Token(ctx) != "" {
		// The session was revoked or destroyed elsewhere before this request
		// renewed its token: saving it now would resurrect it.
		return "", time.Time{}, ErrSessionGone
	}
	st.userID = m.GetString(ctx, m.userKey)
	// A session is entered in its user's index once per token: when it was
	// loaded with this user and the mark that it is indexed, the index entry
	// (scored by the absolute deadline, which only a new token changes)
	// is still right, and the save is a single SET.
	st.needIndex = st.userID != "" &&
		(st.existing == "" || st.existing != m.SessionManager.Token(ctx) ||
			st.prevUser != st.userID || st.indexedAs != st.userID)
	switch {
	case st.needIndex:
		m.Put(ctx, IndexedKey, st.userID)
	case st.userID == "" && st.indexedAs != "":
		m.Remove(ctx, IndexedKey)
	}
	st.maxExpiry = time.Time{}
	if m.idle > 0 {
		now := time.Now()
		m.Put(ctx, TouchedKey, now.UnixMilli())
		st.maxExpiry = now.Add(m.idle)
	}
	if st.loaded != nil && m.cache != nil {
		// The save replaces the loaded data in Redis: no request reads it
		// again. (Dropped first: the save may write the very same bytes.)
		m.cache.forget(st.loaded)
		st.loaded = nil
	}
	token, _, err := m.SessionManager.Commit(ctx)
	return token, st.expiry, err
}

// needsTouch reports whether an unchanged session should be written back to
// push its idle expiry forward.
func (m *Manager) needsTouch(ctx context.Context, st *reqState) bool {
	if m.idle <= 0 || st.existing == "" {
		return false
	}
	t, ok := m.Get(ctx, TouchedKey).(int64)
	return !ok || time.Since(time.UnixMilli(t)) >= m.touch
}

// saver saves one request's session, before the header and, for late
// changes, after the response.
type saver struct {
	m      *Manager
	r      *http.Request
	st     *reqState
	gw     *gateWriter
	noSave bool

	ran         bool
	clientToken string    // token the client holds after this response
	committed   bool      // saved before the header
	wroteCookie bool      // Set-Cookie added before the header
	snapToken   string    // state saved before the header, to detect late changes
	snapDL      time.Time //
	snapKeys    []string  // sorted
	snapVals    []any     // the values of snapKeys
}

func (sv *saver) beforeHeader(int) {
	sv.ran = true
	m, ctx, st := sv.m, sv.r.Context(), sv.st
	defer func() { st.started = true }() // after this save: Login and Refresh now fail
	sv.clientToken = st.existing
	if sv.noSave {
		return
	}
	defer func() {
		// A response that sets or clears the cookie, or that answers a
		// request carrying a session, is this client's alone: whatever the
		// handler said, no shared cache may store it. no-cache="Set-Cookie"
		// (which scs adds) still lets a shared cache store the body, and
		// Vary: Cookie still lets it serve a revoked session's page to the
		// old cookie.
		if !sv.gw.failed && (st.existing != "" || sv.wroteCookie) {
			markPrivate(sv.gw.Header())
		}
	}()
	status := m.Status(ctx)
	if status == scs.Unmodified && m.needsTouch(ctx, st) {
		status = scs.Modified
		st.touchOf = st.loaded // write back only over what was read
	}
	switch status {
	case scs.Modified:
		token, expiry, err := m.commit(ctx, st)
		st.touchOf = nil
		if errors.Is(err, ErrSessionGone) {
			m.WriteSessionCookie(ctx, sv.gw, "", time.Time{})
			sv.clientToken = ""
			sv.wroteCookie = true
			return
		}
		if err != nil {
			h := sv.gw.Header()
			vary := h.Values("Vary")
			clear(h)
			for _, v := range vary {
				h.Add("Vary", v)
			}
			sv.gw.failed = true
			m.errorFunc(sv.gw.ResponseWriter, sv.r, err)
			return
		}
		if st.touchSkipped {
			// Another request changed the session since this one read
			// it, and its save sent the cookie with the new expiry.
			st.touchSkipped = false
		} else {
			m.WriteSessionCookie(ctx, sv.gw, token, expiry)
			sv.wroteCookie = true
		}
		sv.clientToken = token
		sv.committed = true
		sv.snapToken = token
		sv.snapDL = m.Deadline(ctx)
		sv.snapKeys, sv.snapVals = sv.snapshot(ctx)
	case scs.Destroyed:
		if st.renewedFrom != "" { // Refresh then Destroy: drop the tombstone
			_ = m.store.finishRenewal(ctx, st)
		}
		m.WriteSessionCookie(ctx, sv.gw, "", time.Time{})
		sv.clientToken = ""
		sv.wroteCookie = true
	}
}

// snapshot returns the session's keys, sorted, and their values.
func (sv *saver) snapshot(ctx context.Context) ([]string, []any) {
	keys := sv.m.Keys(ctx)
	vals := make([]any, len(keys))
	for i, k := range keys {
		vals[i] = sv.m.Get(ctx, k)
	}
	return keys, vals
}

// unchanged reports whether the session's values are those of the
// snapshot.
func (sv *saver) unchanged(ctx context.Context) bool {
	keys := sv.m.Keys(ctx)
	if len(keys) != len(sv.snapKeys) {
		return false
	}
	for i, k := range keys {
		if k != sv.snapKeys[i] || !reflect.DeepEqual(sv.m.Get(ctx, k), sv.snapVals[i]) {
			return false
		}
	}
	return true
}

// afterResponse saves changes made after the header was sent, when the
// client holds the token they belong to.
func (sv *saver) afterResponse() {
	if !sv.ran || sv.noSave || sv.gw.failed || sv.st.gone && !sv.st.login {
		return
	}
	m, ctx := sv.m, sv.r.Context()
	if m.Status(ctx) != scs.Modified {
		return
	}
	token := m.SessionManager.Token(ctx)
	if sv.committed && token == sv.snapToken && m.Deadline(ctx).Equal(sv.snapDL) && sv.unchanged(ctx) {
		return // nothing changed since the save before the header
	}
	if token == "" || token != sv.clientToken {
		m.logger.WarnContext(ctx, "session: changed after the response started with a token the client cannot receive; not saved")
		return
	}
	if _, _, err := m.commit(ctx, sv.st); err != nil && !errors.Is(err, ErrSessionGone) {
		m.logger.ErrorContext(ctx, "session: save after the response failed", "err", err)
	}
}

// gateWriter sits under the WrapWriter so that, once the error function has
// answered in place of the handler, the handler's own header and body are
// dropped.
type gateWriter struct {
	http.ResponseWriter
	failed bool
}

func (g *gateWriter) WriteHeader(code int) {
	if !g.failed {
		g.ResponseWriter.WriteHeader(code)
	}
}

func (g *gateWriter) Write(p []byte) (int, error) {
	if g.failed {
		return 0, ErrNotSaved
	}
	return g.ResponseWriter.Write(p)
}

// ReadFrom keeps io.Copy to the response (http.ServeContent, file servers)
// on the underlying writer's fast path, such as sendfile.
func (g *gateWriter) ReadFrom(src io.Reader) (int64, error) {
	if g.failed {
		return 0, ErrNotSaved
	}
	if rf, ok := g.ResponseWriter.(io.ReaderFrom); ok {
		return rf.ReadFrom(src)
	}
	return io.Copy(writeOnly{g.ResponseWriter}, src)
}

// writeOnly hides every method but Write, so io.Copy cannot loop back into
// ReadFrom.
type writeOnly struct{ io.Writer }

func (g *gateWriter) Unwrap() http.ResponseWriter { return g.ResponseWriter }

// cookieToken returns the first well-formed session token among the
// request's cookies of the session cookie's name, or "". Taking the first
// well-formed one, not merely the first, means a junk cookie of the same
// name set for a more specific path (say, tossed from a sibling subdomain)
// cannot log the user out. Malformed values never reach Redis.
func (m *Manager) cookieToken(r *http.Request) string {
	for _, c := range r.CookiesNamed(m.Cookie.Name) {
		if validToken(c.Value) {
			return c.Value
		}
	}
	return ""
}

// markPrivate adds "private" to h's Cache-Control unless it already holds
// private or no-store, so that no shared cache stores the response (RFC
// 9111 section 5.2.2.7); the handler's other directives stay.
func markPrivate(h http.Header) {
	for _, v := range h.Values("Cache-Control") {
		for d := range strings.SplitSeq(v, ",") {
			d = strings.ToLower(strings.TrimSpace(d))
			if d == "private" || d == "no-store" {
				return
			}
		}
	}
	h.Add("Cache-Control", "private")
}

// validToken reports whether s looks like an scs token: 43 characters of
// unpadded base64url (32 random bytes). Anything else is never sent to
// Redis.
func validToken(s string) bool {
	if len(s) != 43 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}
