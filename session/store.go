package session

import (
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/alexedwards/scs/v2"

	"github.com/rediware/rediware/store"
)

// DefaultPrefix is the key prefix of scs/redisstore, and so of RedisStore.
const DefaultPrefix = "scs:session:"

var (
	//go:embed set.lua
	setLua string
	//go:embed commit.lua
	commitLua string

	//go:embed renew.lua
	renewLua string
	//go:embed commit_renewed.lua
	commitRenewedLua string
	//go:embed touch.lua
	touchLua string

	setScript           = store.NewScript(setLua)
	commitScript        = store.NewScript(commitLua)
	renewScript         = store.NewScript(renewLua)
	commitRenewedScript = store.NewScript(commitRenewedLua)
	touchScript         = store.NewScript(touchLua)
)

// tombstone is what a session key holds while Refresh renews its token
// (see renew.lua). No codec output starts with a NUL and this text; loads
// treat it as no session.
var tombstone = []byte("\x00rediware:session renewed")

func isTombstone(b []byte) bool { return string(b) == string(tombstone) }

// StoreOptions configures a RedisStore. The zero value means all defaults,
// which give the key layout and value bytes of scs/redisstore.
type StoreOptions struct {
	// Prefix is put before every session key. Default: "scs:session:", the
	// prefix of scs/redisstore.
	Prefix string

	// HashTokens stores each session under prefix + hex(SHA-256(token))
	// instead of prefix + token, so that someone who can read Redis (a
	// backup, a replica, a MONITOR) cannot take over sessions. Sessions
	// written with the other setting are not found: turning it on logs
	// everyone out once, and scs/redisstore cannot read these keys. All
	// returns the hashes in place of the tokens. Default: false.
	//
	// Do not combine it with scs's own SessionManager.HashTokenInStore,
	// which hashes the token before the store sees it.
	HashTokens bool

	// Timeout bounds every Redis call of the store, on top of the caller's
	// context. Default: 0, no bound beyond the context and the client's own
	// timeouts. Manager sets it from Config.Timeout.
	Timeout time.Duration
}

// RedisStore is an scs session store over a rediware store.Store, so that
// scs sessions live in Redis through go-redis (single node, Sentinel or
// Cluster) or redigo. It implements scs.Store, scs.CtxStore,
// scs.IterableStore and scs.IterableCtxStore. No method panics: the methods
// without a context use context.Background().
//
// By default keys and values are those of scs/redisstore: the key is
// "scs:session:" + token, the value is the bytes scs hands over (its codec
// output), and the key expires at the session's expiry, to the millisecond
// (SET ... PXAT, where scs/redisstore sends SET then PEXPIREAT). Switching
// from scs/redisstore to RedisStore, or back, logs nobody out.
//
// A commit whose expiry is already past deletes the key, so no session key
// ever lives without a TTL.
type RedisStore struct {
	s       store.Store
	prefix  string
	hash    bool
	timeout time.Duration
	index   store.Keyspace // set by Manager; empty Prefix means no index

	// crossSlot is set once the server refused the one-script commit of a
	// session and its index entry (Redis Cluster, different slots).
	crossSlot atomic.Bool
}

var (
	_ scs.Store            = (*RedisStore)(nil)
	_ scs.CtxStore         = (*RedisStore)(nil)
	_ scs.IterableStore    = (*RedisStore)(nil)
	_ scs.IterableCtxStore = (*RedisStore)(nil)
)

// NewStore returns a RedisStore over s with the layout of scs/redisstore.
// It panics if s is nil, a programmer error.
func NewStore(s store.Store) *RedisStore { return NewStoreWithOptions(s, StoreOptions{}) }

// NewStoreWithOptions returns a RedisStore over s. It panics if s is nil, a
// programmer error.
func NewStoreWithOptions(s store.Store, opts StoreOptions) *RedisStore {
	if s == nil {
		panic("session: nil store.Store")
	}
	rs := &RedisStore{s: s, prefix: opts.Prefix, hash: opts.HashTokens, timeout: opts.Timeout}
	if rs.prefix == "" {
		rs.prefix = DefaultPrefix
	}
	return rs
}

// id returns the part of the key after the prefix for token.
func (rs *RedisStore) id(token string) string {
	if !rs.hash {
		return token
	}
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

// Key returns the Redis key under which the session of token is stored.
func (rs *RedisStore) Key(token string) string { return rs.prefix + rs.id(token) }

func (rs *RedisStore) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	if rs.timeout > 0 {
		return context.WithTimeout(ctx, rs.timeout)
	}
	return ctx, func() {}
}

// Find implements scs.Store with context.Background().
func (rs *RedisStore) Find(token string) ([]byte, bool, error) {
	return rs.FindCtx(context.Background(), token)
}

