package ratelimit

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/rediware/rediware/store"
)

// Batch scripts wrap the single-decision scripts in a function and call it
// once per decision, so that a batch decides each request with exactly the
// same code. The wrapper reads the clock once.
//
//	KEYS     np keys per decision, decisions one after another
//	ARGV[1]  "" (TIME) or a time in microseconds (tests)
//	ARGV[2]  np
//	ARGV[3..2+4np]  the policies, as in allow.lua
//	ARGV[3+4np..]   the cost of each decision
//
// Reply: the single-decision replies concatenated; a decision that failed
// with an error reply has the error's text in place of its "allowed"
// element (see batchError).
const batchDriver = `
local now = ARGV[1]
if now == "" then
  if not redis.REDIS_VERSION_NUM then redis.replicate_commands() end
  local t = redis.call("TIME")
  now = string.format("%d", t[1] * 1000000 + t[2])
end
local np = tonumber(ARGV[2])
local sub = {"", now}
for j = 1, 4 * np do sub[2 + j] = ARGV[2 + j] end
local out, m = {}, 0
local keys = {}
for r = 1, #ARGV - 2 - 4 * np do
  for i = 1, np do keys[i] = KEYS[(r - 1) * np + i] end
  sub[1] = ARGV[2 + 4 * np + r]
  local ok, o = pcall(one, keys, sub)
  if not ok then
    -- An error reply (WRONGTYPE: a foreign value at the key) fails this
    -- decision only, as it would alone: one() reads every key before it
    -- writes any, so the failed decision has written nothing.
    if type(o) == "table" then o = o.err end
    o = {tostring(o)}
    for i = 2, 1 + 4 * np do o[i] = 0 end
  end
  for i = 1, #o do out[m + i] = o[i] end
  m = m + #o
end
return out
`

func batchScript(single string) *store.Script {
	return store.NewScript("local function one(KEYS, ARGV)\n" + single + "\nend\n" + batchDriver)
}

//go:embed gcra_batch.lua
var gcraBatchLua string

var (
	allowBatchScript = batchScript(allowLua)
	gcraBatchScript  = store.NewScript(gcraBatchLua)
)

// batcher groups concurrent decisions of one limiter. There is no
// goroutine of its own: a caller that finds fewer than maxInflight batches
// in flight (a leader) sends its own decision together with every decision
// queued so far, then hands the lead to the oldest decision still queued,
// if any. Redis runs each batch's script atomically, so batches in flight
// at once are simply two concurrent script calls.
type batcher struct {
	l        *Limiter
	script   *store.Script
	size     int
	disabled atomic.Bool  // set after CROSSSLOT: decide one by one
	shared   atomic.Int64 // decisions sent in batches of two or more (for tests)

	mu       sync.Mutex
	pending  []*call
	inflight int // batches in flight, at most maxInflight
}

type call struct {
	keys []string
	n    int
	res  *Result
	err  error
	lead bool
	done chan struct{}
}

var callPool = sync.Pool{New: func() any { return &call{done: make(chan struct{}, 1)} }}

// maxInflight is the number of batches of one limiter in flight at once.
// With one, Redis idles while the client writes a batch and reads its reply
// and the next batch cannot start; with two, the next batch forms and is
// sent while the previous one runs (measured: 7.8 µs per decision at 64
// callers with one, 6.4 with two, 6.5 with four; docs/ratelimit.md).
const maxInflight = 2

func newBatcher(l *Limiter, size int) *batcher {
	if size <= 0 {
		size = 128
	}
	bt := &batcher{l: l, size: size, script: allowBatchScript}
	if l.script == gcraScript {
		bt.script = gcraBatchScript
	}
	return bt
}

// do decides one request, alone or in a batch. keys must stay valid until it
// returns. The caller decides alone, without do, once batching is off
// (disabled).
func (bt *batcher) do(ctx context.Context, keys []string, n int, res *Result) error {
	c := callPool.Get().(*call)
	c.keys, c.n, c.res, c.err, c.lead = keys, n, res, nil, false
	bt.mu.Lock()
	if bt.inflight >= maxInflight {
		bt.pending = append(bt.pending, c)
		bt.mu.Unlock()
		<-c.done
		if !c.lead {
			err := c.err
			callPool.Put(c)
			return err
		}
		bt.mu.Lock() // promoted: the lead, and an in-flight slot, are ours
	} else {
		bt.inflight++
	}
	batch := make([]*call, 0, min(len(bt.pending)+1, bt.size))
	batch = append(batch, c)
	k := min(len(bt.pending), bt.size-1)
	batch = append(batch, bt.pending[:k]...)
	bt.pending = append(bt.pending[:0], bt.pending[k:]...)
	bt.mu.Unlock()

	// The batch serves other callers too: their contexts are not ours to
	// cancel it with. The client's timeouts (and Options.Timeout) bound it.
	p := bt.runCatching(context.WithoutCancel(ctx), batch)
	for _, o := range batch[1:] {
		o.done <- struct{}{}
	}

	bt.mu.Lock()
	if len(bt.pending) > 0 {
		next := bt.pending[0]
		bt.pending = append(bt.pending[:0], bt.pending[1:]...)
		next.lead = true
		bt.mu.Unlock()
		next.done <- struct{}{}
	} else {
		bt.inflight--
		bt.mu.Unlock()
	}
	if p != nil {
		// The batch's sender gets the panic, as it would unbatched,
		// once the others have their error and the lead has moved on.
		panic(p)
	}
	err := c.err
	callPool.Put(c)
	return err
}

