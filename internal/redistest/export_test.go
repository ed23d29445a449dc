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
