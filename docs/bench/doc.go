// Package bench holds rediware's side-by-side benchmarks against peer
// libraries. It is a separate module so that the peers never enter the
// toolkit's go.mod. Run from this directory:
//
//	go test -run '^$' -bench . -benchmem
//
// Every benchmark starts its own redis-server through
// github.com/rediware/rediware/internal/redistest (allowed: this module's
// path is inside rediware's), and each compares rediware with its peers
// against the same server in the same run.
package bench
