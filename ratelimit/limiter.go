package ratelimit

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rediware/rediware/store"
)

//go:embed allow.lua
var allowLua string

var allowScript = store.NewScript(allowLua)

// gcra.lua is the same decision for a limiter with a single GCRA policy
// (the default configuration), with less Lua to run.
//
//go:embed gcra.lua
var gcraLua string

var gcraScript = store.NewScript(gcraLua)

var (
	// ErrInvalidCost is returned by AllowN for a negative cost.
	ErrInvalidCost = errors.New("ratelimit: invalid cost")
	// ErrInvalidKey is returned by AllowN for an empty key.
	ErrInvalidKey = errors.New("ratelimit: invalid key")
	// ErrUnexpectedReply is returned when the script's reply does not have
	// the expected shape (a bug, or a foreign script under the same SHA).
	ErrUnexpectedReply = errors.New("ratelimit: unexpected reply from redis")
)

// FailurePolicy decides requests while Redis is unavailable (connection
// refused or reset, timeouts, circuit open).
type FailurePolicy uint8

// Failure policies. The zero value is FailureLocal.
const (
	// FailureLocal decides with an in-process limiter that runs the same
	// algorithms on the same policies, per instance: with N instances a
	// client gets at most N times its limit while Redis is down. This is
	// the default: it keeps abusive clients in check without turning a
	// Redis outage into an API outage.
	FailureLocal FailurePolicy = iota
	// FailOpen admits every request without counting.
	FailOpen
	// FailClosed refuses every request; the middleware answers 503.
	FailClosed
)

// String returns "local", "open" or "closed".
func (f FailurePolicy) String() string {
	switch f {
	case FailOpen:
		return "open"
	case FailClosed:
		return "closed"
	default:
		return "local"
	}
}

// Options configures a Limiter. The zero value, with at least one limit,
// is ready to use.
type Options struct {
	// Name identifies the limiter in keys and in Decision: visible ASCII
	// without braces or ':'. Limiters that share a store must have
	// different names, unless they are meant to share counters. Default:
	// "default".
	Name string
	// Prefix starts every key. Default: "rl". Keys have the form
	// "{<prefix>:<name>:<key>}:<policy>:<algorithm>", so all the policies of
	// one client share a hash tag and are decided in one script call, on
	// Redis Cluster too.
	Prefix string
	// Limits are the policies. A request is admitted only if every policy
	// admits it. At least one is required.
	Limits []Limit
	// Failure decides requests while Redis is unavailable. Default:
	// FailureLocal.
	Failure FailurePolicy
	// Breaker stops calls to Redis for a while after repeated failures, so
	// that a dead Redis does not cost every request a timeout. Default: a
	// store.Breaker of its own with store's defaults (5 failures, 1s
	// cooldown). Limiters may share one.
	Breaker *store.Breaker
	// Timeout bounds each call to Redis, through the call's context: the
	// client must honour context deadlines (go-redis only does with
	// ContextTimeoutEnabled, which goredis.Open sets; otherwise a call to
	// a hung server waits for the client's ReadTimeout). Default: 0, no
	// timeout beyond the caller's context and the client's own read and
	// write timeouts (a timeout costs two allocations per decision).
	Timeout time.Duration
	// LocalMaxKeys bounds the number of keys (one per client and policy)
	// the fallback limiter tracks. Expired entries are swept now and then;
	// when a new key would exceed the bound, arbitrary entries other than
	// the request's own are evicted, so a flood of new clients during an
	// outage can reset other clients' local counts (never the shared ones
	// in Redis). An entry is a few numbers, except for SlidingWindowLog,
	// whose entry holds up to Rate timestamps of 8 bytes. Default: 100000.
	LocalMaxKeys int
	// KeyClass labels what keys this limiter is keyed by ("ip", "user",
	// "api-key"), for Decision. Default: "key".
	KeyClass string
	// OnDecision, if set, is called after every decision, synchronously:
	// keep it fast (a counter increment).
	OnDecision func(Decision)
	// Batch makes concurrent decisions of this limiter share script calls:
	// while calls are in flight (up to two at once), the decisions that
	// arrive queue up and go to Redis together, in one script run that decides each of them
	// exactly as if alone (each all or nothing, in arrival order). A lone
	// caller is not delayed. It multiplies throughput under concurrency.
	// On Redis Cluster a batch whose keys span slots is refused with
	// CROSSSLOT; the limiter then turns batching off by itself and
	// decides one by one. Default: false.
	Batch bool
	// BatchSize caps the decisions in one batch. Default: 128.
	BatchSize int
}

