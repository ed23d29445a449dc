package session

import (
	"context"
	"time"
)

// reqState is what the middleware knows about one request's session, shared
// with RedisStore through the request context (scs hands its context to the
// store on every call).
type reqState struct {
	existing     string    // token found in the store at load time, or ""
	prevUser     string    // user the session belonged to at load time
	userID       string    // user at commit time
	indexedAs    string    // user whose index held the session at load time
	needIndex    bool      // this commit must (re)write the user's index entry
	found        bool      // the store returned data (a decode error is then bad data)
	loaded       []byte    // the data loaded, whose decode cache entry a save makes stale
	maxExpiry    time.Time // idle expiry to apply at commit, zero for none
	expiry       time.Time // expiry actually written by the last commit
	renewing     bool      // Refresh is renewing the token
	renewedFrom  string    // id whose key holds the tombstone until the renewed session is saved
	login        bool      // Login ran: a renewal here is a new authentication
	gone         bool      // the loaded session's key was already gone when this request renewed or destroyed it
	touchOf      []byte    // bytes loaded, when this commit only touches the session: written only over them
	touchSkipped bool      // the touch found the session changed by another request and wrote nothing
	started      bool      // the response header has been sent: a new token can no longer reach the client
}

// stateKey is keyed by the store, so that each Manager finds its own
// request state when two of them are nested (two cookies, two prefixes), as
// scs allows.
type stateKey struct{ rs *RedisStore }

// state returns the request state that rs's Manager put in ctx, or nil.
func (rs *RedisStore) state(ctx context.Context) *reqState {
	st, _ := ctx.Value(stateKey{rs}).(*reqState)
	return st
}
