//go:build !unix

package redistest

import "os"

// Without job-control signals Pause and Resume report a failure, and Stop
// falls back to os.Kill.
var (
	sigStop os.Signal
	sigCont os.Signal
	sigTerm = os.Kill
)

// processGone reports false: without a cheap liveness check nothing is
// treated as stale.
func processGone(int) bool { return false }
