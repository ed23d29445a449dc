package redistest

// Exported for the black-box tests in redistest_test.

// Verdicts of Decide.
const (
	VerdictRun  = verdictRun
	VerdictSkip = verdictSkip
	VerdictFail = verdictFail
)

// Decide is decide.
var Decide = decide

// Port reservation, for the tests of the cross-process lock.
var (
	ClaimPort   = claim
	ReleasePort = releasePort
	PortLockDir = portLockDir
)
