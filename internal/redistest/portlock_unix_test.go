//go:build unix

package redistest_test

import (
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"

	"github.com/rediware/rediware/internal/redistest"
)

func TestClaimPort_refuses_a_port_locked_by_another_process(t *testing.T) {
	const p = 10007 // below the bus range; only this test uses it
	if err := os.MkdirAll(redistest.PortLockDir(), 0o777); err != nil {
		t.Fatal(err)
	}
	// Another open file description conflicts like another process does.
	f, err := os.OpenFile(filepath.Join(redistest.PortLockDir(), strconv.Itoa(p)), os.O_CREATE|os.O_RDWR, 0o666)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		t.Skipf("port %d is locked by another test binary right now: %v", p, err)
	}
	if redistest.ClaimPort(p, false) {
		redistest.ReleasePort(p, false)
		t.Fatalf("port %d claimed while another process holds its lock", p)
	}
	syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	if !redistest.ClaimPort(p, false) {
		t.Fatalf("port %d refused once its lock was dropped", p)
	}
	redistest.ReleasePort(p, false)
}
