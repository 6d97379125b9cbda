// Package memberleft is the one "a member left the fleet" signal. The
// composition root hands Hooks.Left to the cluster provider (its OnRemove),
// which calls it once a member's engagement has ended for good: its Secret
// was deleted, unlabelled or replaced, or the manager is stopping. Every
// structure that keeps state per member (metrics series, controller indexes)
// registers a func with Add to drop that member's state, instead of each
// tracking engagements on its own.
package memberleft

import "sync"

// Hooks fans one member-left call out to every registered func. The zero
// value is ready to use; a nil *Hooks ignores Add, so components built
// without it (unit tests) keep their state.
type Hooks struct {
	mu  sync.Mutex
	fns []func(name string)
}

// Add registers fn to run, in registration order, each time a member leaves.
// fn must not block: the provider waits for it.
func (h *Hooks) Add(fn func(name string)) {
	if h == nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.fns = append(h.fns, fn)
}

// Left reports that the member called name left the fleet.
func (h *Hooks) Left(name string) {
	if h == nil {
		return
	}
	h.mu.Lock()
	fns := append([]func(string){}, h.fns...)
	h.mu.Unlock()
	for _, fn := range fns {
		fn(name)
	}
}
