package ratelimit

// Outcome is what a decision did.
type Outcome uint8

// Outcomes reported to Options.OnDecision.
const (
	// Allowed: the request was admitted.
	Allowed Outcome = iota
	// Denied: a policy refused the request (or FailClosed did).
	Denied
	// Errored: no decision could be made, for example a malformed key or an
	// unexpected reply; the request was handled by the error path.
	Errored
)

// String returns "allowed", "denied" or "error".
func (o Outcome) String() string {
	switch o {
	case Allowed:
		return "allowed"
	case Denied:
		return "denied"
	default:
		return "error"
	}
}

// Decision describes one decision for Options.OnDecision. Its fields have
// low cardinality, so they suit metric labels; the client key is left out on
// purpose.
type Decision struct {
	// Limiter is the limiter's Name.
	Limiter string
	// Class is the limiter's KeyClass, such as "ip" or "user".
	Class string
	// Outcome is allowed, denied or error.
	Outcome Outcome
	// Policy names the deciding policy (see Result.Policy); empty on error.
	Policy string
	// Source tells whether Redis, the fallback or the failure policy decided.
	Source Source
	// Err is the store error behind a fallback decision or an error outcome.
	Err error
}
