package ratelimit

import "time"

// Never is the RetryAfter of a request that can never be admitted because
// its cost exceeds a policy's capacity (Burst, or Rate for the window
// algorithms).
const Never time.Duration = -1

// Source tells where a decision was made.
type Source uint8

// Sources of a decision.
const (
	// SourceRedis: the shared limit in Redis decided.
	SourceRedis Source = iota
	// SourceLocal: Redis was unavailable and the in-process fallback
	// limiter decided (FailureLocal).
	SourceLocal
	// SourceFailOpen: Redis was unavailable and the request was admitted
	// without counting (FailOpen).
	SourceFailOpen
	// SourceFailClosed: Redis was unavailable and the request was refused
	// (FailClosed).
	SourceFailClosed
)

// String returns "redis", "local", "fail-open" or "fail-closed".
func (s Source) String() string {
	switch s {
	case SourceRedis:
		return "redis"
	case SourceLocal:
		return "local"
	case SourceFailOpen:
		return "fail-open"
	case SourceFailClosed:
		return "fail-closed"
	}
	return "unknown"
}

// Result is the decision on one request, with the state of every policy.
//
// Allowed is true only when every policy admitted the request; then each
// policy has consumed the cost. When any policy denies, none consumes
// anything (all or nothing).
type Result struct {
	// Allowed reports whether the request may proceed.
	Allowed bool
	// Policy names the policy that decided: when denied, the denying policy
	// with the longest RetryAfter; when allowed, the policy with the fewest
	// units remaining.
	Policy string
	// Limit is the Rate of that policy.
	Limit int
	// Remaining is how many units that policy has left: after this request
	// if it was allowed, unchanged if it was denied.
	Remaining int
	// RetryAfter is, when denied, how long until the same request could be
	// admitted (by every policy that denied it); Never if it cannot ever be.
	// Zero when allowed.
	RetryAfter time.Duration
	// ResetAfter is how long until the deciding policy is back to its full
	// quota if no further request arrives.
	ResetAfter time.Duration
	// Policies holds one entry per policy, in the Limiter's order.
	Policies []PolicyResult
	// Source tells whether Redis, the local fallback or the failure policy
	// decided.
	Source Source
	// Err is the store error that made the failure policy decide, or nil
	// when Source is SourceRedis.
	Err error

	buf [2]PolicyResult // backs Policies for up to two policies
}

// PolicyResult is the state of one policy after a decision.
type PolicyResult struct {
	// Limit is the policy, with defaults filled in.
	Limit Limit
	// Allowed reports whether this policy alone would admit the request.
	Allowed bool
	// Remaining is how many units are left: after the request if the whole
	// request was allowed, unchanged if it was denied.
	Remaining int
	// RetryAfter is how long until this policy alone would admit the
	// request: zero if it does now, Never if it never can.
	RetryAfter time.Duration
	// ResetAfter is how long until the policy is back to its full quota.
	ResetAfter time.Duration
}

// summarise fills the top-level fields from Policies.
func (r *Result) summarise() {
	r.Allowed = true
	best := -1
	for i := range r.Policies {
		p := &r.Policies[i]
		if !p.Allowed {
			if r.Allowed || p.RetryAfter == Never ||
				(r.RetryAfter != Never && p.RetryAfter > r.RetryAfter) {
				r.RetryAfter = p.RetryAfter
				best = i
			}
			r.Allowed = false
		}
	}
	if r.Allowed {
		r.RetryAfter = 0
		for i := range r.Policies {
			p := &r.Policies[i]
			if best < 0 || p.Remaining < r.Policies[best].Remaining ||
				(p.Remaining == r.Policies[best].Remaining && p.ResetAfter > r.Policies[best].ResetAfter) {
				best = i
			}
		}
	}
	if best < 0 {
		return
	}
	p := &r.Policies[best]
	r.Policy, r.Limit, r.Remaining, r.ResetAfter = p.Limit.Name, p.Limit.Rate, p.Remaining, p.ResetAfter
}

// reset prepares r for n policies, reusing its storage.
func (r *Result) reset(n int) {
	*r = Result{}
	if n <= len(r.buf) {
		r.Policies = r.buf[:n]
	} else {
		r.Policies = make([]PolicyResult, n)
	}
}
