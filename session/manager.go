package session

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/alexedwards/scs/v2"

	"github.com/rediware/rediware/middleware"
	"github.com/rediware/rediware/store"
)

// Keys that Manager keeps in the session data, beside the application's own.
// They are plain strings and int64s, so scs with scs/redisstore reads
// sessions written by Manager and the reverse.
const (
	// DefaultUserKey is the session key that holds the user ID set by Login.
	DefaultUserKey = "userID"

	// TouchedKey holds the time of the session's last write, in unix
	// milliseconds, from which the idle timeout is enforced.
	TouchedKey = "__rediware_touched"

	// IndexedKey holds the user in whose index the session is entered.
	IndexedKey = "__rediware_indexed"
)

// Config configures a Manager. The zero value gives secure defaults; each
// field documents its own.
type Config struct {
	// Lifetime is the absolute lifetime of a session, from its creation or
	// its last token renewal (Login, Refresh). It is checked on every load
	// against the deadline stored in the session, not only left to Redis.
	// Default: 24h.
	Lifetime time.Duration

	// IdleTimeout ends a session that has not been used for this long. It
	// is checked on every load against the time of the session's last write
	// and enforced by the Redis TTL. To keep read-only requests free of
	// writes, a session is written back only when it changed or when
	// TouchInterval has passed since its last write, so a session used at
	// least every IdleTimeout - TouchInterval never idles out. Default: 1h.
	// A negative value disables it.
	IdleTimeout time.Duration

	// TouchInterval is how long after its last write a session that is read
	// but not changed gets written back to push its idle expiry forward.
	// That write (a touch) happens only if the session still holds the
	// bytes the request read, so a read never undoes the change of a
	// concurrent request (whose save pushed the expiry already).
	// Default: IdleTimeout / 4.
	TouchInterval time.Duration

	// CookieName is the session cookie's name. Default: "session", as scs.
	// A name with the __Host- prefix ("__Host-session") keeps sibling
	// subdomains from setting or shadowing the cookie; it works with the
	// defaults, and NewManager panics if CookieDomain, a CookiePath other
	// than "/" or InsecureCookie is set with it, or with __Secure-, or with
	// SameSite=None, since browsers would drop every such cookie.
	CookieName string

	// CookieDomain sets the cookie's Domain attribute. Default: none (the
	// host that set it).
	CookieDomain string

	// CookiePath sets the cookie's Path. Default: "/".
	CookiePath string

	// SameSite sets the cookie's SameSite attribute. Default (0):
	// http.SameSiteLaxMode.
	SameSite http.SameSite

	// InsecureCookie drops the Secure attribute so that the cookie travels
	// over plain HTTP: for local development only. Default: false (Secure).
	InsecureCookie bool

	// BrowserSessionCookie makes the cookie last until the browser closes
	// (no Expires or Max-Age) unless scs's RememberMe(ctx, true) is called.
	// Default: false, a persistent cookie that expires with the session.
	BrowserSessionCookie bool

	// Prefix is the key prefix of sessions in Redis. Default:
	// "scs:session:", as scs/redisstore.
	Prefix string

	// HashTokens stores sessions under the SHA-256 of their token (see
	// StoreOptions.HashTokens). Default: false, compatible with
	// scs/redisstore.
	HashTokens bool

	// UserKey is the session key that holds the user ID that Login sets and
	// the per-user index follows. Default: "userID".
	UserKey string

	// IndexPrefix names the per-user session indexes, sorted sets at
	// "{IndexPrefix:userID}", or "{IndexPrefix:{hex(SHA-256(userID))}" for a
	// user ID that contains '{' or '}' or is longer than 256 bytes, so that
	// distinct IDs never share an index. Default: "scs:user".
	IndexPrefix string

	// Lock serialises concurrent requests of one session, from load to
	// save, with a lock in Redis, so that two requests cannot both read the
	// session and each write back their own copy (a lost update). It costs
	// two more Redis calls per request that carries a session. Default:
	// false.
	Lock bool

	// LockPrefix is the key prefix of the per-session locks. Default:
	// "scs:lock:".
	LockPrefix string

	// LockTTL is how long a lock lives if its request never releases it (a
	// crash). Requests that run longer lose the lock. Default: 30s.
	LockTTL time.Duration

	// LockWait is the longest a request waits for the lock before the
	// error function answers ErrLockTimeout. Default: 5s.
	LockWait time.Duration

	// Timeout bounds every Redis call made for a request, on top of the
	// request's context. Default: 1s. A negative value means no bound but
	// the context.
	Timeout time.Duration

	// ContinueWithoutSession lets requests through with an empty session,
	// never saved, when the session cannot be loaded because Redis is
	// unavailable. Default: false, the error function answers.
	ContinueWithoutSession bool

	// ErrorFunc writes the response when the session cannot be loaded or
	// saved. Default: 503 Service Unavailable (500 for errors that are not
	// Redis being unavailable) as application/problem+json, without the
	// error's text.
	ErrorFunc func(w http.ResponseWriter, r *http.Request, err error)

	// Codec encodes session data. Default: scs.GobCodec, as scs. Given
	// scs.GobCodec (or by default), Manager writes and reads exactly its
	// bytes but keeps gob's encoders and decoders warm between calls,
	// instead of building new ones (and sending or parsing the description
	// of the session type again) for every session, as scs.GobCodec does.
	Codec scs.Codec

	// DecodeCache is how many sessions keep their decoded form in memory,
	// keyed by their stored bytes, so that reading an unchanged session
	// again skips the codec. Data is admitted at its second read, and with
	// the default gob codec also when a save writes it (if its values are
	// all strings, booleans or numbers, so that decoding would give exactly
	// them back), so that a session changed on every request is not decoded
	// either; a save drops the entry of the data it replaces. Only sessions
	// of at most 4 KiB whose values are all strings, booleans, numbers or
	// times are kept, and each request gets its own copy. The bytes in
	// Redis are not affected. Default: 4096. A negative value disables it.
	DecodeCache int

	// Logger receives errors that cannot reach the client, such as a save
	// that fails after the response has started. Default: slog.Default().
	Logger *slog.Logger
}