// FindCtx implements scs.CtxStore: one GET. A missing, expired or
// malformed token (empty, or too long for a key) is (nil, false, nil), and
// so is the token of a session whose token Manager.Refresh is renewing
// (its key holds a tombstone until the renewed session is saved).
func (rs *RedisStore) FindCtx(ctx context.Context, token string) ([]byte, bool, error) {
	if token == "" {
		return nil, false, nil
	}
	ctx, cancel := rs.bound(ctx)
	defer cancel()
	b, found, err := rs.s.Get(ctx, rs.Key(token))
	if err != nil {
		if errors.Is(err, store.ErrInvalidKey) {
			return nil, false, nil
		}
		return nil, false, fmt.Errorf("session: find: %w", err)
	}
	if found && isTombstone(b) {
		return nil, false, nil // its token was renewed: the old token is dead
	}
	if found {
		if st := rs.state(ctx); st != nil {
			st.found, st.loaded = true, b
		}
	}
	return b, found, nil
}

// Commit implements scs.Store with context.Background().
func (rs *RedisStore) Commit(token string, b []byte, expiry time.Time) error {
	return rs.CommitCtx(context.Background(), token, b, expiry)
}

// CommitCtx implements scs.CtxStore: it stores b under the token's key,
// expiring at expiry (millisecond precision). An expiry that is not in the
// future deletes the key instead.
//
// Inside Manager's middleware a commit also keeps the user's session index
// in step, and writes back a session loaded from the store only if its key
// still exists, so a concurrent revocation is never undone (ErrSessionGone).
func (rs *RedisStore) CommitCtx(ctx context.Context, token string, b []byte, expiry time.Time) error {
	if token == "" {
		return errors.New("session: commit: empty token")
	}
	st := rs.state(ctx)
	deadline := expiry.UnixMilli() // scs passes the absolute deadline: the index score
	if st != nil && !st.maxExpiry.IsZero() && st.maxExpiry.Before(expiry) {
		expiry = st.maxExpiry
	}
	if st != nil {
		st.expiry = expiry
	}
	id := rs.id(token)
	key := rs.prefix + id
	now := time.Now()
	ms := expiry.UnixMilli()
	if st != nil && st.renewedFrom != "" {
		if ms > now.UnixMilli() && !rs.crossSlot.Load() {
			if done, err := rs.commitRenewed(ctx, st, key, id, b, ms, now.UnixMilli(), deadline); done {
				return err
			}
		}
		if err := rs.finishRenewal(ctx, st); err != nil {
			return err
		}
	}
	ctx, cancel := rs.bound(ctx)
	defer cancel()
	if ms <= now.UnixMilli() {
		if _, err := rs.s.Delete(ctx, key); err != nil {
			return fmt.Errorf("session: commit: %w", err)
		}
		if st != nil && st.userID != "" && rs.index.Prefix != "" {
			return rs.indexRemove(ctx, st.userID, id)
		}
		return nil
	}
	existing := st != nil && st.existing != "" && st.existing == token
	indexed := st != nil && st.needIndex && st.userID != "" && rs.index.Prefix != ""
	xx := "0"
	if existing {
		xx = "1"
	}
	if indexed && !rs.crossSlot.Load() {
		// One script, atomic: on a single node, or when the keys share a slot.
		v, err := rs.s.Eval(ctx, commitScript, []string{key, rs.indexKey(st.userID)},
			b, ms, xx, id, now.UnixMilli(), deadline)
		switch {
		case err == nil && v == nil:
			return ErrSessionGone
		case err == nil:
			rs.leftUser(ctx, st, existing, id)
			return nil
		case store.IsRedisError(err, "CROSSSLOT"):
			rs.crossSlot.Store(true) // Cluster: two calls from now on
		default:
			return fmt.Errorf("session: commit: %w", err)
		}
	}
	if indexed {
		// Index first: a session key that exists is always in its user's
		// index, so RevokeAll cannot miss it. A failure after this leaves at
		// worst an index entry without a session, which listing prunes.
		if _, err := rs.s.Eval(ctx, indexAddScript, []string{rs.indexKey(st.userID)},
			id, deadline, now.UnixMilli()); err != nil {
			return fmt.Errorf("session: commit: index: %w", err)
		}
	}
	var v any
	var err error
	if existing && !indexed && st.touchOf != nil {
		// A touch: never write back a copy that another request has
		// changed since this one loaded it.
		v, err = rs.s.Eval(ctx, touchScript, []string{key}, st.touchOf, b, ms)
		if n, _ := store.Int64(v); err == nil && v != nil && n == 0 {
			st.touchSkipped = true
			return nil
		}
	} else {
		v, err = rs.set(ctx, key, b, ms, existing)
	}
	if err != nil {
		return fmt.Errorf("session: commit: %w", err)
	}
	if v == nil {
		if indexed {
			_ = rs.indexRemove(ctx, st.userID, id)
		}
		return ErrSessionGone
	}
	if indexed {
		// A RevokeAll between the index update and the SET took the entry
		// and deleted a key that did not exist yet: the session just written
		// would live outside the index, out of reach of "log out
		// everywhere". Check, and take it back.
		has, err := rs.s.Eval(ctx, indexHasScript, []string{rs.indexKey(st.userID)}, id)
		if err != nil {
			return fmt.Errorf("session: commit: index: %w", err)
		}
		if n, _ := store.Int64(has); n == 0 {
			if _, err := rs.s.Delete(ctx, key); err != nil {
				return fmt.Errorf("session: commit: %w", err)
			}
			return ErrSessionGone
		}
	}
	rs.leftUser(ctx, st, existing, id)
	return nil
}

