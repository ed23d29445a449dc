//go:build unix

package redistest

import (
	"os"
	"syscall"
)

var (
	sigStop = os.Signal(syscall.SIGSTOP)
	sigCont = os.Signal(syscall.SIGCONT)
	sigTerm = os.Signal(syscall.SIGTERM)
)

// processGone reports whether no process with this pid exists.
func processGone(pid int) bool { return syscall.Kill(pid, 0) == syscall.ESRCH }