// Manager is an scs.SessionManager that stores sessions in Redis through
// RedisStore, with secure defaults, idle and absolute expiry checked on the
// server, a middleware that streams, an optional per-session lock, and
// per-user session control (Sessions, Revoke, RevokeAll, RevokeOthers).
//
// Every method of scs.SessionManager (Put, Get, GetString, Pop, Remove,
// Destroy, RenewToken, ...) works as documented by scs. Use Manager's
// LoadAndSave, not scs's, as the middleware: scs's gives none of the above.
type Manager struct {
	*scs.SessionManager

	store       *RedisStore
	s           store.Store
	cfg         Config // with defaults applied
	codec       scs.Codec
	cache       *cachingCodec // nil without a decode cache
	userKey     string
	idle        time.Duration
	touch       time.Duration
	errorFunc   func(http.ResponseWriter, *http.Request, error)
	logger      *slog.Logger
	lockTTL     time.Duration
	lockWait    time.Duration
	lockTimeout time.Duration
}

// New returns a Manager over s with the default Config. It panics if s is
// nil.
func New(s store.Store) *Manager { return NewManager(s, Config{}) }

// NewManager returns a Manager over s configured by cfg. It panics if s is
// nil or the cookie is one browsers refuse to store (an invalid name, or
// see Config.CookieName), programmer errors.
func NewManager(s store.Store, cfg Config) *Manager {
	if s == nil {
		panic("session: nil store.Store")
	}
	c := cfg
	if c.Lifetime <= 0 {
		c.Lifetime = 24 * time.Hour
	}
	if c.IdleTimeout == 0 {
		c.IdleTimeout = time.Hour
	}
	if c.IdleTimeout < 0 {
		c.IdleTimeout = 0
	}
	if c.TouchInterval <= 0 {
		c.TouchInterval = c.IdleTimeout / 4
	}
	if c.TouchInterval > c.IdleTimeout {
		c.TouchInterval = c.IdleTimeout
	}
	if c.CookieName == "" {
		c.CookieName = "session"
	}
	if c.CookiePath == "" {
		c.CookiePath = "/"
	}
	if c.SameSite == 0 {
		c.SameSite = http.SameSiteLaxMode
	}
	if c.UserKey == "" {
		c.UserKey = DefaultUserKey
	}
	if c.IndexPrefix == "" {
		c.IndexPrefix = "scs:user"
	}
	if c.LockPrefix == "" {
		c.LockPrefix = "scs:lock:"
	}
	if c.LockTTL <= 0 {
		c.LockTTL = 30 * time.Second
	}
	if c.LockWait <= 0 {
		c.LockWait = 5 * time.Second
	}
	if c.Timeout == 0 {
		c.Timeout = time.Second
	}
	if c.Timeout < 0 {
		c.Timeout = 0
	}
	if c.Codec == nil {
		c.Codec = scs.GobCodec{}
	}
	if c.DecodeCache == 0 {
		c.DecodeCache = 4096
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}

	checkCookie(c)

	rs := NewStoreWithOptions(s, StoreOptions{Prefix: c.Prefix, HashTokens: c.HashTokens, Timeout: c.Timeout})
	rs.index = store.Keyspace{Prefix: c.IndexPrefix}

	sm := scs.New()
	sm.Store = rs
	codec := c.Codec
	switch c.Codec.(type) {
	case scs.GobCodec, *scs.GobCodec:
		codec = newGobCodec() // the same bytes, without rebuilding gob's state per call
	}
	sm.Codec = codec
	var cache *cachingCodec
	if c.DecodeCache > 0 {
		cache = newCachingCodec(codec, c.DecodeCache)
		sm.Codec = cache
	}
	sm.Lifetime = c.Lifetime
	sm.IdleTimeout = 0 // enforced by Manager, so that reads need no write
	sm.Cookie = scs.SessionCookie{
		Name:     c.CookieName,
		Domain:   c.CookieDomain,
		Path:     c.CookiePath,
		HttpOnly: true,
		SameSite: c.SameSite,
		Secure:   !c.InsecureCookie,
		Persist:  !c.BrowserSessionCookie,
	}

	m := &Manager{
		SessionManager: sm,
		store:          rs,
		s:              s,
		cfg:            c,
		codec:          codec,
		cache:          cache,
		userKey:        c.UserKey,
		idle:           c.IdleTimeout,
		touch:          c.TouchInterval,
		logger:         c.Logger,
		lockTTL:        c.LockTTL,
		lockWait:       c.LockWait,
		lockTimeout:    c.Timeout,
	}
	m.errorFunc = c.ErrorFunc
	if m.errorFunc == nil {
		m.errorFunc = m.defaultErrorFunc
	}
	sm.ErrorFunc = m.errorFunc
	return m
}