// set writes a session with SET ... [XX] PXAT: a plain command when the
// store can send one (store.Doer), else the same in a one-line script. The
// reply is nil when xx is set and the key is gone.
func (rs *RedisStore) set(ctx context.Context, key string, b []byte, ms int64, xx bool) (any, error) {
	if d, ok := rs.s.(store.Doer); ok {
		if err := store.CheckKey(key, 0); err != nil {
			return nil, err
		}
		if xx {
			return d.Do(ctx, "SET", key, b, "XX", "PXAT", ms)
		}
		return d.Do(ctx, "SET", key, b, "PXAT", ms)
	}
	flag := "0"
	if xx {
		flag = "1"
	}
	return rs.s.Eval(ctx, setScript, []string{key}, b, ms, flag)
}

// leftUser takes a session out of the index of the user it belonged to at
// load time, if it changed hands without a new token.
func (rs *RedisStore) leftUser(ctx context.Context, st *reqState, existing bool, id string) {
	if existing && st.prevUser != "" && st.prevUser != st.userID && rs.index.Prefix != "" {
		_ = rs.indexRemove(ctx, st.prevUser, id)
	}
}

// Delete implements scs.Store with context.Background().
func (rs *RedisStore) Delete(token string) error {
	return rs.DeleteCtx(context.Background(), token)
}

// DeleteCtx implements scs.CtxStore. Deleting a missing or malformed token
// is a no-op. Inside Manager's middleware the session also leaves its
// user's index, except while Manager.Refresh renews it: then its data is
// replaced by a tombstone (the old token is dead at once) and the key and
// index entry stay until the renewed session is saved, so that a
// revocation meanwhile is seen by that save.
func (rs *RedisStore) DeleteCtx(ctx context.Context, token string) error {
	if token == "" {
		return nil
	}
	ctx, cancel := rs.bound(ctx)
	defer cancel()
	id := rs.id(token)
	st := rs.state(ctx)
	if st != nil && st.renewing && !st.login && st.existing == token && st.renewedFrom == "" {
		return rs.markRenewed(ctx, st, id)
	}
	n, err := rs.s.Delete(ctx, rs.prefix+id)
	if err != nil {
		if errors.Is(err, store.ErrInvalidKey) {
			return nil
		}
		return fmt.Errorf("session: delete: %w", err)
	}
	if st != nil && n == 0 && st.existing == token {
		// Revoked, destroyed or expired since this request loaded it: a
		// renewal (RenewToken, Refresh) must not save it under a new token.
		st.gone = true
	}
	if st != nil && rs.index.Prefix != "" {
		if u := st.prevUser; u != "" {
			return rs.indexRemove(ctx, u, id)
		}
	}
	return nil
}

// markRenewed replaces the loaded session's data by the tombstone as
// Refresh renews its token, keeping the key and its index entry until the
// renewed session is saved (finishRenewal). A key already gone means the
// session was revoked or destroyed meanwhile: it must not be renewed.
func (rs *RedisStore) markRenewed(ctx context.Context, st *reqState, id string) error {
	v, err := rs.s.Eval(ctx, renewScript, []string{rs.prefix + id}, tombstone)
	if err != nil {
		return fmt.Errorf("session: renew: %w", err)
	}
	if n, _ := store.Int64(v); n == 0 {
		st.gone = true
		if st.prevUser != "" && rs.index.Prefix != "" {
			return rs.indexRemove(ctx, st.prevUser, id)
		}
		return nil
	}
	st.renewedFrom = id
	return nil
}

