package responsecache

import (
	"container/list"
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rediware/rediware/store"
)

// localTier is an in-process LRU of decoded records, bounded in bytes.
// Records are immutable once stored. It is active only while its
// invalidation subscription is live, so that it can never serve what
// another instance has replaced or purged.
type localTier struct {
	mu     sync.Mutex
	max    int64
	size   int64
	ll     *list.List
	m      map[string]*list.Element
	active atomic.Bool
	// gen counts evictions and flushes. A fill records it before reading
	// Redis and is dropped if it changed meanwhile, so an invalidation
	// that arrives during the read cannot be overwritten by the old value.
	gen uint64
}

type localItem struct {
	key  string
	rec  any
	size int64
	exp  time.Time
}

func newLocalTier(max int64) *localTier {
	return &localTier{max: max, ll: list.New(), m: make(map[string]*list.Element)}
}

// localMaxAge bounds how long a record stays in the local tier.
const localMaxAge = 5 * time.Minute

// get returns the record under key at time now.
func (l *localTier) get(key string, now time.Time) (any, bool) {
	if l == nil || !l.active.Load() {
		return nil, false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.getLocked(l.m[key], now)
}

// getBytes is get for a key held in bytes (the map lookup does not
// allocate).
func (l *localTier) getBytes(key []byte, now time.Time) any {
	if l == nil || !l.active.Load() {
		return nil
	}
	l.mu.Lock()
	rec, _ := l.getLocked(l.m[string(key)], now)
	l.mu.Unlock()
	return rec
}

func (l *localTier) getLocked(el *list.Element, now time.Time) (any, bool) {
	if el == nil {
		return nil, false
	}
	it := el.Value.(*localItem)
	if now.After(it.exp) {
		l.remove(el)
		return nil, false
	}
	l.ll.MoveToFront(el)
	return it.rec, true
}

// generation returns the eviction counter, to pass to put.
func (l *localTier) generation() uint64 {
	if l == nil {
		return 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.gen
}

func (l *localTier) put(key string, rec any, size int, gen uint64) {
	if l == nil || !l.active.Load() || int64(size) > l.max/4 {
		return
	}
	sz := int64(size + len(key) + 64)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.gen != gen {
		return // something was invalidated while this value was read
	}
	if el, ok := l.m[key]; ok {
		l.remove(el)
	}
	l.m[key] = l.ll.PushFront(&localItem{key: key, rec: rec, size: sz, exp: time.Now().Add(localMaxAge)})
	l.size += sz
	for l.size > l.max {
		l.remove(l.ll.Back())
	}
}

// charge adds n bytes to the size of rec, held under key (memory a record
// gained after it was put: a Vary index's variants), evicting as needed.
func (l *localTier) charge(key string, rec any, n int) {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	el, ok := l.m[key]
	if !ok || el.Value.(*localItem).rec != rec {
		return
	}
	el.Value.(*localItem).size += int64(n)
	l.size += int64(n)
	for l.size > l.max && l.ll.Len() > 0 {
		l.remove(l.ll.Back())
	}
}

func (l *localTier) remove(el *list.Element) {
	it := el.Value.(*localItem)
	l.ll.Remove(el)
	delete(l.m, it.key)
	l.size -= it.size
}

func (l *localTier) evict(key string) {
	if l == nil {
		return
	}
	l.mu.Lock()
	l.gen++
	if el, ok := l.m[key]; ok {
		l.remove(el)
	}
	l.mu.Unlock()
}

func (l *localTier) flush() {
	if l == nil {
		return
	}
	l.mu.Lock()
	l.gen++
	l.ll.Init()
	clear(l.m)
	l.size = 0
	l.mu.Unlock()
}

func (c *Cache) channel() string { return c.ks.Prefix + ":invalidate" }

// publish tells every instance's local tier to drop key.
func (c *Cache) publish(ctx context.Context, key string) {
	if c.local == nil {
		return
	}
	_ = c.call(context.WithoutCancel(ctx), func(ctx context.Context) error {
		_, err := c.s.Publish(ctx, c.channel(), []byte(c.instance+" "+key))
		return err
	})
}

// subscribe keeps the invalidation subscription up for as long as ctx
// lives. The local tier is active only while subscribed, and flushed on
// every (re)connection.
func (c *Cache) subscribe(ctx context.Context) {
	for ctx.Err() == nil {
		sub, err := c.s.Subscribe(ctx, []string{c.channel()}, nil)
		if err != nil {
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Second):
				continue
			}
		}
		c.local.flush()
		c.local.active.Store(true)
		for m := range sub.Messages() {
			switch m.Kind {
			case store.Reconnected:
				c.local.flush()
			case store.Published:
				from, key, ok := strings.Cut(string(m.Payload), " ")
				switch {
				case !ok:
					c.local.flush() // not ours to parse: be safe
				case from == c.instance:
					// Our own message: the key was evicted when it was
					// sent, and evicting again would drop fills made since.
				case key == "*":
					c.local.flush()
				default:
					c.local.evict(key)
				}
			}
		}
		c.local.active.Store(false)
		c.local.flush()
		_ = sub.Close()
	}
}
