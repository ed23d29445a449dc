package session

import (
	"context"
	"crypto/rand"
	_ "embed"
	"encoding/hex"
	"fmt"
	mrand "math/rand/v2"
	"time"

	"github.com/rediware/rediware/store"
)

//go:embed unlock.lua
var unlockLua string

var unlockScript = store.NewScript(unlockLua)

// lockKey is the key of the per-session lock: LockPrefix and the same id
// as the session key (so hashed when HashTokens is on). It is outside the
// session prefix, so that iterating sessions never meets a lock.
func (m *Manager) lockKey(token string) string {
	return m.cfg.LockPrefix + m.store.id(token)
}

// lock takes the per-session lock of token, waiting up to LockWait, and
// returns the function that releases it. The lock is a key set with SET NX
// and a random owner value; release deletes it only if this request still
// owns it, so a request that outlived LockTTL cannot free another's lock.
func (m *Manager) lock(ctx context.Context, token string) (func(), error) {
	var b [16]byte
	_, _ = rand.Read(b[:])
	owner := hex.EncodeToString(b[:])
	key := m.lockKey(token)

	wctx, cancel := context.WithTimeout(ctx, m.lockWait)
	defer cancel()
	backoff := 2 * time.Millisecond
	for {
		cctx, ccancel := m.callCtx(wctx)
		ok, err := m.s.SetNX(cctx, key, []byte(owner), m.lockTTL)
		ccancel()
		if err != nil {
			if wctx.Err() != nil && ctx.Err() == nil {
				return nil, fmt.Errorf("%w: %v", ErrLockTimeout, err)
			}
			return nil, fmt.Errorf("session: lock: %w", err)
		}
		if ok {
			break
		}
		d := backoff/2 + mrand.N(backoff/2+1)
		t := time.NewTimer(d)
		select {
		case <-wctx.Done():
			t.Stop()
			if ctx.Err() != nil {
				return nil, fmt.Errorf("session: lock: %w: %w", store.ErrUnavailable, ctx.Err())
			}
			return nil, ErrLockTimeout
		case <-t.C:
		}
		if backoff < 50*time.Millisecond {
			backoff *= 2
		}
	}
	return func() {
		// The request's context may be done by now; the release must still run.
		rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), m.releaseTimeout())
		defer rcancel()
		if _, err := m.s.Eval(rctx, unlockScript, []string{key}, owner); err != nil {
			m.logger.WarnContext(ctx, "session: releasing the session lock failed; it expires after LockTTL", "err", err)
		}
	}, nil
}

func (m *Manager) releaseTimeout() time.Duration {
	if m.lockTimeout > 0 {
		return m.lockTimeout
	}
	return time.Second
}

func (m *Manager) callCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	if m.lockTimeout > 0 {
		return context.WithTimeout(ctx, m.lockTimeout)
	}
	return ctx, func() {}
}