// commitRenewed saves the session that Refresh renewed, under its new
// token, in one script: it deletes the tombstone of the old token (giving
// up if a revocation deleted it meanwhile, as finishRenewal does), takes
// the old token out of its user's index and writes the session and its
// index entry. done is false when the keys are in different Cluster slots:
// the caller then does the same in separate calls.
func (rs *RedisStore) commitRenewed(ctx context.Context, st *reqState, key, id string, b []byte, ms, now, deadline int64) (done bool, err error) {
	ctx, cancel := rs.bound(ctx)
	defer cancel()
	old := st.renewedFrom
	keys := []string{key, rs.prefix + old, key, key} // unused index slots repeat the session key
	remOld, addNew, login := "0", "0", "0"
	if st.prevUser != "" && rs.index.Prefix != "" {
		keys[2], remOld = rs.indexKey(st.prevUser), "1"
	}
	if st.needIndex && st.userID != "" && rs.index.Prefix != "" {
		keys[3], addNew = rs.indexKey(st.userID), "1"
	}
	if st.login {
		login = "1"
	}
	v, err := rs.s.Eval(ctx, commitRenewedScript, keys, b, ms, login, old, id, now, deadline, remOld, addNew)
	if store.IsRedisError(err, "CROSSSLOT") {
		rs.crossSlot.Store(true) // Cluster: separate calls from now on
		return false, nil
	}
	if err != nil {
		return true, fmt.Errorf("session: commit: %w", err) // the tombstone may stay: it expires
	}
	st.renewedFrom = ""
	n, err := store.Int64(v)
	if err != nil {
		return true, fmt.Errorf("session: commit: %w", err)
	}
	if n < 2 {
		st.gone = true
	}
	if n == 0 {
		return true, ErrSessionGone
	}
	return true, nil
}

// finishRenewal deletes the tombstone of the session that Refresh renewed,
// just before the renewed session is saved. If it is gone, a revocation
// (RevokeAll, Revoke) deleted it while the request ran: ErrSessionGone, and
// the renewed session is never written.
func (rs *RedisStore) finishRenewal(ctx context.Context, st *reqState) error {
	id := st.renewedFrom
	st.renewedFrom = ""
	bctx, cancel := rs.bound(ctx)
	defer cancel()
	n, err := rs.s.Delete(bctx, rs.prefix+id)
	if err != nil {
		st.renewedFrom = id // the save fails; the tombstone stays
		return fmt.Errorf("session: commit: %w", err)
	}
	if st.prevUser != "" && rs.index.Prefix != "" {
		_ = rs.indexRemove(bctx, st.prevUser, id)
	}
	if n == 0 {
		st.gone = true
		if !st.login { // a Login since is a new authentication
			return ErrSessionGone
		}
	}
	return nil
}

// All implements scs.IterableStore with context.Background().
func (rs *RedisStore) All() (map[string][]byte, error) {
	return rs.AllCtx(context.Background())
}

// AllCtx implements scs.IterableCtxStore. It walks the keys with SCAN (on
// Cluster, every master), never KEYS, and reads each session with GET; a
// session that expires during the walk is left out. With HashTokens the map
// is keyed by the hashes, since the tokens are not stored.
func (rs *RedisStore) AllCtx(ctx context.Context) (map[string][]byte, error) {
	out := make(map[string][]byte)
	err := rs.s.Scan(ctx, store.EscapeGlob(rs.prefix)+"*", 500, func(keys []string) error {
		keys = slices.DeleteFunc(keys, func(k string) bool { return !strings.HasPrefix(k, rs.prefix) })
		vals, err := rs.getMany(ctx, keys)
		if err != nil {
			return err
		}
		for i, k := range keys {
			if vals[i] != nil && !isTombstone(vals[i]) {
				out[k[len(rs.prefix):]] = vals[i]
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("session: all: %w", err)
	}
	return out, nil
}

// getMany reads keys, in one round trip when the store can pipeline (on
// Cluster the client splits the pipeline by slot). A missing key is nil.
func (rs *RedisStore) getMany(ctx context.Context, keys []string) ([][]byte, error) {
	out := make([][]byte, len(keys))
	if p, ok := rs.s.(store.Pipeliner); ok && len(keys) > 1 {
		cmds := make([][]any, len(keys))
		for i, k := range keys {
			cmds[i] = []any{"GET", k}
		}
		res, err := p.Pipeline(ctx, cmds...)
		if err != nil {
			return nil, err
		}
		for i, r := range res {
			if r.Err != nil {
				return nil, r.Err
			}
			if v, ok, err := store.String(r.Value); err != nil {
				return nil, err
			} else if ok {
				out[i] = []byte(v)
			}
		}
		return out, nil
	}
	for i, k := range keys {
		b, found, err := rs.s.Get(ctx, k)
		if err != nil {
			return nil, err
		}
		if found {
			out[i] = b
		}
	}
	return out, nil
}