// errStorePanic is the error of a decision whose batch's store call
// panicked.
var errStorePanic = errors.New("ratelimit: the store panicked during a batch")

// runCatching is run, turning a panic (a bug in a store) into an error for
// every decision of the batch and returning it, so that the caller can
// release the others and the batch's in-flight slot before panicking: a
// panic must not leave them waiting forever. The breaker records a failure,
// so that a half-open trial does not stay open forever.
func (bt *batcher) runCatching(ctx context.Context, batch []*call) (p any) {
	defer func() {
		if p = recover(); p != nil {
			bt.l.breaker.Record(store.ErrUnavailable)
			for _, c := range batch {
				c.err = errStorePanic
			}
		}
	}()
	bt.run(ctx, batch)
	return nil
}

// run decides every call of batch and sets its err. The breaker sees one
// outcome per script call, not one per decision: a batch that failed is one
// failed round trip.
func (bt *batcher) run(ctx context.Context, batch []*call) {
	l := bt.l
	if !l.breaker.Allow() {
		for _, c := range batch {
			c.err = store.ErrCircuitOpen
		}
		return
	}
	if len(batch) == 1 {
		c := batch[0]
		c.err = unavailableReply(l.eval1(ctx, c.keys, c.n, c.res))
		l.breaker.Record(c.err)
		return
	}
	bt.shared.Add(int64(len(batch)))
	np := len(l.limits)
	keys := make([]string, 0, np*len(batch))
	args := make([]any, 0, 2+4*np+len(batch))
	now := ""
	if l.nowHook != nil {
		now = strconv.FormatInt(l.nowHook().UnixMicro(), 10)
	}
	args = append(args, now, np)
	args = append(args, l.static...)
	for _, c := range batch {
		keys = append(keys, c.keys...)
		args = append(args, c.n)
	}
	if l.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, l.timeout)
		defer cancel()
	}
	v, err := l.s.Eval(ctx, bt.script, keys, args...)
	crossSlot := err != nil && store.IsRedisError(err, "CROSSSLOT")
	if crossSlot || errors.Is(err, store.ErrInvalidKey) {
		// CROSSSLOT: on Cluster, the keys of different clients live in
		// different slots. ErrInvalidKey: the store refused, before
		// sending anything, a key over its MaxKeyLen, which fails that
		// decision alone. Either way each decision goes alone.
		if crossSlot {
			bt.disabled.Store(true)
		}
		var last error
		for _, c := range batch {
			c.err = unavailableReply(l.eval1(ctx, c.keys, c.n, c.res))
			if c.err != nil {
				last = c.err
			}
		}
		l.breaker.Record(last)
		return
	}
	err = unavailableReply(err)
	l.breaker.Record(err)
	a, ok := v.([]any)
	per := 1 + 4*np
	if err == nil && (!ok || len(a) != per*len(batch)) {
		err = fmt.Errorf("%w: %T of length %d for a batch of %d", ErrUnexpectedReply, v, len(a), len(batch))
	}
	for i, c := range batch {
		if err != nil {
			c.err = err
			continue
		}
		if msg, failed := a[i*per].(string); failed {
			c.err = batchError(msg)
			continue
		}
		c.err = l.parse(a[i*per:(i+1)*per], c.res)
	}
}

// batchError is the error of one decision of a batch that Redis refused
// (the script caught the error reply and sent its text in place of the
// decision): the error the same decision alone gets, a *store.RedisError.
func batchError(msg string) error {
	if !hasErrorCode(msg) {
		// A Lua runtime error ("user_script:93: attempt to ..."), which
		// Redis would have sent as an ERR reply.
		msg = "ERR " + msg
	}
	return unavailableReply(&store.RedisError{Msg: msg})
}

// hasErrorCode reports whether msg starts with a Redis error code: an
// upper-case word followed by a space ("WRONGTYPE Operation ...").
func hasErrorCode(msg string) bool {
	i := 0
	for i < len(msg) && msg[i] >= 'A' && msg[i] <= 'Z' {
		i++
	}
	return i > 0 && i < len(msg) && msg[i] == ' '
}

// eval1 decides one request with the single-decision script.
func (l *Limiter) eval1(ctx context.Context, keys []string, n int, res *Result) error {
	b := l.bufs.Get().(*evalBuf)
	copy(b.keys, keys)
	err := l.eval(ctx, b, n, res)
	l.bufs.Put(b)
	return err
}