// Limiter decides whether requests may proceed under one or more policies
// held in Redis. It is safe for concurrent use.
type Limiter struct {
	s        store.Store
	name     string
	class    string
	prefix   string
	limits   []Limit
	suffixes []string // ":<policy>:<algorithm>" per limit
	static   []any    // per-limit script arguments, boxed once
	failure  FailurePolicy
	breaker  *store.Breaker
	timeout  time.Duration
	local    *localLimiter
	hook     func(Decision)
	script   *store.Script
	batch    *batcher // nil unless Options.Batch
	opts     Options  // as given, for With

	bufs sync.Pool // *evalBuf

	// nowHook, set only by tests, makes the script use the given clock
	// instead of Redis TIME, and the fallback use it instead of time.Now.
	nowHook func() time.Time
}

type evalBuf struct {
	keys []string
	args []any
}

// New returns a Limiter over s enforcing limits, with default options. It
// panics if no limit is given or a limit is invalid: a programmer error.
func New(s store.Store, limits ...Limit) *Limiter {
	l, err := NewWithOptions(s, Options{Limits: limits})
	if err != nil {
		panic(err)
	}
	return l
}

// NewWithOptions returns a Limiter over s configured by opts.
func NewWithOptions(s store.Store, opts Options) (*Limiter, error) {
	if s == nil {
		return nil, errors.New("ratelimit: nil store")
	}
	if len(opts.Limits) == 0 {
		return nil, fmt.Errorf("%w: no limits", ErrInvalidLimit)
	}
	l := &Limiter{
		s:       s,
		name:    opts.Name,
		class:   opts.KeyClass,
		prefix:  opts.Prefix,
		failure: opts.Failure,
		breaker: opts.Breaker,
		timeout: opts.Timeout,
		hook:    opts.OnDecision,
		opts:    opts,
	}
	l.opts.Limits = nil
	if l.name == "" {
		l.name = "default"
	}
	if err := checkName(l.name); err != nil {
		return nil, fmt.Errorf("ratelimit: limiter %w", err)
	}
	if strings.IndexByte(l.name, ':') >= 0 {
		// The name is followed by ":<key>" inside the hash tag.
		return nil, fmt.Errorf("ratelimit: limiter name %q must not contain ':'", l.name)
	}
	if l.prefix == "" {
		l.prefix = "rl"
	}
	if strings.ContainsAny(l.prefix, "{}") {
		return nil, fmt.Errorf("ratelimit: prefix %q must not contain braces: they delimit the hash tag", l.prefix)
	}
	if l.class == "" {
		l.class = "key"
	}
	if l.breaker == nil {
		l.breaker = new(store.Breaker)
	}
	if opts.Failure > FailClosed {
		return nil, fmt.Errorf("ratelimit: unknown failure policy %d", opts.Failure)
	}
	seen := make(map[string]bool)
	for _, lim := range opts.Limits {
		lim, err := lim.normalise()
		if err != nil {
			return nil, err
		}
		if seen[lim.Name] {
			return nil, fmt.Errorf("%w: duplicate policy name %q", ErrInvalidLimit, lim.Name)
		}
		seen[lim.Name] = true
		l.limits = append(l.limits, lim)
		l.suffixes = append(l.suffixes, ":"+lim.Name+":"+lim.Algorithm.String())
		l.static = append(l.static,
			strconv.Itoa(lim.Algorithm.luaCode()),
			strconv.Itoa(lim.Rate),
			strconv.FormatInt(lim.Period.Microseconds(), 10),
			strconv.Itoa(lim.Burst))
	}
	l.script = allowScript
	if len(l.limits) == 1 && l.limits[0].Algorithm == GCRA {
		l.script = gcraScript
	}
	if opts.Batch {
		l.batch = newBatcher(l, opts.BatchSize)
	}
	max := opts.LocalMaxKeys
	if max <= 0 {
		max = 100000
	}
	l.local = newLocalLimiter(max)
	np := len(l.limits)
	l.bufs.New = func() any {
		b := &evalBuf{keys: make([]string, np), args: make([]any, 2+4*np)}
		copy(b.args[2:], l.static)
		return b
	}
	return l, nil
}

