package subloop

import (
	"context"
	"sync"

	"github.com/rediware/rediware/store"
)

// Subscribe makes a Loop for cfg, registers it with track and starts it:
// the common body of a backend's Subscribe. track fails (false) when the
// Store is closed; untrack is called once when the Loop closes. After a
// failed Start the Loop is closed, so untracked, already.
func Subscribe(ctx context.Context, cfg Config, track func(*Loop) bool, untrack func(*Loop)) (store.Subscription, error) {
	var l *Loop
	onClose := cfg.OnClose
	cfg.OnClose = func() {
		untrack(l)
		if onClose != nil {
			onClose()
		}
	}
	l = New(cfg)
	if !track(l) {
		return nil, store.ErrClosed
	}
	if err := l.Start(ctx); err != nil {
		return nil, err
	}
	return l, nil
}

// Set holds a Store's open Loops so that the Store's Close can end them.
// The zero Set is empty and open.
type Set struct {
	mu     sync.Mutex
	closed bool
	loops  map[*Loop]struct{}
}

// Subscribe is the package's Subscribe with the Loop kept in s until it
// closes. It fails with store.ErrClosed after Close.
func (s *Set) Subscribe(ctx context.Context, cfg Config) (store.Subscription, error) {
	return Subscribe(ctx, cfg, s.add, s.remove)
}

func (s *Set) add(l *Loop) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	if s.loops == nil {
		s.loops = make(map[*Loop]struct{})
	}
	s.loops[l] = struct{}{}
	return true
}

func (s *Set) remove(l *Loop) {
	s.mu.Lock()
	delete(s.loops, l)
	s.mu.Unlock()
}

// Close closes every Loop in s; later Subscribe calls fail with
// store.ErrClosed. It is safe to call more than once.
func (s *Set) Close() {
	s.mu.Lock()
	s.closed = true
	loops := s.loops
	s.loops = nil
	s.mu.Unlock()
	for l := range loops {
		l.Close()
	}
}

// Len returns how many Loops s holds.
func (s *Set) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.loops)
}
