package cache

import "time"

// Tier names where an event happened.
type Tier uint8

// Tiers.
const (
	// TierLocal is an in-process tier (see store/tiered).
	TierLocal Tier = iota
	// TierRedis is the Redis tier.
	TierRedis
	// TierLoader is the loader behind the cache (the database).
	TierLoader
)

// String returns "local", "redis" or "loader".
func (t Tier) String() string {
	switch t {
	case TierLocal:
		return "local"
	case TierRedis:
		return "redis"
	default:
		return "loader"
	}
}

// Kind is what happened.
type Kind uint8

// Event kinds.
const (
	// Hit: the tier had a value.
	Hit Kind = iota
	// NegativeHit: the tier had a cached "not found".
	NegativeHit
	// Miss: the tier had nothing (or a stale or unreadable entry).
	Miss
	// Load: the loader ran (Duration is how long; Err is its error, if
	// any, ErrNotFound included).
	Load
	// EarlyRefresh: XFetch chose this read to refresh the value before it
	// expires.
	EarlyRefresh
	// LockWait: another instance held the fill lock and this one waited
	// for its fill (Duration is how long).
	LockWait
	// Error: the tier failed (Err says how); the operation degraded as
	// documented on it.
	Error
	// Invalidate: keys were dropped from the tier.
	Invalidate
)

var kindNames = [...]string{"hit", "negative_hit", "miss", "load", "early_refresh", "lock_wait", "error", "invalidate"}

// String returns the kind's snake_case name, suitable as a metric label.
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "unknown"
}

// Event is one observation passed to Options.Hook. It is passed by value and
// holds no pointers into the cache, so a hook may keep it.
type Event struct {
	Tier     Tier
	Kind     Kind
	Op       string // the operation: "get", "set", "delete", "load", ...
	Key      string // the caller's key, without the prefix
	Duration time.Duration
	Err      error
}

// Hook receives events. It is called synchronously on the hot path, so it
// must be fast and must not block (increment a counter, not a network call).
type Hook func(Event)
