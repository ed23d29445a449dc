package redistest_test

import (
	"testing"

	"github.com/rediware/rediware/internal/redistest"
)

// BenchmarkStart measures starting a server until it answers PING, plus
// killing it.
func BenchmarkStart(b *testing.B) {
	for b.Loop() {
		redistest.Start(b).Kill()
	}
}

// BenchmarkRestart measures Kill followed by Restart on the same port.
func BenchmarkRestart(b *testing.B) {
	s := redistest.Start(b)
	for b.Loop() {
		s.Kill()
		s.Restart()
	}
}

// BenchmarkStartCluster measures starting and forming a private cluster,
// plus killing it.
func BenchmarkStartCluster(b *testing.B) {
	for b.Loop() {
		for _, s := range redistest.StartCluster(b).Masters() {
			s.Kill()
		}
	}
}
