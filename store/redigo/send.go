package redigo

import (
	"context"
	"fmt"
	"time"

	"github.com/gomodule/redigo/redis"

	"github.com/rediware/rediware/store"
)

var _ store.Sender = (*Store)(nil)

// SendEval implements store.Sender: it takes a connection from the pool,
// writes EVALSHA with redigo's Send and Flush, and returns. The reply is
// read by Pending.Wait, which must be called exactly once to give the
// connection back (a connection whose reply was not read is closed, never
// pooled). The write is bounded by the pool's write timeout; ctx's
// deadline bounds the read in Wait, as a socket deadline.
func (s *Store) SendEval(ctx context.Context, script *store.Script, keys []string, args ...any) (store.Pending, error) {
	if err := s.checkKeys(keys...); err != nil {
		return nil, err
	}
	a := make([]any, 0, 2+len(keys)+len(args))
	a = append(a, script.SHA1(), len(keys))
	for _, k := range keys {
		a = append(a, k)
	}
	a, err := encodeArgs(a, args)
	if err != nil {
		return nil, err
	}
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) <= 0 {
		return nil, wrapErr(context.DeadlineExceeded)
	}
	c, err := s.conn(ctx)
	if err != nil {
		return nil, err
	}
	p := &pending{s: s, ctx: ctx, c: c, script: script, args: a}
	if err := p.send("EVALSHA"); err != nil {
		c.Close() // broken by the failed write: the pool drops it
		return nil, err
	}
	return p, nil
}

// minReadTimeout is the shortest socket deadline of Pending.Wait.
const minReadTimeout = time.Millisecond

// pending is a script sent on c whose reply is not read yet.
type pending struct {
	s      *Store
	ctx    context.Context
	c      redis.Conn // nil once Wait has returned
	script *store.Script
	args   []any // EVALSHA's arguments; args[0] is the SHA1
}

func (p *pending) send(cmd string) error {
	if err := p.c.Send(cmd, p.args...); err != nil {
		return wrapErr(err)
	}
	if err := p.c.Flush(); err != nil {
		return wrapErr(err)
	}
	return nil
}

// Wait implements store.Pending.
func (p *pending) Wait() (any, error) {
	c := p.c
	if c == nil {
		return nil, fmt.Errorf("redigo: Pending.Wait called twice")
	}
	p.c = nil
	defer c.Close() // a connection left with an unread reply is broken: the pool drops it
	v, err := p.receive(c)
	if err != nil && store.IsNoScript(err) {
		p.c = c
		p.args[0] = p.script.Source()
		if err = p.send("EVAL"); err == nil {
			v, err = p.receive(c)
		}
		p.c = nil
	}
	if err != nil {
		return nil, err
	}
	return normalise(v), nil
}

// receive reads one reply from c, bounded as doConn bounds a command: by
// ctx's deadline as a socket deadline (and by the pool's read timeout when
// that is shorter).
func (p *pending) receive(c redis.Conn) (any, error) {
	var v any
	var err error
	if dl, ok := p.ctx.Deadline(); ok {
		// Wait may be called after the deadline (locking's Redlock reads
		// a store's reply after the stores before it): a reply that has
		// arrived is still read, with a socket deadline at least
		// minReadTimeout away, because a socket read past its deadline
		// fails without looking at the data. When none has arrived, the
		// read fails and marks the connection broken, so the pool does
		// not reuse it with the reply unread.
		timeout := max(time.Until(dl), minReadTimeout)
		byDeadline := true
		if p.s.readTimeout > 0 && p.s.readTimeout < timeout {
			timeout, byDeadline = p.s.readTimeout, false
		}
		v, err = redis.ReceiveWithTimeout(c, timeout)
		if err != nil && byDeadline && isTimeout(err) {
			err = fmt.Errorf("%w: %w", context.DeadlineExceeded, err)
		}
	} else if p.ctx.Done() == nil {
		v, err = c.Receive()
	} else {
		v, err = redis.ReceiveContext(c, p.ctx)
	}
	if err != nil {
		return nil, wrapErr(err)
	}
	return v, nil
}
