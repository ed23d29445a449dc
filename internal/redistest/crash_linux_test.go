//go:build linux

package redistest_test

import (
	"bufio"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rediware/rediware/internal/redistest"
)

const crashHelperEnv = "REDISTEST_CRASH_HELPER"

// TestCrashHelper is run as a child process by
// TestStart_server_dies_with_crashed_test_binary: it starts a server, prints
// its pid and exits without running any cleanup.
func TestCrashHelper(t *testing.T) {
	if os.Getenv(crashHelperEnv) != "1" {
		t.Skip("helper process for TestStart_server_dies_with_crashed_test_binary")
	}
	s := redistest.Start(t)
	info, err := client(t, s).Info(t.Context(), "server").Result()
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.SplitSeq(info, "\n") {
		if pid, ok := strings.CutPrefix(strings.TrimSpace(line), "process_id:"); ok {
			os.Stdout.WriteString("PID " + pid + "\n")
		}
	}
	os.Exit(3)
}

func TestStart_server_dies_with_crashed_test_binary(t *testing.T) {
	if !redistest.Available() {
		t.Skip("redis-server not found")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashHelper$")
	cmd.Env = append(os.Environ(), crashHelperEnv+"=1")
	out, _ := cmd.Output()
	pid := 0
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "PID "); ok {
			pid, _ = strconv.Atoi(v)
		}
	}
	if pid == 0 {
		t.Fatalf("helper printed no PID; output:\n%s", out)
	}
	deadline := time.Now().Add(5 * time.Second)
	for alive(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("redis-server pid %d still alive 5s after its test binary exited", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// alive reports whether pid exists and is not a zombie.
func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	i := strings.LastIndexByte(string(b), ')')
	return i < 0 || i+2 >= len(b) || b[i+2] != 'Z'
}
