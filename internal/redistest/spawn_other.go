//go:build !linux

package redistest

import "os/exec"

// startCmd starts cmd. Outside Linux there is no parent-death signal, so a
// crashed test binary can leave redis-server running; normal cleanup still
// kills every child.
func startCmd(cmd *exec.Cmd) error { return cmd.Start() }