// With returns a limiter that decides l's policies and limits together, in
// one script call, all or nothing: a request that any of them denies
// consumes nothing in any of them. It has l's name and options and shares
// l's breaker and local fallback, so l's policies keep one budget per
// client whichever of the two limiters decides.
//
// Use it for a route with a tighter limit on top of a global one: put the
// global limiter on the other routes and the With limiter alone on the
// route. Stacking two middlewares instead (a global r.Use and a route
// r.With) makes two decisions, and the global one has already charged a
// request when the route one denies it.
//
//	global, _ := ratelimit.NewWithOptions(s, ratelimit.Options{Name: "api", Limits: globalLimits})
//	search, _ := global.With(ratelimit.PerMinute(30).WithName("search"))
//	r.Group(func(r chi.Router) {
//		r.Use(ratelimit.Middleware(global, byIP))
//		r.Get("/", home)
//	})
//	r.With(ratelimit.Middleware(search, byIP)).Get("/search", searchHandler)
//
// Both decide under the one client key the middleware finds: limits keyed
// differently (per user and per address) stay in stacked limiters.
//
// The policy names of limits must differ from l's (ErrInvalidLimit).
func (l *Limiter) With(limits ...Limit) (*Limiter, error) {
	o := l.opts
	o.Limits = append(append(make([]Limit, 0, len(l.limits)+len(limits)), l.limits...), limits...)
	o.Breaker = l.breaker
	w, err := NewWithOptions(l.s, o)
	if err != nil {
		return nil, err
	}
	w.local = l.local
	w.nowHook = l.nowHook
	return w, nil
}

// Name returns the limiter's name.
func (l *Limiter) Name() string { return l.name }

// Limits returns the limiter's policies with defaults filled in.
func (l *Limiter) Limits() []Limit { return append([]Limit(nil), l.limits...) }

// Allow is AllowN(ctx, key, 1).
func (l *Limiter) Allow(ctx context.Context, key string) (*Result, error) {
	return l.AllowN(ctx, key, 1)
}

// AllowN decides whether a request of cost n by key may proceed, consuming n
// units from every policy if and only if all of them admit it. A cost of 0
// inspects the state without consuming.
//
// The decision is one script call, one round trip, using the Redis clock.
// If Redis is unavailable the failure policy decides and the error that
// caused it is in Result.Err; AllowN then still returns a nil error. AllowN
// returns an error only when no decision could be made: an invalid cost or
// key, a canceled context, or an unexpected reply (such as WRONGTYPE from a
// foreign value under the limiter's keys).
func (l *Limiter) AllowN(ctx context.Context, key string, n int) (*Result, error) {
	if key == "" {
		return nil, fmt.Errorf("%w: empty key", ErrInvalidKey)
	}
	res := new(Result)
	b := l.bufs.Get().(*evalBuf)
	buildKeys(l, b.keys, key)
	err := l.decide(ctx, b, n, res)
	l.bufs.Put(b)
	if err != nil {
		return nil, err
	}
	return res, nil
}

// decide fills res for the keys in b.
func (l *Limiter) decide(ctx context.Context, b *evalBuf, n int, res *Result) error {
	res.reset(len(l.limits))
	if n < 0 {
		err := fmt.Errorf("%w: %d", ErrInvalidCost, n)
		l.report(res, err)
		return err
	}

	var err error
	switch {
	case l.batch != nil && !l.batch.disabled.Load():
		// The batch consults the breaker once per script call.
		err = l.batch.do(ctx, b.keys, n, res)
	case l.breaker.Allow():
		trial := l.breaker.State() == store.BreakerHalfOpen
		err = unavailableReply(l.guardedEval(ctx, b, n, res))
		if l.record(ctx, trial, err) {
			l.report(res, ctx.Err())
			return ctx.Err()
		}
	default:
		err = store.ErrCircuitOpen
	}
	if err == nil {
		res.summarise()
		l.report(res, nil)
		return nil
	}
	if !errors.Is(err, store.ErrUnavailable) {
		l.report(res, err)
		return err
	}
	res.Err = err
	switch l.failure {
	case FailOpen:
		for i := range res.Policies {
			res.Policies[i] = PolicyResult{Limit: l.limits[i], Allowed: true, Remaining: l.limits[i].Rate}
		}
		res.summarise()
		res.Source = SourceFailOpen
	case FailClosed:
		for i := range res.Policies {
			res.Policies[i] = PolicyResult{Limit: l.limits[i], RetryAfter: l.breakerCooldown()}
		}
		res.summarise()
		res.Source = SourceFailClosed
	default:
		l.local.allow(l.now(), b.keys, l.limits, n, res.Policies)
		res.summarise()
		res.Source = SourceLocal
	}
	l.report(res, nil)
	return nil
}

