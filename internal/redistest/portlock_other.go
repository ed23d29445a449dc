//go:build !unix

package redistest

import "os"

// Without flock, ports are reserved within the process only.
func lockPort(int) (*os.File, bool) { return nil, true }

func unlockPort(*os.File) {}
