package session

import "errors"

var (
	// ErrSessionGone is returned by a commit of a session that was loaded
	// from the store but no longer exists there: it was revoked, destroyed or
	// expired by another request while this one ran. The middleware answers
	// it by clearing the cookie, never by writing the session back.
	ErrSessionGone = errors.New("session: session no longer exists")

	// ErrLockTimeout is returned when the per-session lock (Config.Lock)
	// could not be taken within Config.LockWait.
	ErrLockTimeout = errors.New("session: timed out waiting for the session lock")

	// ErrNotSaved is returned by Write to a handler whose response was
	// replaced by the error function because the session could not be saved.
	ErrNotSaved = errors.New("session: response replaced: the session could not be saved")

	// ErrResponseStarted is returned by Manager.Login and Manager.Refresh
	// called after the response header was sent: the new token could not
	// reach the client, so the token is not renewed and the session is left
	// as it was.
	ErrResponseStarted = errors.New("session: the response has started: the token cannot be renewed")
)
