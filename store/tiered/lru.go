package tiered

import (
	"hash/maphash"
	"slices"
	"sync"
	"time"
)

// node is one local entry, in a doubly linked list by recency.
type node[V any] struct {
	key        string
	val        V
	notFound   bool
	expires    int64 // unix nanoseconds
	size       int64
	tags       []string
	prev, next *node[V]
}

// lru is the local tier: a map plus a recency list, bounded by entries and
// bytes, with an invalidation log that stops a fill started before an
// invalidation from installing an old value after it.
type lru[V any] struct {
	maxEntries int
	maxBytes   int64

	mu    sync.Mutex
	items map[string]*node[V]
	head  node[V] // sentinel: head.next is the most recent
	bytes int64

	// epoch counts invalidations applied. A fill records it before it
	// reads Redis and may install only if no invalidation since then
	// concerned its key.
	epoch      uint64
	flushEpoch uint64 // the epoch of the last flush (or pattern/tag drop)
	ring       [512]invalidation
	seed       maphash.Seed
}

type invalidation struct {
	hash  uint64
	epoch uint64
}

func newLRU[V any](maxEntries int, maxBytes int64) *lru[V] {
	l := &lru[V]{maxEntries: maxEntries, maxBytes: maxBytes, items: make(map[string]*node[V]), seed: maphash.MakeSeed()}
	l.head.next, l.head.prev = &l.head, &l.head
	return l
}

// get returns the live entry for key. It does not allocate. now is the
// coarse clock; within clockSlack of an entry's expiry the real clock is
// read instead, so that a coarse clock left behind by a stalled ticker
// (a loaded machine, a GC pause) cannot serve an expired entry.
func (l *lru[V]) get(key string, now int64) (*node[V], bool) {
	l.mu.Lock()
	n, ok := l.items[key]
	if !ok {
		l.mu.Unlock()
		return nil, false
	}
	if now >= n.expires-int64(clockSlack) {
		now = time.Now().UnixNano()
	}
	if now >= n.expires {
		l.remove(n)
		l.mu.Unlock()
		return nil, false
	}
	if l.head.next != n {
		n.prev.next, n.next.prev = n.next, n.prev
		n.next, n.prev = l.head.next, &l.head
		l.head.next.prev = n
		l.head.next = n
	}
	l.mu.Unlock()
	return n, true
}

// snapshot returns the current epoch, to pass to install.
func (l *lru[V]) snapshot() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.epoch
}

// install adds an entry read from Redis, unless an invalidation of key (or
// a flush) was applied since epoch e0. It reports whether it installed.
func (l *lru[V]) install(n *node[V], e0 uint64) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.flushEpoch > e0 {
		return false
	}
	if l.epoch != e0 {
		if l.epoch-e0 > uint64(len(l.ring)) {
			return false // the log no longer covers the gap
		}
		h := maphash.String(l.seed, n.key)
		for _, inv := range l.ring {
			if inv.epoch > e0 && inv.hash == h {
				return false
			}
		}
	}
	if old, ok := l.items[n.key]; ok {
		l.remove(old)
	}
	if l.maxBytes > 0 && n.size > l.maxBytes {
		return false
	}
	l.items[n.key] = n
	n.next, n.prev = l.head.next, &l.head
	l.head.next.prev = n
	l.head.next = n
	l.bytes += n.size
	for len(l.items) > l.maxEntries || (l.maxBytes > 0 && l.bytes > l.maxBytes) {
		l.remove(l.head.prev)
	}
	return true
}

func (l *lru[V]) remove(n *node[V]) {
	n.prev.next, n.next.prev = n.next, n.prev
	n.prev, n.next = nil, nil
	delete(l.items, n.key)
	l.bytes -= n.size
}

// drop removes keys and logs their invalidation.
func (l *lru[V]) drop(keys []string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	dropped := 0
	for _, k := range keys {
		l.epoch++
		l.ring[l.epoch%uint64(len(l.ring))] = invalidation{hash: maphash.String(l.seed, k), epoch: l.epoch}
		if n, ok := l.items[k]; ok {
			l.remove(n)
			dropped++
		}
	}
	return dropped
}

// dropIf removes the entries for which match is true, and, since it cannot
// know the keys of fills in flight, refuses every fill started before.
func (l *lru[V]) dropIf(match func(*node[V]) bool) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.epoch++
	l.flushEpoch = l.epoch
	dropped := 0
	for n := l.head.next; n != &l.head; {
		next := n.next
		if match == nil || match(n) {
			l.remove(n)
			dropped++
		}
		n = next
	}
	return dropped
}

func (l *lru[V]) flush() int { return l.dropIf(nil) }

func (l *lru[V]) dropPattern(pattern string) int {
	return l.dropIf(func(n *node[V]) bool { return globMatch(pattern, n.key) })
}

func (l *lru[V]) dropTags(tags []string) int {
	return l.dropIf(func(n *node[V]) bool {
		for _, t := range tags {
			if slices.Contains(n.tags, t) {
				return true
			}
		}
		return false
	})
}

func (l *lru[V]) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.items)
}
