package responsecache

import (
	"context"
	"crypto/rand"
	_ "embed"
	"encoding/hex"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/rediware/rediware/store"
)

var (
	//go:embed tagadd.lua
	tagAddLua    string
	tagAddScript = store.NewScript(tagAddLua)
	//go:embed tagpop.lua
	tagPopLua    string
	tagPopScript = store.NewScript(tagPopLua)
)

// call runs fn against Redis behind the breaker, with the store timeout.
func (c *Cache) call(ctx context.Context, fn func(ctx context.Context) error) error {
	if !c.br.Allow() {
		return store.ErrCircuitOpen
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	err := fn(ctx)
	cancel()
	c.br.Record(err)
	return err
}

func (c *Cache) get(ctx context.Context, key string) (b []byte, found bool, err error) {
	if !c.br.Allow() {
		return nil, false, store.ErrCircuitOpen
	}
	rctx, cancel := c.readContext(ctx)
	b, found, err = c.s.Get(rctx, key)
	if cancel != nil {
		cancel()
	}
	c.br.Record(err)
	return b, found, err
}

// sharedDeadline is a context that expires a store timeout after it was
// made, shared by the reads that start soon after (see readContext).
type sharedDeadline struct {
	ctx    context.Context
	cancel context.CancelFunc // never called: the deadline releases it
	at     time.Time
}

// readContext returns the context of one GET on the hit path: ctx's values
// with a deadline at most the store timeout away. Rather than a timer of
// its own (context.WithTimeout: four allocations, a timer to start and
// stop, registration with the request's context) it shares the deadline
// of a context made at most an eighth of the timeout ago, so the read gets
// between 7/8 of the timeout and all of it. It does not end when the client
// goes away, only at the deadline. When ctx has a deadline of its own (or
// is already done) it falls back to context.WithTimeout, so a caller's
// tighter bound is kept; cancel is then not nil.
func (c *Cache) readContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, has := ctx.Deadline(); has || ctx.Err() != nil {
		return context.WithTimeout(ctx, c.timeout)
	}
	now := time.Now()
	sd := c.readDeadline.Load()
	if sd == nil || sd.at.Sub(now) < c.timeout-c.timeout/8 {
		d := &sharedDeadline{at: now.Add(c.timeout)}
		d.ctx, d.cancel = context.WithDeadline(context.Background(), d.at)
		c.readDeadline.Store(d)
		sd = d
	}
	return &readCtx{Context: ctx, deadline: sd.ctx}, nil
}

// readCtx has the values of the request's context and the deadline, Done
// and Err of a shared deadline context.
type readCtx struct {
	context.Context // values only
	deadline        context.Context
}

func (r *readCtx) Deadline() (time.Time, bool) { return r.deadline.Deadline() }
func (r *readCtx) Done() <-chan struct{}       { return r.deadline.Done() }
func (r *readCtx) Err() error                  { return r.deadline.Err() }

// Value asks the deadline context first: it holds no values of its own,
// but answers the context package's internal lookups, so that
// context.Cause reports its expiry and a context derived from this one
// (context.WithCancel in a client hook) follows it without a goroutine.
func (r *readCtx) Value(key any) any {
	if v := r.deadline.Value(key); v != nil {
		return v
	}
	return r.Context.Value(key)
}

// lookupResult is what the cache holds for a request.
type lookupResult struct {
	ent      *entry     // the selected stored response, or nil
	key      string     // the Redis key of ent (or where it would go)
	ix       *varyIndex // the URL's Vary index, when it has one
	values   []string   // the request's selecting header values, under ix
	varyMiss bool       // the URL is cached, but not this variant
	at       time.Time  // when the lookup started
}

// lookup finds the stored response for r under the primary key pk; now is
// the time of the request. A corrupt record is deleted and reported as a
// miss.
func (c *Cache) lookup(ctx context.Context, r *http.Request, pk string, now time.Time) (lookupResult, error) {
	head := c.headKey(pk)
	res := lookupResult{key: head, at: now}
	rec, err := c.record(ctx, head, now)
	if err != nil || rec == nil {
		return res, err
	}
	switch v := rec.(type) {
	case *entry:
		res.ent = v
		return res, nil
	case *varyIndex:
		res.ix = v
		res.values = varyValues(r, v.Fields)
		res.key = c.variantKey(pk, v.Nonce, res.values)
		rec, err := c.record(ctx, res.key, now)
		if err != nil {
			return res, err
		}
		e, _ := rec.(*entry)
		if e == nil || !equalStrings(e.VaryFields, v.Fields) || !equalStrings(e.VaryValues, res.values) {
			res.varyMiss = true
			return res, nil
		}
		res.ent = e
	}
	return res, nil
}

