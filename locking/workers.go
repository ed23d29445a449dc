package locking

import (
	"sync"
	"sync/atomic"
	"time"
)

// workers runs the per-store calls of a Redlock round (acquire, release,
// extend, TTL) on goroutines that outlive one call. A fresh goroutine per
// store and call would start on a small stack and grow it through the
// Redis client's call path every time: copying stacks was 13% of the
// client's CPU time in a Redlock acquire and release over three stores.
// When no worker is idle, do starts one, so a stuck store never holds up
// calls to the others.
//
// An idle worker waits on a plain channel receive. Waiting in a select
// with an idle timer would put that timer into the runtime's timer heap at
// every wait and take it out at every wake, and resetting it after every
// call cost the Redlock acquire and release 1.6 µs of its 7.9 (stores that
// answer at once). Idle workers are retired by a sweep every workerIdle
// instead: it stops as many workers as were idle all the time since the
// previous sweep, and stops itself once no worker is left.
type workers struct {
	jobs chan nodeCall // unbuffered: a send succeeds only into an idle worker

	idle atomic.Int32 // workers waiting on jobs
	low  atomic.Int32 // the fewest idle workers since the last sweep

	mu    sync.Mutex
	live  int         // workers running
	sweep *time.Timer // armed while live > 0
}

// workerIdle is the sweep interval: a worker idle for that long, up to
// twice that, exits.
const workerIdle = 10 * time.Second

// nodeWorkers serves every Locker: idle goroutines are shared.
var nodeWorkers = workers{jobs: make(chan nodeCall)}

// do runs job on an idle worker, or on a new one.
func (w *workers) do(job nodeCall) {
	select {
	case w.jobs <- job:
	default:
		w.mu.Lock()
		w.live++
		if w.sweep == nil {
			w.sweep = time.AfterFunc(workerIdle, w.retire)
		} else if w.live == 1 {
			w.sweep.Reset(workerIdle)
		}
		w.mu.Unlock()
		go w.run(job)
	}
}

func (w *workers) run(job nodeCall) {
	for {
		job.run()
		w.idle.Add(1)
		job = <-w.jobs
		if job.r == nil { // retired by a sweep
			w.mu.Lock()
			w.live--
			w.mu.Unlock()
			return
		}
		// Lower the low-water mark if this take is a new low. A take
		// while a sweep is retiring workers can count one too many idle;
		// the next sweep may then retire a worker that was busy since,
		// and do starts a new one when it is needed.
		n := w.idle.Add(-1)
		for {
			low := w.low.Load()
			if n >= low || w.low.CompareAndSwap(low, n) {
				break
			}
		}
	}
}

// retire stops the workers that stayed idle since the previous sweep, and
// arms the next sweep if any worker is left.
func (w *workers) retire() {
	for range w.low.Load() {
		select {
		case w.jobs <- nodeCall{}: // an idle worker takes it and exits
			w.idle.Add(-1)
		default: // none idle any more
		}
	}
	w.low.Store(w.idle.Load())
	w.mu.Lock()
	if w.live > 0 {
		w.sweep.Reset(workerIdle)
	}
	w.mu.Unlock()
}
