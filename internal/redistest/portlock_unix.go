//go:build unix

package redistest

import (
	"os"
	"path/filepath"
	"strconv"
	"syscall"
)

// portLockDir holds one lock file per reserved port, shared by every test
// binary on the machine.
func portLockDir() string { return filepath.Join(os.TempDir(), "rediware-redistest-ports") }

// lockPort takes an exclusive, non-blocking flock on p's lock file. It
// reports false when another process (or another open of the file) holds
// it. If the lock directory cannot be used, it grants the port, so that a
// read-only temp dir degrades to the in-process reservation alone.
func lockPort(p int) (*os.File, bool) {
	dir := portLockDir()
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return nil, true
	}
	f, err := os.OpenFile(filepath.Join(dir, strconv.Itoa(p)), os.O_CREATE|os.O_RDWR, 0o666)
	if err != nil {
		return nil, true
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, false
	}
	return f, true
}

// unlockPort releases a lock taken by lockPort.
func unlockPort(f *os.File) {
	if f != nil {
		f.Close() // closing the only descriptor drops the flock
	}
}
