package goredis

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// batcher is the Store's automatic pipelining (on unless
// Options.NoAutoPipeline).
//
// At most maxInFlight round trips are outstanding at once. A caller that
// finds a free slot sends its own command at once, alone, on its own
// goroutine, and waits only for its own reply: a lone caller pays one mutex
// and nothing else. A caller that finds every slot taken joins a queue;
// whoever frees a slot next hands the whole queue, up to maxBatch commands,
// to a goroutine that sends it as one pipeline and keeps draining until the
// queue is empty. Queued callers wait with their own context: a caller whose
// context ends first returns at once, and its command is dropped if it was
// not sent yet. No caller ever waits for another caller's round trip except
// to take its free slot, so a batch stuck on a dead or paused server delays
// nobody past their deadline.
type batcher struct {
	client      redis.UniversalClient
	maxInFlight int
	maxBatch    int

	mu       sync.Mutex
	inFlight int
	queue    []*call
}

// call is one queued command.
type call struct {
	ctx   context.Context
	cmd   redis.Cmder
	state atomic.Int32 // callQueued, callTaken or callAbandoned
	done  chan struct{}
}

const (
	callQueued int32 = iota
	callTaken
	callAbandoned
)

func newBatcher(client redis.UniversalClient, maxInFlight, maxBatch int) *batcher {
	return &batcher{client: client, maxInFlight: maxInFlight, maxBatch: maxBatch}
}

// do runs cmd, alone or in a pipeline with other callers' commands, and
// returns cmd's error, or the context's error wrapped by the caller.
func (b *batcher) do(ctx context.Context, cmd redis.Cmder) error {
	b.mu.Lock()
	if b.inFlight < b.maxInFlight {
		b.inFlight++
		b.mu.Unlock()
		err := b.client.Process(ctx, cmd)
		b.release()
		return err
	}
	c := &call{ctx: ctx, cmd: cmd, done: make(chan struct{})}
	b.queue = append(b.queue, c)
	b.mu.Unlock()

	select {
	case <-c.done:
		return cmd.Err()
	case <-ctx.Done():
		select {
		case <-c.done: // both ready: the reply wins
			return cmd.Err()
		default:
		}
		// Not sent yet: drop it. Sent: its reply is ignored, and cmd must
		// not be read by the caller.
		c.state.CompareAndSwap(callQueued, callAbandoned)
		return ctx.Err()
	}
}

// release frees the caller's slot, or hands it with the queued commands to a
// draining goroutine.
func (b *batcher) release() {
	b.mu.Lock()
	if len(b.queue) == 0 {
		b.inFlight--
		b.mu.Unlock()
		return
	}
	batch := b.take()
	b.mu.Unlock()
	go b.drain(batch)
}

// take removes up to maxBatch commands from the head of the queue. The
// caller holds b.mu.
func (b *batcher) take() []*call {
	n := min(len(b.queue), b.maxBatch)
	batch := b.queue[:n:n]
	if n == len(b.queue) {
		b.queue = nil
	} else {
		b.queue = b.queue[n:]
	}
	return batch
}

// drain sends batches until the queue is empty, then frees its slot.
func (b *batcher) drain(batch []*call) {
	for {
		b.send(batch)
		b.mu.Lock()
		if len(b.queue) == 0 {
			b.inFlight--
			b.mu.Unlock()
			return
		}
		batch = b.take()
		b.mu.Unlock()
	}
}

// send runs the live commands of batch as one pipeline and wakes their
// callers.
func (b *batcher) send(batch []*call) {
	live := batch[:0]
	var deadline time.Time
	noDeadline := false
	for _, c := range batch {
		if !c.state.CompareAndSwap(callQueued, callTaken) {
			continue // abandoned before it was sent
		}
		live = append(live, c)
		if d, ok := c.ctx.Deadline(); !ok {
			noDeadline = true
		} else if d.After(deadline) {
			deadline = d
		}
	}
	switch len(live) {
	case 0:
		return
	case 1:
		// One command: no pipeline needed, and its own context applies.
		c := live[0]
		_ = b.client.Process(c.ctx, c.cmd)
		close(c.done)
		return
	}
	// The pipeline belongs to no single caller: it runs on a context that no
	// caller can cancel, bounded by the latest of their deadlines (or by the
	// client's timeouts when one of them has none). A caller whose context
	// ends first stops waiting; the others still get their replies.
	ctx := context.WithoutCancel(live[0].ctx)
	if !noDeadline {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, deadline)
		defer cancel()
	}
	pipe := b.client.Pipeline()
	for _, c := range live {
		_ = pipe.Process(ctx, c.cmd)
	}
	_, _ = pipe.Exec(ctx) // each command carries its own error
	for _, c := range live {
		close(c.done)
	}
}

// blockingCommands must never share a pipeline: they hold their connection
// until data arrives, and every command behind them would wait too.
var blockingCommands = map[string]bool{
	"blpop": true, "brpop": true, "brpoplpush": true, "blmove": true, "blmpop": true,
	"bzpopmin": true, "bzpopmax": true, "bzmpop": true, "xread": true, "xreadgroup": true,
	"wait": true, "waitaof": true,
}

// isBlocking reports whether args start with a blocking command name.
func isBlocking(args []any) bool {
	if len(args) == 0 {
		return false
	}
	name, ok := args[0].(string)
	return ok && blockingCommands[strings.ToLower(name)]
}
