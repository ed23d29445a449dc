package locking

import "time"

// workers runs the per-store calls of a Redlock round (acquire, release,
// extend, TTL) on goroutines that outlive one call. A fresh goroutine per
// store and call would start on a small stack and grow it through the
// Redis client's call path every time: copying stacks was 13% of the
// client's CPU time in a Redlock acquire and release over three stores.
// A worker that finished its call waits workerIdle for the next one, then
// exits; when no worker is idle, do starts one, so a stuck store never
// holds up calls to the others.
type workers struct {
	jobs chan func() // unbuffered: a send succeeds only into an idle worker
}

// workerIdle is how long an idle worker waits for its next call.
const workerIdle = 10 * time.Second

// nodeWorkers serves every Locker: idle goroutines are shared.
var nodeWorkers = workers{jobs: make(chan func())}

// do runs job on an idle worker, or on a new one.
func (w *workers) do(job func()) {
	select {
	case w.jobs <- job:
	default:
		go w.run(job)
	}
}

func (w *workers) run(job func()) {
	job()
	idle := time.NewTimer(workerIdle)
	defer idle.Stop()
	for {
		select {
		case job := <-w.jobs:
			job()
			idle.Reset(workerIdle)
		case <-idle.C:
			return
		}
	}
}
