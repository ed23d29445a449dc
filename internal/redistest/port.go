package redistest

import (
	"errors"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
)

// Ports are chosen below the kernel's ephemeral range when it leaves room
// (10000-22767 with the Linux default 32768-60999), rather than by listening
// on port 0. A port from the ephemeral range can be taken by any outgoing
// connection on the machine while a killed server is down, which would make
// Restart on the same port fail; ports below that range can only be taken by
// another listener. The cluster bus port (port+10000) stays below the range
// too. Every candidate is still checked by listening on it, and redis-server
// failing to bind is retried on another port.
//
// A port is reserved across processes as well, by an exclusive flock on a
// file named after it in a shared directory (see portlock_unix.go), held
// until the server is closed: go test runs package binaries in parallel, and
// without it a port whose server a test killed could be taken by another
// binary's server, so that the test's Restart fails and, worse, its clients
// still pointed at that port talk to a stranger's Redis. The kernel drops the
// lock when the process dies, so a crashed binary leaves nothing held.

const busPortOffset = 10000

var portRegistry = struct {
	sync.Mutex
	used map[int]*os.File // the port's lock file, nil where locks are unsupported
}{used: map[int]*os.File{}}

// portRange returns the half-open range to pick ports from, or ok=false to
// fall back to asking the kernel for a free port.
func portRange() (lo, hi int, ok bool) {
	lo = 10000
	hi = 22768
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			if low, err := strconv.Atoi(f[0]); err == nil {
				hi = low - busPortOffset
			}
		}
	}
	return lo, hi, hi-lo >= 1000
}

// reservePort picks a free loopback port (and, for cluster nodes, a free bus
// port at port+10000) not used by any other server of this process, and
// reserves it until releasePort.
func reservePort(withBus bool) (int, error) {
	lo, hi, ranged := portRange()
	for range 200 {
		var p int
		if ranged {
			p = lo + rand.IntN(hi-lo)
		} else {
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				return 0, err
			}
			p = l.Addr().(*net.TCPAddr).Port
			l.Close()
		}
		if withBus && p+busPortOffset > 65535 {
			continue
		}
		if !claim(p, withBus) {
			continue
		}
		if canListen(p) && (!withBus || canListen(p+busPortOffset)) {
			return p, nil
		}
		releasePort(p, withBus)
	}
	return 0, errors.New("redistest: no free loopback port found")
}

func claim(p int, withBus bool) bool {
	portRegistry.Lock()
	defer portRegistry.Unlock()
	if _, ok := portRegistry.used[p]; ok {
		return false
	}
	if _, ok := portRegistry.used[p+busPortOffset]; ok && withBus {
		return false
	}
	f, ok := lockPort(p)
	if !ok {
		return false // another process holds it
	}
	var bus *os.File
	if withBus {
		if bus, ok = lockPort(p + busPortOffset); !ok {
			unlockPort(f)
			return false
		}
	}
	portRegistry.used[p] = f
	if withBus {
		portRegistry.used[p+busPortOffset] = bus
	}
	return true
}

func releasePort(p int, withBus bool) {
	portRegistry.Lock()
	defer portRegistry.Unlock()
	ports := []int{p}
	if withBus {
		ports = append(ports, p+busPortOffset)
	}
	for _, q := range ports {
		if f, ok := portRegistry.used[q]; ok {
			unlockPort(f)
			delete(portRegistry.used, q)
		}
	}
}

func canListen(p int) bool {
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
	if err != nil {
		return false
	}
	l.Close()
	return true
}