// record reports to the breaker the outcome of a call it allowed; trial
// tells whether that call was the half-open trial. It reports true, and
// records nothing that could close the breaker, when the call failed
// because the caller canceled: that says nothing about Redis. Recording
// the cancellation as a success would close an open breaker (or reset the
// failures counting towards opening it) while Redis is down; not recording
// a trial at all would leave the breaker waiting for it forever, so a
// canceled trial counts as failed and the breaker stays open for another
// cooldown.
func (l *Limiter) record(ctx context.Context, trial bool, err error) (canceled bool) {
	if err != nil && errors.Is(ctx.Err(), context.Canceled) {
		if trial {
			l.breaker.Record(store.ErrUnavailable)
		}
		return true
	}
	l.breaker.Record(err)
	return false
}

func (l *Limiter) breakerCooldown() time.Duration {
	if l.breaker.Cooldown > 0 {
		return l.breaker.Cooldown
	}
	return time.Second
}

func (l *Limiter) now() time.Time {
	if l.nowHook != nil {
		return l.nowHook()
	}
	return time.Now()
}

// guardedEval is eval for a call the breaker allowed. If the store panics
// (a bug in it), the breaker records a failure before the panic goes on:
// a half-open trial that never reported would make the breaker refuse
// every later call, leaving the limiter on its failure policy for good.
func (l *Limiter) guardedEval(ctx context.Context, b *evalBuf, n int, res *Result) error {
	returned := false
	defer func() {
		if !returned {
			l.breaker.Record(store.ErrUnavailable)
		}
	}()
	err := l.eval(ctx, b, n, res)
	returned = true
	return err
}

// eval runs the script and parses its reply into res.Policies.
func (l *Limiter) eval(ctx context.Context, b *evalBuf, n int, res *Result) error {
	b.args[0] = n
	b.args[1] = ""
	if l.nowHook != nil {
		b.args[1] = strconv.FormatInt(l.nowHook().UnixMicro(), 10)
	}
	if l.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, l.timeout)
		defer cancel()
	}
	v, err := l.s.Eval(ctx, l.script, b.keys, b.args...)
	if err != nil {
		return err
	}
	a, ok := v.([]any)
	if !ok || len(a) != 1+4*len(l.limits) {
		return fmt.Errorf("%w: %T of length %d", ErrUnexpectedReply, v, len(a))
	}
	return l.parse(a, res)
}

// parse reads one decision's reply, {allowed, then 4 integers per policy},
// into res.Policies.
func (l *Limiter) parse(a []any, res *Result) error {
	for i := range res.Policies {
		var f [4]int64
		for j := range f {
			x, ok := a[1+4*i+j].(int64)
			if !ok {
				return fmt.Errorf("%w: element %d is %T", ErrUnexpectedReply, 1+4*i+j, a[1+4*i+j])
			}
			f[j] = x
		}
		res.Policies[i] = policyResult(l.limits[i], f[0] == 1, f[1], f[2], f[3])
	}
	res.Source = SourceRedis
	return nil
}

// policyResult converts the script's integers (microseconds) to a
// PolicyResult.
func policyResult(lim Limit, fits bool, remaining, retryUS, resetUS int64) PolicyResult {
	p := PolicyResult{Limit: lim, Allowed: fits, Remaining: int(max(remaining, 0))}
	switch {
	case retryUS < 0:
		p.RetryAfter = Never
	case !fits:
		// at least 1µs: a denied request never has a zero wait
		p.RetryAfter = time.Duration(max(retryUS, 1)) * time.Microsecond
	}
	p.ResetAfter = time.Duration(max(resetUS, 0)) * time.Microsecond
	return p
}

func (l *Limiter) report(res *Result, err error) {
	if l.hook == nil {
		return
	}
	d := Decision{Limiter: l.name, Class: l.class, Source: res.Source, Err: res.Err}
	switch {
	case err != nil:
		d.Outcome, d.Source, d.Err = Errored, SourceRedis, err
	case res.Allowed:
		d.Outcome, d.Policy = Allowed, res.Policy
	default:
		d.Outcome, d.Policy = Denied, res.Policy
	}
	l.hook(d)
}

// unavailableReply wraps in store.ErrUnavailable a Redis error reply that
// means "not now" rather than "wrong": a server loading its data set, a
// busy script, a cluster or replica link down, a write sent to a replica
// during a failover. These go to the failure policy and count for the
// breaker.
func unavailableReply(err error) error {
	if err == nil {
		return nil
	}
	for _, p := range [...]string{"LOADING", "BUSY", "CLUSTERDOWN", "MASTERDOWN", "TRYAGAIN", "READONLY", "NOREPLICAS"} {
		if store.IsRedisError(err, p) {
			return fmt.Errorf("%w: %w", store.ErrUnavailable, err)
		}
	}
	return err
}
