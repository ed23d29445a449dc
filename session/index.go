package session

import (
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/rediware/rediware/store"
)

var (
	//go:embed index_add.lua
	indexAddLua string
	//go:embed index_rem.lua
	indexRemLua string
	//go:embed index_list.lua
	indexListLua string
	//go:embed index_take.lua
	indexTakeLua string
	//go:embed index_has.lua
	indexHasLua string

	indexAddScript  = store.NewScript(indexAddLua)
	indexRemScript  = store.NewScript(indexRemLua)
	indexListScript = store.NewScript(indexListLua)
	indexTakeScript = store.NewScript(indexTakeLua)
	indexHasScript  = store.NewScript(indexHasLua)
)

// SessionInfo describes one active session of a user, as listed by
// Manager.Sessions.
type SessionInfo struct {
	// ID identifies the session to Revoke. It is derived from the token by
	// a one-way hash, so it may be shown to the user (a "your devices"
	// page) without giving the session away.
	ID string

	// Expiry is when the session expires unless used again (the idle
	// timeout or the absolute deadline, whichever comes first).
	Expiry time.Time

	// Deadline is the absolute end of the session's lifetime.
	Deadline time.Time

	// Current is true for the session of the request whose context was
	// passed to Sessions.
	Current bool

	// Values holds the session's data, decoded with the Manager's codec.
	// It is everything the application stored: pick what to show (a device
	// name, a login time) rather than sending it to the client whole.
	Values map[string]any
}

// publicID turns an index member (a token, or its hash) into a SessionInfo.ID.
func publicID(member string) string {
	h := sha256.Sum256([]byte("rediware-session-id\x00" + member))
	return hex.EncodeToString(h[:16])
}

// maxPlainUserID is the longest user ID whose index key holds it as it is;
// longer IDs are hashed, so that no user ID, however long, makes a key too
// long for the store (or a cheap way to fill Redis).
const maxPlainUserID = 256

// indexKey returns the key of userID's session index, "{prefix:userID}",
// one hash tag so that it stays in one Cluster slot whatever the ID holds.
//
// An ID that contains a curly brace (which would move or end the hash tag)
// or is longer than maxPlainUserID is stored as "{prefix:{" + hex(SHA-256)
// + "}" instead. (store.Keyspace used to replace '{' and '}' by '(' and
// ')', which gave "a{b}" and "a(b)" one index, so that either user could
// list and revoke the other's sessions; it now escapes them injectively, and
// hashing keeps such IDs and very long ones bounded.) A brace-free ID never
// yields a '{' inside the tag, so the two forms cannot collide.
func (rs *RedisStore) indexKey(userID string) string {
	if len(userID) <= maxPlainUserID && !strings.ContainsAny(userID, "{}") {
		return rs.index.Key(userID)
	}
	h := sha256.Sum256([]byte(userID))
	base := rs.index.Key("") // "{prefix:}"
	return base[:len(base)-1] + "{" + hex.EncodeToString(h[:]) + "}"
}

func (rs *RedisStore) indexRemove(ctx context.Context, userID string, ids ...string) error {
	if len(ids) == 0 {
		return nil
	}
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	if _, err := rs.s.Eval(ctx, indexRemScript, []string{rs.indexKey(userID)}, args...); err != nil {
		return fmt.Errorf("session: index: %w", err)
	}
	return nil
}

type indexEntry struct {
	member string
	expiry time.Time
}

// indexList prunes and lists a user's index.
func (rs *RedisStore) indexList(ctx context.Context, userID string) ([]indexEntry, error) {
	v, err := rs.s.Eval(ctx, indexListScript, []string{rs.indexKey(userID)}, time.Now().UnixMilli())
	if err != nil {
		return nil, fmt.Errorf("session: index: %w", err)
	}
	a, err := store.Slice(v, 0)
	if err != nil {
		return nil, fmt.Errorf("session: index: %w", err)
	}
	out := make([]indexEntry, 0, len(a)/2)
	for i := 0; i+1 < len(a); i += 2 {
		m, _, err1 := store.String(a[i])
		sc, _, err2 := store.String(a[i+1])
		if err := errors.Join(err1, err2); err != nil {
			return nil, fmt.Errorf("session: index: %w", err)
		}
		f, err := strconv.ParseFloat(sc, 64)
		if err != nil || math.IsNaN(f) {
			return nil, fmt.Errorf("session: index: bad score %q", sc)
		}
		out = append(out, indexEntry{member: m, expiry: time.UnixMilli(int64(f))})
	}
	return out, nil
}

// indexTake empties a user's index and returns its members.
func (rs *RedisStore) indexTake(ctx context.Context, userID string) ([]string, error) {
	v, err := rs.s.Eval(ctx, indexTakeScript, []string{rs.indexKey(userID)})
	if err != nil {
		return nil, fmt.Errorf("session: index: %w", err)
	}
	a, err := store.Slice(v, 0)
	if err != nil {
		return nil, fmt.Errorf("session: index: %w", err)
	}
	out := make([]string, 0, len(a))
	for _, e := range a {
		s, _, err := store.String(e)
		if err != nil {
			return nil, fmt.Errorf("session: index: %w", err)
		}
		out = append(out, s)
	}
	return out, nil
}

// deleteIDs deletes the sessions stored under ids and reports how many
// existed.
func (rs *RedisStore) deleteIDs(ctx context.Context, ids []string) (int, error) {
	if len(ids) == 0 {
		return 0, nil
	}
	keys := make([]string, len(ids))
	for i, id := range ids {
		keys[i] = rs.prefix + id
	}
	n, err := rs.s.Delete(ctx, keys...)
	if err != nil {
		return 0, fmt.Errorf("session: revoke: %w", err)
	}
	return int(n), nil
}
