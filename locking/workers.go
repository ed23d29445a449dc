package locking

import "time"

// workers runs the per-store calls of a Redlock round (acquire, release,
// extend, TTL) on goroutines that outlive one call. A fresh goroutine per
// store and call would start on a small stack and grow it through the
// Redis client's call path every time: copying stacks was 13% of the
// client's CPU time in a Redlock acquire and release over three stores.
// A worker that has served no call for workerIdle (up to twice that)
// exits; when no worker is idle, do starts one, so a stuck store never
// holds up calls to the others.
type workers struct {
	jobs chan nodeCall // unbuffered: a send succeeds only into an idle worker
}

// workerIdle is how long an idle worker waits for its next call, at least.
const workerIdle = 10 * time.Second

// nodeWorkers serves every Locker: idle goroutines are shared.
var nodeWorkers = workers{jobs: make(chan nodeCall)}

// do runs job on an idle worker, or on a new one.
func (w *workers) do(job nodeCall) {
	select {
	case w.jobs <- job:
	default:
		go w.run(job)
	}
}

func (w *workers) run(job nodeCall) {
	job.run()
	// The idle timer is not reset after every call, which would cost a
	// timer update per call: when it fires, the worker exits only if it
	// served no call since the timer was last armed.
	idle := time.NewTimer(workerIdle)
	defer idle.Stop()
	busy := false
	for {
		select {
		case job := <-w.jobs:
			job.run()
			busy = true
		case <-idle.C:
			if !busy {
				return
			}
			busy = false
			idle.Reset(workerIdle)
		}
	}
}