// checkCookie panics, at construction, for a cookie configuration that
// browsers refuse to store, which would otherwise log nobody in without a
// word: an invalid name, a __Host- cookie with a Domain, a Path other than
// "/" or no Secure, a __Secure- cookie or SameSite=None without Secure.
func checkCookie(c Config) {
	if err := (&http.Cookie{Name: c.CookieName, Value: "x"}).Valid(); err != nil {
		panic(fmt.Sprintf("session: CookieName %q: %v", c.CookieName, err))
	}
	hasPrefix := func(p string) bool { return len(c.CookieName) >= len(p) && strings.EqualFold(c.CookieName[:len(p)], p) }
	switch {
	case hasPrefix("__Host-") && (c.CookieDomain != "" || c.CookiePath != "/" || c.InsecureCookie):
		panic(fmt.Sprintf("session: a %q cookie must have no CookieDomain, CookiePath \"/\" and Secure (no InsecureCookie), or browsers drop it", c.CookieName))
	case hasPrefix("__Secure-") && c.InsecureCookie:
		panic(fmt.Sprintf("session: a %q cookie must be Secure (no InsecureCookie), or browsers drop it", c.CookieName))
	case c.SameSite == http.SameSiteNoneMode && c.InsecureCookie:
		panic("session: a SameSite=None cookie must be Secure (no InsecureCookie), or browsers drop it")
	}
}

// Store returns the RedisStore the Manager saves sessions in.
func (m *Manager) Store() *RedisStore { return m.store }

func (m *Manager) defaultErrorFunc(w http.ResponseWriter, r *http.Request, err error) {
	m.logger.ErrorContext(r.Context(), "session: request failed", "err", err, "method", r.Method, "path", r.URL.Path)
	p := middleware.Problem{Status: http.StatusInternalServerError}
	if errors.Is(err, store.ErrUnavailable) || errors.Is(err, ErrLockTimeout) {
		p.Status = http.StatusServiceUnavailable
		p.Detail = "The session store is unavailable. Try again shortly."
		w.Header().Set("Retry-After", "1")
	}
	middleware.WriteProblem(w, p)
}

// Login starts an authenticated session for userID in one call: it renews
// the session token (the old one is deleted at once, which defeats session
// fixation), resets the absolute lifetime and records userID under
// Config.UserKey. As a new authentication, it may follow a session revoked
// while the request ran. The per-user index is updated when the session is saved.
// Call it after checking the user's credentials and before writing the
// response: once the header is sent the new token cannot reach the client,
// and Login returns ErrResponseStarted without touching the session.
func (m *Manager) Login(ctx context.Context, userID string) error {
	if userID == "" {
		return errors.New("session: login: empty user ID")
	}
	if st := m.store.state(ctx); st != nil {
		if st.started {
			return fmt.Errorf("session: login: %w", ErrResponseStarted)
		}
		st.login = true // a new authentication may follow a revoked session
	}
	if err := m.RenewToken(ctx); err != nil {
		return fmt.Errorf("session: login: %w", err)
	}
	m.Put(ctx, m.userKey, userID)
	return nil
}

// Logout destroys the current session: its data and token are deleted from
// Redis, it leaves its user's index, and the middleware clears the cookie.
func (m *Manager) Logout(ctx context.Context) error { return m.Destroy(ctx) }