// record reads and decodes one key, from the local tier first.
func (c *Cache) record(ctx context.Context, key string, now time.Time) (any, error) {
	var gen uint64
	if c.local != nil {
		if rec, ok := c.local.get(key, now); ok {
			return rec, nil
		}
		gen = c.local.generation()
	}
	b, found, err := c.get(ctx, key)
	if err != nil || !found {
		return nil, err
	}
	rec, ok := c.decoded.get(key, b)
	if !ok {
		if rec, err = decodeRecord(b, c.targets, c.maxObj); err != nil {
			c.report(ctx, nil, err)
			_ = c.call(context.WithoutCancel(ctx), func(ctx context.Context) error {
				_, err := c.s.Delete(ctx, key)
				return err
			})
			return nil, nil
		}
		c.decoded.put(key, b, rec)
	}
	if c.local != nil {
		c.local.put(key, rec, memSize(rec, len(b)), gen)
	}
	return rec, nil
}

// memSize is what a decoded record costs in memory: the encoded size, or
// for an entry its decompressed body and header fields, whichever is
// larger (a compressed body may be a thousandth of its decoded size).
func memSize(rec any, encoded int) int {
	e, ok := rec.(*entry)
	if !ok {
		return encoded
	}
	n := len(e.Body)
	for k, vs := range e.Header {
		n += len(k)
		for _, v := range vs {
			n += len(v) + 16
		}
	}
	for _, v := range e.VaryValues {
		n += len(v) + 16
	}
	return max(n, encoded)
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func newNonce() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// save stores e under pk for ttl, writing or reusing the Vary index, and
// indexes it under tags. epoch is the purge epoch read before the origin
// was asked; if a purge ran since, the new entry is deleted again so that
// it cannot outlive the purge.
func (c *Cache) save(ctx context.Context, pk string, ix *varyIndex, e *entry, ttl time.Duration, tags []string, epoch int64) error {
	head := c.headKey(pk)
	key := head
	if len(e.VaryFields) > 0 {
		if ix == nil || !equalStrings(ix.Fields, e.VaryFields) {
			ix = &varyIndex{Fields: e.VaryFields, Nonce: newNonce()}
		}
		idxTTL := max(ttl, 10*time.Minute)
		if err := c.call(ctx, func(ctx context.Context) error {
			return c.s.Set(ctx, head, encodeIndex(ix), idxTTL)
		}); err != nil {
			return err
		}
		c.local.evict(head)
		c.publish(ctx, head)
		key = c.variantKey(pk, ix.Nonce, e.VaryValues)
	}
	b := encodeEntry(e)
	if err := c.call(ctx, func(ctx context.Context) error { return c.s.Set(ctx, key, b, ttl) }); err != nil {
		return err
	}
	c.local.evict(key)
	c.publish(ctx, key)
	tags = uniqueTags(tags)
	if len(tags) == 0 {
		return nil
	}
	for _, t := range tags {
		var card int64
		err := c.call(ctx, func(ctx context.Context) error {
			v, err := c.s.Eval(ctx, tagAddScript, []string{c.tagKey(t)}, ttl.Milliseconds(), key)
			card, _ = store.Int64(v)
			return err
		})
		if err != nil {
			// An entry missing from its tag index could outlive a purge
			// of that tag: take it out again.
			_ = c.deleteKeys(context.WithoutCancel(ctx), key)
			return err
		}
		c.maybePrune(ctx, t, card)
	}
	now, err := c.epoch(ctx)
	if err != nil || now != epoch {
		// A purge ran while this response was fetched or stored: it may
		// have missed the new entry, so drop it.
		_ = c.call(ctx, func(ctx context.Context) error {
			_, err := c.s.Delete(ctx, key)
			return err
		})
		c.local.evict(key)
		c.publish(ctx, key)
	}
	return nil
}

func (c *Cache) tagKey(tag string) string { return c.ks.Key("tag:" + tag) }
func (c *Cache) epochKey() string         { return c.ks.Key("epoch") }

// epoch returns the purge epoch, which every tag purge increments.
func (c *Cache) epoch(ctx context.Context) (int64, error) {
	var n int64
	err := c.call(ctx, func(ctx context.Context) error {
		b, found, err := c.s.Get(ctx, c.epochKey())
		if err != nil || !found {
			return err
		}
		n, err = strconv.ParseInt(string(b), 10, 64)
		return err
	})
	return n, err
}

// deleteKeys removes keys from Redis and from every instance's local tier.
func (c *Cache) deleteKeys(ctx context.Context, keys ...string) error {
	if len(keys) == 0 {
		return nil
	}
	err := c.call(ctx, func(ctx context.Context) error {
		_, err := c.s.Delete(ctx, keys...)
		return err
	})
	for _, k := range keys {
		c.local.evict(k)
		c.publish(ctx, k)
	}
	return err
}

func (c *Cache) report(ctx context.Context, r *http.Request, err error) {
	if err == nil || c.opts.ErrorFunc == nil || errors.Is(err, context.Canceled) {
		return
	}
	c.opts.ErrorFunc(r, err)
}
