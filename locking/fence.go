package locking

import (
	"context"
	_ "embed"
	"fmt"
	"time"

	"github.com/rediware/rediware/store"
)

var (
	//go:embed fenced_set.lua
	fencedSetLua    string
	fencedSetScript = store.NewScript(fencedSetLua)
)

// FencedSet writes value under key only if fence is at least the fence of
// the last write, so that a holder whose lock expired (a GC pause, a
// partition) cannot overwrite what a later holder wrote:
//
//	lock, _ := locker.Obtain(ctx, "invoice:42", ttl, nil)
//	...
//	err := locking.FencedSet(ctx, s, "invoice:42:pdf", data, lock.Fence(), 0)
//	if errors.Is(err, locking.ErrStaleFence) { /* we lost the lock: stop */ }
//
// The value and the fence that wrote it are kept together in one hash at
// key (fields "v" and "f"), so the check and the write are one atomic
// script; read them back with FencedGet. Equal fences are accepted: they
// are the same holder writing again. ttl 0 means no expiry.
//
// The guarded resource here is Redis itself; for another resource (a SQL
// row, an object store), apply the same rule there: store the fence beside
// the data and refuse writes carrying a smaller one.
func FencedSet(ctx context.Context, s store.Store, key string, value []byte, fence int64, ttl time.Duration) error {
	if fence <= 0 {
		return fmt.Errorf("locking: invalid fence %d", fence)
	}
	if ttl < 0 {
		return fmt.Errorf("locking: %w: %v", store.ErrInvalidTTL, ttl)
	}
	var ms int64
	if ttl > 0 {
		ms = max(ttl.Milliseconds(), 1)
	}
	v, err := s.Eval(ctx, fencedSetScript, []string{key}, value, fence, ms)
	if err != nil {
		return fmt.Errorf("locking: fenced set %q: %w", key, err)
	}
	a, err := store.Int64s(v, 2)
	if err != nil {
		return fmt.Errorf("locking: fenced set %q: %w", key, err)
	}
	if a[0] != 1 {
		return fmt.Errorf("%w: fence %d is older than %d, written by a later holder of %q", ErrStaleFence, fence, a[1], key)
	}
	return nil
}

// FencedGet reads a value written by FencedSet and the fence that wrote
// it. A missing key is (nil, 0, false, nil).
func FencedGet(ctx context.Context, s store.Store, key string) (value []byte, fence int64, found bool, err error) {
	v, err := s.Eval(ctx, fencedGetScript, []string{key})
	if err != nil {
		return nil, 0, false, fmt.Errorf("locking: fenced get %q: %w", key, err)
	}
	if v == nil {
		return nil, 0, false, nil
	}
	a, err := store.Slice(v, 2)
	if err != nil {
		return nil, 0, false, fmt.Errorf("locking: fenced get %q: %w", key, err)
	}
	str, ok, err := store.String(a[0])
	if err != nil || !ok {
		return nil, 0, false, fmt.Errorf("locking: fenced get %q: value: %w", key, err)
	}
	if fence, err = store.Int64(a[1]); err != nil {
		return nil, 0, false, fmt.Errorf("locking: fenced get %q: fence: %w", key, err)
	}
	return []byte(str), fence, true, nil
}

// fencedGetScript is HMGET that answers nil for a missing key and an
// error for a key that is not a FencedSet hash.
var fencedGetScript = store.NewScript(`
local r = redis.call('HMGET', KEYS[1], 'v', 'f')
if not r[1] and not r[2] then return nil end
if not r[1] or not r[2] then return redis.error_reply('ERR not a FencedSet value') end
return r`)