// Refresh renews the current session's token and resets its absolute
// lifetime, keeping its data: the old token stops working at once. It is
// scs's RenewToken; call it on any change of privilege. If the session was
// revoked, destroyed or expired after this request loaded it, the renewed
// session is not saved and the middleware clears the cookie
// (ErrSessionGone), so an in-flight request cannot bring it back; Login,
// a new authentication, is exempt. Called after the response header was
// sent, it returns ErrResponseStarted and changes nothing.
func (m *Manager) Refresh(ctx context.Context) error {
	if st := m.store.state(ctx); st != nil {
		if st.started {
			return fmt.Errorf("session: refresh: %w", ErrResponseStarted)
		}
		st.renewing = true
		defer func() { st.renewing = false }()
	}
	return m.RenewToken(ctx)
}

// UserID returns the user of the current session, or "" if it has none.
func (m *Manager) UserID(ctx context.Context) string { return m.GetString(ctx, m.userKey) }

// currentID returns the store id of the request's session, or "" when ctx
// carries none.
func (m *Manager) currentID(ctx context.Context) string {
	if m.store.state(ctx) == nil {
		return ""
	}
	if t := m.Token(ctx); t != "" {
		return m.store.id(t)
	}
	return ""
}

// Sessions lists the active sessions of userID, by deadline. It
// prunes expired and vanished sessions from the user's index as it goes.
// ctx may be a request context inside LoadAndSave, to mark the current
// session, or any other context.
func (m *Manager) Sessions(ctx context.Context, userID string) ([]SessionInfo, error) {
	entries, err := m.store.indexList(ctx, userID)
	if err != nil {
		return nil, err
	}
	cur := m.currentID(ctx)
	keys := make([]string, len(entries))
	for i, e := range entries {
		keys[i] = m.store.prefix + e.member
	}
	vals, err := m.store.getMany(ctx, keys)
	if err != nil {
		return nil, fmt.Errorf("session: sessions: %w", err)
	}
	out := make([]SessionInfo, 0, len(entries))
	var gone []string
	for i, e := range entries {
		b := vals[i]
		if isTombstone(b) {
			continue // being renewed by a request in flight: not a session of its own
		}
		if b == nil {
			gone = append(gone, e.member)
			continue
		}
		info := SessionInfo{ID: publicID(e.member), Expiry: e.expiry, Deadline: e.expiry, Current: e.member == cur}
		if dl, vals, err := m.codec.Decode(b); err == nil {
			info.Deadline, info.Values = dl, vals
			info.Expiry = dl
			if t, ok := vals[TouchedKey].(int64); ok && m.idle > 0 {
				if ie := time.UnixMilli(t).Add(m.idle); ie.Before(info.Expiry) {
					info.Expiry = ie
				}
			}
		}
		out = append(out, info)
	}
	if len(gone) > 0 {
		_ = m.store.indexRemove(ctx, userID, gone...)
	}
	return out, nil
}

// Revoke ends the session of userID whose SessionInfo.ID is id, and reports
// whether it existed. A session of another user is never touched.
func (m *Manager) Revoke(ctx context.Context, userID, id string) (bool, error) {
	entries, err := m.store.indexList(ctx, userID)
	if err != nil {
		return false, err
	}
	for _, e := range entries {
		if publicID(e.member) != id {
			continue
		}
		n, err := m.store.deleteIDs(ctx, []string{e.member})
		if err != nil {
			return false, err
		}
		if err := m.store.indexRemove(ctx, userID, e.member); err != nil {
			return n > 0, err
		}
		return n > 0, nil
	}
	return false, nil
}

// RevokeAll ends every session of userID ("log out everywhere") and
// returns how many were ended. A request of one of these sessions that is
// running meanwhile cannot save it back: its save finds the key gone and
// clears the cookie instead.
func (m *Manager) RevokeAll(ctx context.Context, userID string) (int, error) {
	ids, err := m.store.indexTake(ctx, userID)
	if err != nil {
		return 0, err
	}
	return m.store.deleteIDs(ctx, ids)
}

// RevokeOthers ends every session of the current session's user except the
// current one ("log out other devices") and returns how many were ended.
// ctx must be a request context inside LoadAndSave.
func (m *Manager) RevokeOthers(ctx context.Context) (int, error) {
	userID := m.UserID(ctx)
	if userID == "" {
		return 0, nil
	}
	cur := m.currentID(ctx)
	entries, err := m.store.indexList(ctx, userID)
	if err != nil {
		return 0, err
	}
	renewed := ""
	if st := m.store.state(ctx); st != nil {
		renewed = st.renewedFrom // this very session, being renewed by Refresh
	}
	var ids []string
	for _, e := range entries {
		if e.member != cur && e.member != renewed {
			ids = append(ids, e.member)
		}
	}
	n, err := m.store.deleteIDs(ctx, ids)
	if err != nil {
		return 0, err
	}
	return n, m.store.indexRemove(ctx, userID, ids...)
}
